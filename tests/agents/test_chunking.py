"""Open-loop chunk execution and ACT's temporal ensembling."""

import math

import pytest
import torch

from agents.chunking import ChunkExecutor


def chunk_at(t, h=4):
    """A chunk predicted at step t: action value 10·t + k for its k-th step (one env, 1-d actions)."""
    return torch.tensor([[[10.0 * t + k] for k in range(h)]])


def test_open_loop_replans_every_action_steps():
    calls = []
    executor = ChunkExecutor(4, mode="chunk", action_steps=2)
    actions = []
    for t in range(5):
        actions.append(executor(t, lambda: calls.append(t) or chunk_at(t)).item())
    assert calls == [0, 2, 4]
    assert actions == [0.0, 1.0, 20.0, 21.0, 40.0]
    executor = ChunkExecutor(4, mode="chunk")  # default: the whole chunk
    assert [executor(t, lambda: chunk_at(t)).item() for t in range(6)] == [0.0, 1.0, 2.0, 3.0, 40.0, 41.0]


def test_temporal_ensemble_weights_older_predictions_first():
    k = 0.5
    executor = ChunkExecutor(3, mode="ensemble", ensemble_coeff=k)
    a0 = executor(0, lambda: chunk_at(0, 3)).item()
    a1 = executor(1, lambda: chunk_at(1, 3)).item()
    a2 = executor(2, lambda: chunk_at(2, 3)).item()
    a3 = executor(3, lambda: chunk_at(3, 3)).item()
    assert a0 == 0.0
    w = [math.exp(-k * j) for j in range(3)]
    assert a1 == pytest.approx((w[0] * 1 + w[1] * 10) / (w[0] + w[1]))  # chunk@0 step 1, chunk@1 step 0
    assert a2 == pytest.approx((w[0] * 2 + w[1] * 11 + w[2] * 20) / sum(w))
    # at t=3 the chunk from t=0 has expired (H=3): chunks from 1, 2, 3
    assert a3 == pytest.approx((w[0] * 12 + w[1] * 21 + w[2] * 30) / sum(w))


def test_bad_execution_settings_are_clear():
    with pytest.raises(ValueError, match=r"unknown execution mode 'replan'"):
        ChunkExecutor(4, mode="replan")
    with pytest.raises(ValueError, match=r"action_steps must be in \[1, chunk=4\], got 5"):
        ChunkExecutor(4, action_steps=5)
