"""Observation standardisation: hand-computed statistics, the fixed fitting set, and the encoder option."""

import pytest
import torch

from representations.encoders import make_encoder
from representations.encoders.standardize import ObservationStandardizer, fit_standardizer


def test_fit_and_forward_hand_computed():
    enc = ObservationStandardizer(2)
    enc.fit(torch.tensor([[0.0, 5.0], [2.0, 5.0], [4.0, 5.0]]))
    # column 0: mean 2, sample std 2; column 1 is constant: std floored at 1e-3.
    assert enc.mean.tolist() == [2.0, 5.0]
    assert enc.std.tolist() == pytest.approx([2.0, 1e-3])
    assert enc(torch.tensor([[4.0, 5.0]]))[0].tolist() == pytest.approx([1.0, 0.0])


def test_layer_norm_first_layer_is_blind_to_scale_without_it():
    # Why it matters: with zero biases LayerNorm(W s) only sees the direction of s.
    layer = torch.nn.Sequential(torch.nn.Linear(2, 8, bias=False), torch.nn.LayerNorm(8))
    s = torch.tensor([[1.0, 2.0]])
    assert torch.allclose(layer(s), layer(10 * s), atol=1e-5)


class _Buffer:
    def __init__(self, obs):
        self.obs, self.valid = obs, torch.arange(0, 2 * len(obs), 2)  # storage rows 0, 2, 4, ...

    def __len__(self):
        return len(self.valid)

    def gather(self, index):
        return {"observation": self.obs[index // 2]}


def test_fit_standardizer_uses_evenly_spaced_valid_rows():
    obs = torch.arange(10.0).reshape(10, 1)
    enc = ObservationStandardizer(1)
    fit_standardizer(enc, _Buffer(obs), samples=4)  # rows 0, 3, 6, 9 (linspace over the 10 valid transitions)
    assert enc.mean.item() == pytest.approx(4.5)
    assert enc.std.item() == pytest.approx(torch.tensor([0.0, 3.0, 6.0, 9.0]).std().item())


def test_encoder_option():
    enc, dim = make_encoder({"name": "identity", "standardize": True}, (3,))
    assert isinstance(enc, ObservationStandardizer) and dim == 3
    enc, _ = make_encoder({"name": "auto", "standardize": False}, (3,))
    assert isinstance(enc, torch.nn.Identity)


def test_fourier_features_hand_computed():
    enc = ObservationStandardizer(1, fourier_features=1)
    enc.frequencies.fill_(0.25)  # a quarter cycle per standard deviation
    enc.fit(torch.tensor([[0.0], [2.0], [4.0]]))  # mean 2, std 2
    out = enc(torch.tensor([[4.0], [2.0]]))  # x = 1 and 0: angles π/2 and 0
    assert out.tolist() == [pytest.approx([1.0, 1.0, 0.0], abs=1e-6), pytest.approx([0.0, 0.0, 1.0], abs=1e-6)]
    # the frequencies are a fixed draw (same model from the same config) and a buffer (checkpoints carry them)
    a, b = ObservationStandardizer(2, fourier_features=8), ObservationStandardizer(2, fourier_features=8)
    assert torch.equal(a.frequencies, b.frequencies) and "frequencies" in a.state_dict()


def test_fourier_encoder_option_and_errors():
    enc, dim = make_encoder({"name": "identity", "standardize": True, "fourier_features": 16, "fourier_scale": 2.0}, (2,))
    assert dim == 2 + 32 and enc(torch.zeros(5, 2)).shape == (5, 34)
    assert enc.frequencies.std().item() == pytest.approx(2.0, rel=0.5)
    with pytest.raises(ValueError, match="encoder.standardize=true"):
        make_encoder({"name": "identity", "standardize": False, "fourier_features": 16}, (2,))
    with pytest.raises(ValueError, match="fourier_scale"):
        make_encoder({"name": "identity", "standardize": True, "fourier_features": 4, "fourier_scale": 0.0}, (2,))
