import json

import pytest
import torch

from agents.actor import make_actor
from agents.engine.checkpoint import find_resume_checkpoint, latest_checkpoint, save_checkpoint
from representations import load_pretrained, make_representation

REP = {
    "name": "td_jepa",
    "z_dim": 4,
    "phi_dim": 4,
    "phi_encoder": {"hidden_dim": 8, "hidden_layers": 2},
    "psi_encoder": {"hidden_dim": 8, "hidden_layers": 2},
    "predictor": {"hidden_dim": 8, "hidden_layers": 1},
}
ACTOR = {"hidden_dim": 8, "hidden_layers": 1, "embedding_layers": 2}


def _save(root, step, rep, actor, keep=2, rep_cfg=REP):
    return save_checkpoint(
        root,
        step=step,
        keep=keep,
        config={"representation": rep_cfg, "dims": {"obs_shape": [3], "action_dim": 2}, "actor_net": ACTOR},
        weights={"representation": rep, "actor": actor},
        training_state={"step": step},
    )


@pytest.mark.parametrize("symmetric", [False, True])
def test_round_trip_without_training_code(tmp_path, symmetric):
    rep_cfg = {**REP, "symmetric": symmetric}
    rep = make_representation(rep_cfg, 3, 2)
    rep.feature_cov.mul_(3.0)
    actor = make_actor(ACTOR, rep, 2)
    path = _save(tmp_path, 7, rep, actor, rep_cfg=rep_cfg)
    rep2, actor2, config = load_pretrained(path)
    obs, z = torch.randn(5, 3), torch.randn(5, 4)
    assert torch.equal(rep2.psi(obs), rep.psi(obs).detach())
    assert torch.equal(actor2(rep2.actor_input(obs), z), actor(rep.actor_input(obs), z).detach())
    assert torch.equal(rep2.feature_cov, rep.feature_cov)
    assert config["dims"] == {"obs_shape": [3], "action_dim": 2}


def test_latest_pointer_pruning_and_resume_lookup(tmp_path):
    rep = make_representation(REP, 3, 2)
    actor = make_actor(ACTOR, rep, 2)
    old_run, new_run = tmp_path / "2026-01-01", tmp_path / "2026-01-02"
    for step in (1, 2, 3):
        _save(old_run / "checkpoints", step, rep, actor)
    assert latest_checkpoint(old_run / "checkpoints").name == "step000000003"
    assert sorted(p.name for p in (old_run / "checkpoints").glob("step*")) == ["step000000002", "step000000003"]
    assert not list((old_run / "checkpoints").glob(".tmp*"))
    new_run.mkdir()
    assert find_resume_checkpoint(True, new_run).name == "step000000003"
    assert find_resume_checkpoint(str(old_run), new_run).name == "step000000003"
    assert find_resume_checkpoint(False, new_run) is None


