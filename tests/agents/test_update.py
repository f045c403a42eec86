"""The agent's gradient step (agents.update.make_update): fp32 and bf16-autocast agree."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from tensordict import TensorDict
from torchrl.objectives import SoftUpdate

from agents.actor import ZeroShotActorLoss, make_actor
from agents.engine import make_optimizer
from agents.update import make_update
from representations import make_representation, make_representation_loss

OBS, ACT, BATCH = 6, 2, 64
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _agent(precision: str, device: str = "cpu", cudagraphs: bool = False):
    torch.manual_seed(0)
    rep_cfg = OmegaConf.load(CONFIGS / "representation/td_jepa.yaml")
    rep_cfg.merge_with(
        {
            "z_dim": 8,
            "phi_dim": 8,
            "phi_encoder": {"hidden_dim": 32, "hidden_layers": 2},
            "psi_encoder": {"hidden_dim": 32, "hidden_layers": 2},
            "predictor": {"hidden_dim": 32},
            "optim": {"lr": {"phi_encoder": 1e-3, "psi_encoder": 1e-3, "predictors": 1e-3}},
        }
    )
    actor_cfg = OmegaConf.load(CONFIGS / "actor/td3.yaml")
    actor_cfg.merge_with({"hidden_dim": 32, "lr": 1e-3})
    model = make_representation(rep_cfg, OBS, ACT).to(device)
    actor = make_actor(actor_cfg, model, ACT).to(device)
    rep_loss = make_representation_loss(rep_cfg, model, actor)
    actor_loss = ZeroShotActorLoss(actor, model, noise_std=actor_cfg.noise_std, noise_clip=actor_cfg.noise_clip)
    optimizer = make_optimizer(rep_cfg.optim, actor_cfg.lr, model, actor, capturable=cudagraphs)
    updater = SoftUpdate(rep_loss, tau=rep_cfg.optim.tau)
    return model, make_update(rep_loss, actor_loss, optimizer, updater, precision=precision, cudagraphs=cudagraphs), actor_loss


def _batch() -> TensorDict:
    g = torch.Generator().manual_seed(1)
    return TensorDict(
        {
            "observation": torch.randn(BATCH, OBS, generator=g),
            "action": torch.rand(BATCH, ACT, generator=g) * 2 - 1,
            "next": {"observation": torch.randn(BATCH, OBS, generator=g), "terminated": torch.zeros(BATCH, 1, dtype=torch.bool)},
        },
        batch_size=[BATCH],
    )


def test_bf16_autocast_update_matches_fp32():
    batch = _batch()
    fp32_model, fp32_update, _ = _agent("fp32")
    bf16_model, bf16_update, _ = _agent("bf16")
    before = copy.deepcopy(fp32_model.state_dict())
    torch.manual_seed(2)
    fp32_losses = fp32_update(batch)
    torch.manual_seed(2)
    bf16_losses = bf16_update(batch)
    # Every reported value is fp32, and each loss agrees to bf16 accuracy (8 mantissa bits ≈ 0.4 %).
    for key, value in fp32_losses.items():
        assert bf16_losses[key].dtype == torch.float32, key
        if key.startswith("loss_"):
            torch.testing.assert_close(bf16_losses[key], value, rtol=0.05, atol=0.02, msg=key)
    # Weights and statistics stay fp32 and took (almost) the same Adam step.
    for name, after in bf16_model.state_dict().items():
        assert after.dtype == before[name].dtype, name
    step_fp32 = torch.cat([(fp32_model.state_dict()[n] - before[n]).flatten() for n in before])
    step_bf16 = torch.cat([(bf16_model.state_dict()[n] - before[n]).flatten() for n in before])
    cosine = torch.nn.functional.cosine_similarity(step_fp32, step_bf16, dim=0)
    assert cosine > 0.95


def test_unknown_precision_names_the_choices():
    with pytest.raises(ValueError, match=r"train.precision='fp16' is not known: use one of \['auto', 'fp32', 'bf16'\]"):
        _agent("fp16")


def test_the_actor_steps_against_the_representation_just_updated():
    """The official order: representation step, then the actor loss on the updated networks with φ(s) recomputed
    (not the pre-step features the representation loss wrote), then the target EMA."""
    model, update, actor_loss = _agent("fp32")
    before = model.phi_predictor.trunk[0].weight.detach().clone()
    seen = {}
    forward = actor_loss.forward

    def spy(batch):
        seen["predictor"] = model.phi_predictor.trunk[0].weight.detach().clone()
        seen["has_features"] = "state_features" in batch.keys()
        seen["z"] = batch["z"].clone()
        return forward(batch)

    actor_loss.forward = spy
    losses = update(_batch())
    after = model.phi_predictor.trunk[0].weight.detach()
    assert not torch.equal(after, before)  # the representation stepped
    assert torch.equal(seen["predictor"], after) and not seen["has_features"]
    assert seen["z"].shape == (BATCH, 8) and "loss_actor" in losses.keys() and "loss_phi_td" in losses.keys()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run it on a lent GPU machine: pytest -m gpu)")
def test_the_cuda_graph_update_equals_the_eager_update():
    """train.cudagraphs=true replays the captured update (after 10 eager warm-up calls); each replay must take the
    eager update's step: the same batches and seeds give the same weights to float rounding."""
    batch = _batch().to("cuda")
    runs = {}
    for graphs in (False, True):
        model, update, _ = _agent("fp32", device="cuda", cudagraphs=graphs)
        torch.cuda.manual_seed(3)
        for _ in range(12):  # 10 warm-up calls, the capture, one replay
            update(batch)
        torch.cuda.synchronize()
        runs[graphs] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for name, eager in runs[False].items():
        torch.testing.assert_close(runs[True][name], eager, rtol=1e-4, atol=1e-5, msg=name)
