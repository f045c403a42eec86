"""The one update loop (agents.engine.run_updates) and its pieces, on hand-made updates."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch
from tensordict import TensorDict

from agents.engine import gradient_step, run_updates, write_report


class RecordingLogger:
    def __init__(self) -> None:
        self.logged: list[tuple[int, dict]] = []
        self.closed = False

    def log(self, metrics, step: int) -> None:
        self.logged.append((step, dict(metrics)))

    def close(self) -> None:
        self.closed = True


def constant_losses(values: list[float]):
    """An update returning loss_x = values[i] at its i-th call (and a collapse diagnostic)."""
    calls = iter(values)

    def update() -> TensorDict:
        return TensorDict({"loss_x": torch.tensor(next(calls)), "feature_std": torch.tensor(0.5)}, [])

    return update


def test_logs_evaluates_and_checkpoints_on_schedule():
    logger, checkpoints, evaluations, history = RecordingLogger(), [], [], []
    result = run_updates(
        constant_losses([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        start=0,
        steps=6,
        log_every=2,
        logger=logger,
        checkpoint=checkpoints.append,
        checkpoint_every=3,
        evaluate=evaluations.append,
        eval_every=2,
        stage="student",
        offset=10,
        history=history,
        validate=lambda losses: (losses, {"val/loss_x": 2 * losses["loss_x"].item()}),
    )
    assert [step for step, _ in logger.logged] == [12, 14, 16]  # the run's count: offset + the stage's
    assert logger.logged[1][1] == {"student/loss_x": 4.0, "student/feature_std": 0.5, "val/loss_x": 8.0}
    assert history == [{"step": s, "stage": "student", "feature_std": 0.5} for s in (12, 14, 16)]
    assert evaluations == [2, 4]  # not at the last update: the recipe evaluates its final weights itself
    assert checkpoints == [2, 5]  # (offset + done) % 3 == 0, passed the stage's own count
    assert result.losses["loss_x"].item() == 6.0 and not logger.closed


def test_a_non_finite_loss_stops_the_run_at_that_update_before_its_checkpoint():
    logger, checkpoints = RecordingLogger(), []
    with pytest.raises(FloatingPointError, match=r"non-finite loss \(loss_x\) at step 3\..*resume from step000000002"):
        run_updates(
            constant_losses([1.0, 2.0, float("nan"), 4.0]),
            start=0,
            steps=4,
            log_every=100,
            logger=logger,
            checkpoint=checkpoints.append,
            checkpoint_every=1,
            resume_hint="resume from step000000002",
        )
    assert checkpoints == [1, 2]


def test_ctrl_c_finishes_the_update_writes_a_checkpoint_and_exits_130(capsys):
    logger, checkpoints, calls = RecordingLogger(), [], []

    def update() -> TensorDict:
        calls.append(len(calls) + 1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)  # arrives inside the update; the loop stops after it
        return TensorDict({"loss_x": torch.tensor(1.0)}, [])

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(SystemExit) as stop:
        run_updates(
            update, start=0, steps=10, log_every=100, logger=logger, checkpoint=lambda s: checkpoints.append(s) or f"ckpt{s}"
        )
    assert stop.value.code == 130 and calls == [1, 2, 3] and checkpoints == [3] and logger.closed
    assert "interrupted at step 3; saved ckpt3. Continue with the same command plus resume=true" in capsys.readouterr().out
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back


def test_resumed_loop_starts_at_its_step():
    logger = RecordingLogger()
    result = run_updates(constant_losses([7.0, 8.0]), start=3, steps=5, log_every=1, logger=logger)
    assert [step for step, _ in logger.logged] == [4, 5] and result.losses["loss_x"].item() == 8.0


def test_gradient_step_descends_the_sum_of_the_losses_then_steps_schedule_and_targets():
    w = torch.nn.Parameter(torch.tensor(1.0))
    optimizer = torch.optim.SGD([w], lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: 0.5**k)
    targets = []

    class Target:
        def step(self) -> None:
            targets.append(w.item())

    update = gradient_step(
        lambda: TensorDict({"loss_a": w * 1.0, "loss_b": 2.0 * w, "diag": 10.0 * w}, []),
        optimizer,
        scheduler=scheduler,
        target_updater=Target(),
    )
    losses = update()
    assert losses["loss_a"].item() == pytest.approx(1.0) and not losses["loss_a"].requires_grad
    assert w.item() == pytest.approx(1.0 - 0.1 * 3.0)  # d(loss_a + loss_b)/dw = 3; "diag" is not a loss
    update()
    assert w.item() == pytest.approx(0.7 - 0.05 * 3.0)  # the schedule halved the rate
    assert targets == pytest.approx([0.7, 0.55])  # the target step follows the optimiser step
    only_b = gradient_step(lambda: TensorDict({"loss_a": w * 1.0, "loss_b": 2.0 * w}, []), optimizer, loss_key="loss_b")
    only_b()
    assert w.item() == pytest.approx(0.55 - 0.025 * 2.0)


def test_report_falls_back_when_the_run_folder_cannot_be_written(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write_report(tmp_path / "run", {"mean": 0.5}, "| a | b |")
    assert json.loads((tmp_path / "run" / "eval.json").read_text()) == {"mean": 0.5}
    (tmp_path / "not-a-folder").write_text("")
    with pytest.warns(UserWarning, match="could not write the report"):
        folder = write_report(tmp_path / "not-a-folder" / "run", {"mean": 0.25}, "| a | b |")
    assert folder == tmp_path / "home" / ".cache" / "jepa_rl" / "rescued" / "run"
    assert (folder / "eval.md").read_text() == "| a | b |\n" and json.loads((folder / "eval.json").read_text()) == {"mean": 0.25}


def test_precision_auto_is_bf16_on_cuda_only():
    from agents.engine.runtime import autocast

    with autocast("auto", "cpu")():
        assert not torch.is_autocast_enabled("cpu")
    with autocast("bf16", "cpu")():
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    assert autocast("auto", "cuda").keywords == {"dtype": torch.bfloat16, "enabled": True}  # built, not entered: no GPU here
    with pytest.raises(ValueError, match=r"train.precision='half' is not known: use one of \['auto', 'fp32', 'bf16'\]"):
        autocast("half", "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_asking_for_cuda_without_a_gpu_is_one_message():
    from agents.engine import resolve_device

    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"device=cuda:1 requested but CUDA is not available; use device=cpu or device=auto"):
        resolve_device("cuda:1")
