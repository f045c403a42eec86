"""Frozen-encoder probes of a behaviour-cloning policy's representation (ACT-JEPA §4 evaluations).

- world model: from the frozen features of (s_t, goal), regress the next H states s_{t+1..t+H};
  report RMSE over every real state coordinate and ATE, the mean L2 error per future step.
- action predictor: from the same frozen features, a fresh head predicts the action chunk; report
  its L1 error on held-out demonstrations.

The official probes use a causal 4-layer transformer (``StatePredictorModel``); here the head is an
MLP on the flat features, trained with Adam on training windows and scored on validation windows.

Generic probes of frozen features, shared by the pretraining entry points: linear top-1
(:func:`linear_probe_accuracy`), MLP regression R² (:func:`regression_r2`), any head trained with
validation selection (:func:`fit_regressor`, e.g. an attentive pooler on tokens), closed-form ridge R²
per output column (:func:`ridge_r2_per_dim`) and R² pooled per quantity (:func:`pooled_r2`).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from tensordict import TensorDictBase
from torch import nn

from representations.act_jepa.loss import masked_l1


def mlp_head(in_dim: int, out_dim: int, hidden_dim: int = 256) -> nn.Module:
    """The probes' MLP: two ReLU hidden layers."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim)
    )


def world_model_errors(predicted: torch.Tensor, states: torch.Tensor, is_pad: torch.Tensor):
    """Sums over the real steps of a batch: (squared error, per-step L2 error, real steps, real entries).

    ``predicted``/``states`` [B, H, D] future states, ``is_pad`` [B, H]. RMSE = √(Σ sq / entries),
    ATE = Σ L2 / steps."""
    real = ~is_pad.bool()
    diff = (predicted - states)[real]  # [n_real, D]
    return diff.square().sum(), diff.norm(dim=-1).sum(), real.sum(), diff.numel()


