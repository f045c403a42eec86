"""encoder=seq_jepa: a pretrained seq-JEPA checkpoint as a frozen observation/history encoder."""

from __future__ import annotations

import pytest
import torch

from agents.engine.checkpoint import save_checkpoint
from representations.encoders import make_encoder
from representations.seq_jepa.encoder import SeqJEPAEncoder, build_seq_jepa, load_seq_jepa

REP = dict(
    name="seq_jepa", feature_dim=16, channels=[4, 8], action_embed_dim=8, layers=1, heads=2, mlp_ratio=2, predictor_hidden_dim=32
)


def checkpoint(tmp_path, view_shape, *, action_conditioning=True):
    rep = {**REP, "action_conditioning": action_conditioning}
    dims = {"action_dim": 4, "view_shape": list(view_shape)}
    model = build_seq_jepa(rep, dims)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so a wrong load would show
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-1, 1)
    run = tmp_path / "run"
    save_checkpoint(
        run / "checkpoints",
        step=3,
        config={"objective": rep, "dims": dims, "data": {"name": "test"}},
        weights={"model": model},
        training_state={},
    )
    return run, model.eval()


def test_single_view_aggregate_equals_the_model_and_is_frozen(tmp_path):
    run, model = checkpoint(tmp_path, [5])
    encoder, dim = make_encoder({"name": "seq_jepa", "checkpoint": str(run)}, 5)
    assert dim == 16 + 8 and encoder.views == 1
    obs = torch.randn(7, 5)
    expected = model.aggregate(obs[:, None], torch.zeros(7, 0, 4))
    encoder.train()  # the agent's train mode must not switch a frozen encoder's BatchNorm to batch statistics
    torch.testing.assert_close(encoder(obs), expected)
    assert not any(p.requires_grad for p in encoder.parameters())
    loaded, config = load_seq_jepa(run / "checkpoints" / "step000000003")
    assert config["dims"]["view_shape"] == [5] and loaded.view_shape == (5,)
    view_encoder, view_dim = make_encoder({"name": "seq_jepa", "checkpoint": str(run), "features": "view"}, 5)
    assert view_dim == 16
    torch.testing.assert_close(view_encoder(obs), model.encoder(obs))


def test_frame_stacks_are_histories(tmp_path):
    run, model = checkpoint(tmp_path, [3, 16, 16], action_conditioning=False)
    stack = torch.randint(0, 256, (2, 6, 9, 16, 16), dtype=torch.uint8)  # [B, T, 3 frames × RGB, H, W]
    encoder = SeqJEPAEncoder(run, (9, 16, 16))
    assert encoder.views == 3
    frames = stack.reshape(12, 3, 3, 16, 16)
    expected = model.aggregate(frames, torch.zeros(12, 2, 4)).reshape(2, 6, -1)
    torch.testing.assert_close(encoder(stack), expected)
    per_view = SeqJEPAEncoder(run, (9, 16, 16), features="view")
    assert per_view.feature_dim == 48 and per_view(stack).shape == (2, 6, 48)


def test_mismatches_are_clear_errors(tmp_path):
    run, _ = checkpoint(tmp_path, [3, 16, 16])
    with pytest.raises(
        ValueError, match=r"pretrained with action conditioning: pretrain with objective.action_conditioning=false"
    ):
        SeqJEPAEncoder(run, (9, 16, 16))
    SeqJEPAEncoder(run, (9, 16, 16), features="view")  # per-view encodings need no actions
    with pytest.raises(ValueError, match=r"pretrained on views of shape \[3, 16, 16\].*observations have shape \[2\]"):
        SeqJEPAEncoder(run, (2,))
    with pytest.raises(ValueError, match="unknown encoder.features='mean'"):
        SeqJEPAEncoder(run, (3, 16, 16), features="mean")
    with pytest.raises(ValueError, match="needs encoder.checkpoint"):
        make_encoder({"name": "seq_jepa"}, 5)
    with pytest.raises(FileNotFoundError, match="is not a checkpoint of agents.pretrain"):
        load_seq_jepa(tmp_path / "nowhere")