def test_resume_errors_are_clear(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(FileNotFoundError, match="no earlier run with a checkpoint"):
        find_resume_checkpoint(True, run)
    with pytest.raises(FileNotFoundError, match="no checkpoint found"):
        find_resume_checkpoint(str(tmp_path / "missing"), run)
    with pytest.raises(FileNotFoundError, match="not a checkpoint folder"):
        load_pretrained(tmp_path)


def test_interrupted_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    rep = make_representation(REP, 3, 2)
    actor = make_actor(ACTOR, rep, 2)
    _save(tmp_path, 1, rep, actor)

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        _save(tmp_path, 2, rep, actor)
    latest = latest_checkpoint(tmp_path)
    assert latest.name == "step000000001"
    assert json.loads((latest / "config.json").read_text())["dims"]["obs_shape"] == [3]


def test_resume_prefers_its_own_folder_and_skips_siblings_of_another_configuration(tmp_path):
    """A re-queued cluster job continues its own run; in a sweep folder a sibling with another
    seed is not taken for this one."""
    rep = make_representation(REP, 3, 2)
    actor = make_actor(ACTOR, rep, 2)
    sweep = tmp_path / "multirun"
    _save(sweep / "0" / "checkpoints", 5, rep, actor)  # config: representation td_jepa, no seed entry
    _save(sweep / "1" / "checkpoints", 2, rep, actor)
    assert find_resume_checkpoint(True, sweep / "1").name == "step000000002"  # its own, though older
    (sweep / "2").mkdir()
    assert find_resume_checkpoint(True, sweep / "2", same={"representation.name": "td_jepa"}).parent.parent.name in {"0", "1"}
    with pytest.raises(
        FileNotFoundError, match="no earlier run with a checkpoint under .* with the same representation.name, seed"
    ):
        find_resume_checkpoint(True, sweep / "2", same={"representation.name": "td_jepa", "seed": 3})


def test_non_finite_weights_are_never_written(tmp_path):
    from agents.engine.checkpoint import NonFiniteCheckpointError

    rep = make_representation(REP, 3, 2)
    actor = make_actor(ACTOR, rep, 2)
    good = _save(tmp_path, 5, rep, actor)
    with torch.no_grad():
        next(actor.parameters()).fill_(float("nan"))
    with pytest.raises(NonFiniteCheckpointError, match=f"not saving step 10: 1 of .* NaN/inf.*{good.name}"):
        _save(tmp_path, 10, rep, actor)
    assert latest_checkpoint(tmp_path) == good and not (tmp_path / "step000000010").exists()
    assert not list(tmp_path.glob(".tmp-*"))


def test_check_finite_names_the_bad_loss_and_builds_the_hint_only_on_failure():
    from agents.engine import check_finite

    calls = []
    check_finite({"loss_a": torch.tensor(1.0), "other": torch.tensor(float("nan"))}, 3, lambda: calls.append(1) or "x")
    assert calls == []  # finite losses (non-loss entries are not checked): the hint is never built
    with pytest.raises(FloatingPointError, match=r"non-finite loss \(loss_b\) at step 4.*resume from step 3"):
        check_finite({"loss_a": torch.tensor(1.0), "loss_b": torch.tensor([1.0, float("inf")])}, 4, lambda: "resume from step 3")


def test_resume_refuses_other_settings_and_a_smaller_budget(tmp_path):
    from agents.engine.checkpoint import check_resume_compatible, checkpoint_step, config_differences

    saved = {"representation": {"z_dim": 50, "loss": {"gamma": 0.99}}, "train": {"steps": 100, "log_every": 10}, "seed": 0}
    ckpt = tmp_path / "step000000040"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(json.dumps({**saved, "dims": {"action_dim": 2}}))
    assert checkpoint_step(ckpt) == 40
    # budget and logging may change
    check_resume_compatible(ckpt, {**saved, "train": {"steps": 200, "log_every": 1}}, steps=200, step=40)
    other = {**saved, "representation": {"z_dim": 32, "loss": {"gamma": 0.99}}, "encoder": {"standardize": True}}
    assert config_differences(saved, other) == ["encoder.standardize: '(absent)' → True", "representation.z_dim: 50 → 32"]
    with pytest.raises(
        ValueError, match=r"other settings \(encoder.standardize: .*representation.z_dim: 50 → 32\).*resume=false"
    ):
        check_resume_compatible(ckpt, other, steps=200, step=40)
    with pytest.raises(ValueError, match=r"already at step 40, past train.steps=30; pass train.steps >= 40"):
        check_resume_compatible(ckpt, saved, steps=30, step=40)


def test_truncated_checkpoint_gives_one_clear_message(tmp_path):
    rep = make_representation(REP, 3, 2)
    path = _save(tmp_path, 3, rep, make_actor(ACTOR, rep, 2))
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"model.safetensors is corrupt or truncated .*earlier checkpoint"):
        load_pretrained(path)


def test_unwritable_checkpoint_folder_falls_back_and_says_where(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    blocker = tmp_path / "run"
    blocker.write_text("a file where the run folder should be")  # mkdir under it fails, even as root
    rep = make_representation(REP, 3, 2)
    with pytest.warns(
        UserWarning, match=r"could not write the checkpoint to .*run/checkpoints .*wrote it to .*rescued/run/checkpoints"
    ):
        path = _save(blocker / "checkpoints", 4, rep, make_actor(ACTOR, rep, 2))
    assert path == tmp_path / "home" / ".cache" / "jepa_rl" / "rescued" / "run" / "checkpoints" / "step000000004"
    rep2, _, _ = load_pretrained(path)
    assert torch.equal(rep2.feature_cov, rep.feature_cov)


def test_failed_write_leaves_no_temporary_folder(tmp_path, monkeypatch):
    import agents.engine.checkpoint as ckpt_module

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt_module, "save_file", full_disk)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    rep = make_representation(REP, 3, 2)
    with pytest.raises(
        OSError, match=r"could not write the step-4 checkpoint to .* \(No space left on device\) nor to .*free disk space"
    ):
        _save(tmp_path / "ckpts", 4, rep, make_actor(ACTOR, rep, 2))
    assert not list((tmp_path / "ckpts").glob(".tmp-*")) and not list((tmp_path / "home").rglob(".tmp-*"))