def run_probes(
    features: Callable[[TensorDictBase], torch.Tensor],
    feature_dim: int,
    train_buffer,
    val_buffer,
    *,
    steps: int = 1000,
    lr: float = 1e-3,
    hidden_dim: int = 256,
    val_batches: int = 8,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """Trains both probe heads on frozen ``features(batch)`` [B, F]; returns validation metrics."""
    sample = train_buffer.sample()
    horizon, state_dim = sample["states"].shape[1] - 1, sample["states"].shape[-1]
    action_dim = sample["actions"].shape[-1]
    state_head = mlp_head(feature_dim, horizon * state_dim, hidden_dim).to(device)
    action_head = mlp_head(feature_dim, horizon * action_dim, hidden_dim).to(device)
    optimizer = torch.optim.Adam([*state_head.parameters(), *action_head.parameters()], lr=lr)

    def predict(batch: TensorDictBase) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            f = features(batch)
        n = f.shape[0]
        return state_head(f).reshape(n, horizon, state_dim), action_head(f).reshape(n, horizon, action_dim)

    for _ in range(steps):
        batch = train_buffer.sample().to(device)
        states, actions = predict(batch)
        loss = masked_mse(states, batch["states"][:, 1:], batch["state_is_pad"][:, 1:]) + masked_l1(
            actions, batch["actions"], batch["action_is_pad"]
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    sq, l2, real_steps, entries, action_l1 = 0.0, 0.0, 0, 0, []
    with torch.no_grad():
        for batch in (val_buffer.sample() for _ in range(val_batches)):
            batch = batch.to(device)
            states, actions = predict(batch)
            s, l, r, e = world_model_errors(states, batch["states"][:, 1:], batch["state_is_pad"][:, 1:])
            sq, l2, real_steps, entries = sq + s.item(), l2 + l.item(), real_steps + int(r), entries + e
            action_l1.append(masked_l1(actions, batch["actions"], batch["action_is_pad"]).item())
    return {
        "probe_state_rmse": (sq / max(entries, 1)) ** 0.5,
        "probe_state_ate": l2 / max(real_steps, 1),
        "probe_action_l1": sum(action_l1) / len(action_l1),
    }


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, is_pad: torch.Tensor) -> torch.Tensor:
    real = (~is_pad.bool()).unsqueeze(-1).to(prediction.dtype)
    return ((prediction - target).square() * real).sum() / (real.sum() * prediction.shape[-1]).clamp_min(1.0)


def _fit_head(
    head: nn.Module,
    loss_fn: Callable,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    *,
    steps: int,
    lr: float,
    batch_size: int,
    after_step: Callable[[int, Callable], None] | None = None,
) -> Callable:
    """Adam on seeded minibatches of standardised frozen features (one lr then fits every encoder's
    scale); ``after_step(step, standardise)`` runs after each step. Returns ``standardise``."""
    # per feature over all samples (and tokens, for [N, K, F] inputs: a per-position statistic would erase
    # the positional offsets an attentive probe selects tokens by)
    over = tuple(range(train_x.ndim - 1))
    mean, std = train_x.mean(over), train_x.std(over).clamp_min(1e-6)

    def standardise(x: torch.Tensor) -> torch.Tensor:
        return (x - mean) / std

    optimizer = torch.optim.Adam(head.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(0)
    for step in range(1, steps + 1):
        idx = torch.randint(len(train_x), (min(batch_size, len(train_x)),), generator=generator)
        loss = loss_fn(head(standardise(train_x[idx])), train_y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if after_step is not None:
            after_step(step, standardise)
    return standardise


def linear_probe_accuracy(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    *,
    steps: int = 500,
    lr: float = 1e-2,
    batch_size: int = 256,
) -> float:
    """Top-1 accuracy on (test_x, test_y) of a linear classifier trained on frozen features (train_x, train_y)."""
    probe = nn.Linear(train_x.shape[1], int(max(train_y.max(), test_y.max())) + 1)
    standardise = _fit_head(probe, nn.functional.cross_entropy, train_x, train_y, steps=steps, lr=lr, batch_size=batch_size)
    with torch.no_grad():
        return (probe(standardise(test_x)).argmax(-1) == test_y).float().mean().item()


def r2_per_dim(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Coefficient of determination of each output dimension [D]."""
    residual = (target - prediction).square().sum(0)
    total = (target - target.mean(0)).square().sum(0).clamp_min(1e-12)
    return 1.0 - residual / total


def r2_score(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """Coefficient of determination, averaged uniformly over output dimensions (as scikit-learn)."""
    return r2_per_dim(prediction, target).mean().item()


def pooled_r2(per_dim: torch.Tensor, target: torch.Tensor, columns: dict[str, list[int]]) -> dict[str, float]:
    """R² of each quantity (a column range of ``target`` [N, D]) from the per-column R² [D], weighted by each
    column's variance in ``target``: 1 − Σ SSE / Σ SST over the quantity's columns (scikit-learn's
    ``variance_weighted``)."""
    variance = target.var(0, unbiased=False).to(per_dim)
    out = {}
    for quantity, (lo, hi) in columns.items():
        weights = variance[lo:hi]
        out[quantity] = ((per_dim[lo:hi] * weights).sum() / weights.sum().clamp_min(1e-12)).item()
    return out


def fit_regressor(
    head: nn.Module,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    *,
    val_x: torch.Tensor | None = None,
    val_y: torch.Tensor | None = None,
    steps: int = 1000,
    lr: float = 1e-3,
    batch_size: int = 256,
    eval_every: int = 100,
    loss_fn: Callable = nn.functional.mse_loss,
    score_fn: Callable[[torch.Tensor, torch.Tensor], float] | None = None,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Trains ``head`` (``loss_fn``, MSE) on frozen features; returns its predictor of new features. With a
    validation set the head is taken at its best validation ``score_fn`` (R², checked every ``eval_every``
    steps), so a probe that overfits a small training set does not report its overfitted state."""
    score_fn = score_fn or r2_score
    best: dict = {"score": -math.inf, "state": None}

    def keep_best(step: int, standardise: Callable) -> None:
        if val_x is None or (step % eval_every and step != steps):
            return
        with torch.no_grad():
            score = score_fn(head(standardise(val_x)), val_y)
        if score > best["score"]:
            best.update(score=score, state={k: v.clone() for k, v in head.state_dict().items()})

    standardise = _fit_head(head, loss_fn, train_x, train_y, steps=steps, lr=lr, batch_size=batch_size, after_step=keep_best)
    if best["state"] is not None:
        head.load_state_dict(best["state"])

    @torch.no_grad()
    def predict(x: torch.Tensor) -> torch.Tensor:
        return head(standardise(x))

    return predict


def class_iou(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Intersection over union [num_classes] of integer predictions and labels (any shape): TP / (TP + FP + FN)
    per class, NaN for a class that is neither predicted nor present."""
    confusion = torch.bincount(labels.reshape(-1) * num_classes + predicted.reshape(-1), minlength=num_classes**2)
    confusion = confusion.reshape(num_classes, num_classes).double()  # [label, prediction]
    hits = confusion.diagonal()
    union = confusion.sum(0) + confusion.sum(1) - hits
    return torch.where(union > 0, hits / union.clamp_min(1), torch.full_like(hits, float("nan")))


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return (logits.argmax(-1) == labels).float().mean().item()


def regression_r2(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor, **fit) -> float:
    """Test R² of an MLP regressor (2 hidden layers) trained on frozen features; ``fit``: the keywords of
    :func:`regression_r2_fit_and_test`."""
    return regression_r2_fit_and_test(train_x, train_y, test_x, test_y, **fit)["test"]


def regression_r2_fit_and_test(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    *,
    val_x: torch.Tensor | None = None,
    val_y: torch.Tensor | None = None,
    hidden_dim: int = 256,
    steps: int = 1000,
    lr: float = 1e-3,
    batch_size: int = 256,
    eval_every: int = 100,
) -> dict[str, float]:
    """R² of an MLP regressor (2 hidden layers, :func:`fit_regressor`) trained on frozen features, on the test set
    and on its own training set (``{"train", "test"}``): a low train R² says the features lack the target, a high
    one over a low test R² says the probe (or the encoder) fits the training rows only."""
    predict = fit_regressor(
        mlp_head(train_x.shape[1], train_y.shape[1], hidden_dim),
        train_x,
        train_y,
        val_x=val_x,
        val_y=val_y,
        steps=steps,
        lr=lr,
        batch_size=batch_size,
        eval_every=eval_every,
    )
    return {"train": r2_score(predict(train_x), train_y), "test": r2_score(predict(test_x), test_y)}


def ridge_predict(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    *,
    val_x: torch.Tensor,
    val_y: torch.Tensor,
    alphas: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0),
) -> torch.Tensor:
    """Linear probe: test predictions [N, D] (float64) of ridge regression (closed form, in float64) on
    standardised features with an intercept; the penalty ``alpha`` (× number of samples) is picked per
    output dimension by the validation R²."""
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)

    def design(x: torch.Tensor) -> torch.Tensor:
        x = ((x - mean) / std).double()
        return torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype, device=x.device)], dim=1)

    a, b = design(train_x), train_y.double()
    gram, cross = a.T @ a, a.T @ b
    eye = torch.eye(len(gram), dtype=gram.dtype, device=gram.device)
    eye[-1, -1] = 0.0  # no penalty on the intercept
    solutions = [torch.linalg.solve(gram + alpha * len(a) * eye, cross) for alpha in alphas]  # [F+1, D] each
    val_scores = torch.stack([r2_per_dim(design(val_x) @ w, val_y.double()) for w in solutions])  # [A, D]
    best = val_scores.argmax(0)  # per output dimension
    weights = torch.stack(solutions)[best, :, torch.arange(train_y.shape[1])].T  # [F+1, D]
    return design(test_x) @ weights


def ridge_r2_per_dim(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    *,
    val_x: torch.Tensor,
    val_y: torch.Tensor,
    alphas: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0),
) -> torch.Tensor:
    """Test R² per output dimension [D] of :func:`ridge_predict`."""
    predicted = ridge_predict(train_x, train_y, test_x, val_x=val_x, val_y=val_y, alphas=alphas)
    return r2_per_dim(predicted, test_y.double()).float()
