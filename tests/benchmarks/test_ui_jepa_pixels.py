"""benchmarks.ui_jepa_pixels: the UI intent probe's ceiling on raw and pooled pixels."""

from __future__ import annotations

import torch

from benchmarks import ui_jepa_pixels


def test_hyperframe_means_are_the_mean_colour_of_each_tubelet_step():
    video = torch.zeros(1, 4, 3, 2, 2, dtype=torch.uint8)
    video[0, 0, 0] = 10  # frame 0, red: 10 everywhere
    video[0, 1, 0, 0, 0] = 20  # frame 1, red: one pixel of 4
    video[0, 3, 2] = 8  # frame 3, blue
    means = ui_jepa_pixels.hyperframe_means(video, tubelet=2)
    # step 0 (frames 0-1): red (4 x 10 + 20) / 8 = 7.5; step 1 (frames 2-3): blue 4 x 8 / 8 = 4
    assert means.tolist() == [[7.5, 0.0, 0.0, 0.0, 0.0, 4.0]]


def test_linear_probe_reads_a_separable_input_and_counts_families():
    names = ["call Bob", "call Alice", "take a photo"]
    x = torch.eye(3).repeat(10, 1).numpy()
    y = torch.arange(3).repeat(10).numpy()
    result = ui_jepa_pixels.linear_probe(x, y, x, names, y)
    assert result["accuracy"] == 1.0 and result["family_accuracy"] == 1.0
    assert sum(c for *_, c in result["confusion"]) == 30
