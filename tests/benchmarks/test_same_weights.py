"""benchmarks.same_weights: the comparison of two runs' checkpoints and reports."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from benchmarks.same_weights import _numbers, compare


def _run(folder, weights: dict[str, dict[str, torch.Tensor]], report: dict):
    for step, tensors in weights.items():
        (folder / "checkpoints" / step).mkdir(parents=True)
        save_file(tensors, str(folder / "checkpoints" / step / "model.safetensors"))
    (folder / "eval.json").write_text(json.dumps(report))
    return folder


def test_identical_runs_and_a_differing_tensor(tmp_path):
    a = {"step000000001": {"w": torch.tensor([1.0, 2.0]), "b": torch.zeros(0)}}
    b = {"step000000001": {"w": torch.tensor([1.0, 2.5]), "b": torch.zeros(0)}}
    report = {"results": {"goal": {"task1": 0.5}}, "train_seconds": 3.0, "curve": [{"step": 1, "train_seconds": 1.0}]}
    same = compare(_run(tmp_path / "a", a, report), _run(tmp_path / "a2", a, {**report, "train_seconds": 9.0}))
    assert same["checkpoints"]["step000000001"] == {"tensors": 2, "max_abs_difference": 0.0, "identical": True}
    assert same["report_equal"] and same["report_numbers"] == 2  # the times are left out
    other = compare(
        _run(tmp_path / "b", b, {**report, "results": {"goal": {"task1": 0.4}}, "final_distance": 2.0}), tmp_path / "a"
    )
    assert (
        other["checkpoints"]["step000000001"]["max_abs_difference"] == 0.5
        and not other["checkpoints"]["step000000001"]["identical"]
    )
    assert other["report_differing"] == ["results.goal.task1"] and other["report_added"] == ["final_distance"]
    assert not other["report_equal"]


def test_runs_that_kept_other_checkpoints_are_refused(tmp_path):
    a = _run(tmp_path / "a", {"step000000001": {"w": torch.ones(1)}}, {})
    b = _run(tmp_path / "b", {"step000000002": {"w": torch.ones(1)}}, {})
    with pytest.raises(SystemExit, match="the runs kept different checkpoints"):
        compare(a, b)


def test_numbers_flattens_reports_without_times_or_flags():
    assert _numbers({"a": 1, "b": [2.5, {"c": 3}], "seconds": 4, "ok": True, "name": "x"}) == {"a": 1, "b.0": 2.5, "b.1.c": 3}
