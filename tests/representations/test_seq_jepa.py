"""seq-JEPA: token/action shapes, the zero action slot, the no-action ablation, loss and EMA."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from tensordict import TensorDict
from torchrl.objectives import SoftUpdate

from representations.seq_jepa import MLPViewEncoder, SeqJEPA, SeqJEPALoss

TINY = dict(feature_dim=16, channels=(4, 8), action_embed_dim=8, layers=1, heads=2, predictor_hidden_dim=32)


def views(b=4, k=4, s=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, k, 3, s, s), generator=g, dtype=torch.uint8)


def test_shapes_of_encodings_aggregate_and_prediction():
    model = SeqJEPA(4, **TINY).eval()
    v = views()
    assert model.encoder(v).shape == (4, 4, 16)
    c = model.aggregate(v[:, :3], torch.randn(4, 2, 4))
    assert c.shape == (4, 16 + 8) and model.aggregate_dim == 24
    assert model.predict(c, torch.randn(4, 4)).shape == (4, 16)
    with pytest.raises(ValueError, match="3 views need 2 actions between them, got 3"):
        model.aggregate(v[:, :3], torch.randn(4, 3, 4))


def test_state_vector_views_use_the_mlp_encoder():
    model = SeqJEPA(6, view_shape=5, **TINY).eval()
    assert isinstance(model.encoder, MLPViewEncoder) and model.view_shape == (5,)
    states = torch.randn(4, 3, 5)
    assert model.encoder(states).shape == (4, 3, 16)
    assert model.aggregate(states, torch.randn(4, 2, 6)).shape == (4, 24)
    with pytest.raises(ValueError, match="built for 5-d states"):
        model.encoder(torch.randn(4, 3, 7))
    with pytest.raises(ValueError, match=r"must be \[C, H, W\] frames or \[D\] state vectors"):
        SeqJEPA(6, view_shape=(4, 4), **TINY)


def test_actions_condition_the_aggregate_unless_ablated():
    torch.manual_seed(0)
    v, a = views(), torch.randn(4, 2, 4)
    model = SeqJEPA(4, **TINY).eval()
    assert not torch.allclose(model.aggregate(v[:, :3], a), model.aggregate(v[:, :3], a + 1.0))
    ablated = SeqJEPA(4, action_conditioning=False, **TINY).eval()
    torch.testing.assert_close(ablated.aggregate(v[:, :3], a), ablated.aggregate(v[:, :3], a + 1.0))
    torch.testing.assert_close(ablated.predict(torch.zeros(4, 24), a[:, 0]), ablated.predict(torch.zeros(4, 24), a[:, 1]))


def test_single_view_has_only_its_zero_action_slot():
    model = SeqJEPA(4, **TINY).eval()
    assert model.aggregate(views()[:, :1], torch.zeros(4, 0, 4)).shape == (4, 24)


def test_loss_is_one_minus_cosine_to_the_ema_target():
    torch.manual_seed(0)
    model = SeqJEPA(4, **TINY)
    loss = SeqJEPALoss(model).eval()  # eval: BatchNorm with running statistics, online and target alike
    td = TensorDict({"views": views(k=4), "actions": torch.randn(4, 3, 4)}, [4])
    out = loss(td)
    assert not loss.target_encoder.training
    predicted = model.predict(model.aggregate(td["views"][:, :3], td["actions"][:, :2]), td["actions"][:, 2])
    target = model.encoder(td["views"][:, 3])  # the target copy still equals the online encoder
    expected = (1 - F.cosine_similarity(predicted, target, dim=-1)).mean()
    assert out["loss_prediction"].item() == pytest.approx(expected.item(), rel=1e-5)
    out["loss_prediction"].backward()
    assert all(p.grad is None for p in loss.target_encoder.parameters())
    updater = SoftUpdate(loss, eps=0.996)
    before = loss.target_encoder.net[0].weight.detach().clone()
    with torch.no_grad():
        model.encoder.net[0].weight.add_(1.0)
    updater.step()
    torch.testing.assert_close(loss.target_encoder.net[0].weight, 0.996 * before + 0.004 * model.encoder.net[0].weight.detach())


def test_probe_metrics_on_planted_data():
    from agents.probes import linear_probe_accuracy, r2_score, regression_r2, regression_r2_fit_and_test

    # R² by hand: target [1, 2, 3], prediction [1, 2, 4]: 1 − 1 / 2 = 0.5
    assert r2_score(torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([[1.0], [2.0], [3.0]])) == pytest.approx(0.5)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 5, generator=g)
    labels = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()  # 4 linearly separable classes
    assert linear_probe_accuracy(x[:300], labels[:300], x[300:], labels[300:], steps=500) > 0.8  # chance: 0.25
    shuffled = labels[torch.randperm(400, generator=g)]
    assert linear_probe_accuracy(x[:300], shuffled[:300], x[300:], shuffled[300:], steps=500) < 0.45
    y = torch.stack([x[:, 2] * 2.0, x[:, 3] - x[:, 4]], dim=1)
    assert regression_r2(x[:300], y[:300], x[300:], y[300:], steps=800, hidden_dim=32) > 0.9
    noise = torch.randn(400, 2, generator=g)
    assert regression_r2(x[:300], noise[:300], x[300:], noise[300:], steps=200, hidden_dim=32) < 0.2
    # a wide head on few samples overfits noise (test R² < 0); picked on a validation split it stays near 0
    overfit = regression_r2(x[:60], noise[:60], x[300:], noise[300:], steps=3000, hidden_dim=256, eval_every=10)
    selected = regression_r2(
        x[:60],
        noise[:60],
        x[300:],
        noise[300:],
        val_x=x[200:300],
        val_y=noise[200:300],
        steps=3000,
        hidden_dim=256,
        eval_every=10,
    )
    assert overfit < -0.2 and selected > overfit + 0.2
    # the train R² tells the two failures apart: noise is fitted on the train rows only, a real target on both
    fitted_noise = regression_r2_fit_and_test(x[:60], noise[:60], x[300:], noise[300:], steps=3000, hidden_dim=256)
    assert fitted_noise["train"] > 0.5 and fitted_noise["test"] < -0.2
    fitted_signal = regression_r2_fit_and_test(x[:300], y[:300], x[300:], y[300:], steps=800, hidden_dim=32)
    assert fitted_signal["train"] > 0.9 and fitted_signal["test"] > 0.9


def test_target_encoder_normalises_with_batch_statistics_while_training():
    """As the official code (and BYOL): the target's BatchNorm follows the loss's mode."""
    torch.manual_seed(0)
    loss = SeqJEPALoss(SeqJEPA(4, **TINY)).train()
    td = TensorDict({"views": views(k=4), "actions": torch.randn(4, 3, 4)}, [4])
    loss(td)
    assert loss.target_encoder.training
    batch_stats = loss.target_encoder(td["views"][:, 3])
    running_stats = loss.target_encoder.eval()(td["views"][:, 3])
    assert not torch.allclose(batch_stats, running_stats)
