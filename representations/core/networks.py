"""MLP blocks used by the zero-shot representations (TD-JEPA, FB, HILP).

Shapes follow the TD-JEPA / Meta Motivo architectures (arXiv 2510.00739 App. E; notes §1 "Networks"):
encoders are Linear→LN→Tanh→[Linear→ReLU]×(L−1)→Linear→√d-normalisation, and predictors embed
[x, z] and [x, a] separately before a shared trunk, as a batched ensemble.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class SphereNorm(nn.Module):
    """Projects features onto the sphere of radius √d (the encoders' last layer)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return math.sqrt(x.shape[-1]) * F.normalize(x, dim=-1)


class EnsembleLinear(nn.Module):
    """``ensemble_size`` independent linear layers evaluated with one batched matmul.

    Input ``[E, B, in]`` (or ``[B, in]``, broadcast to every member), output ``[E, B, out]``.
    """

    def __init__(self, in_features: int, out_features: int, ensemble_size: int) -> None:
        super().__init__()
        self.in_features, self.out_features, self.ensemble_size = in_features, out_features, ensemble_size
        self.weight = nn.Parameter(torch.empty(ensemble_size, in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(ensemble_size, 1, out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Orthogonal init with ReLU gain per member, as the reference ensembles use.
        gain = nn.init.calculate_gain("relu")
        for member in self.weight.data:
            nn.init.orthogonal_(member.T, gain=gain)
        self.bias.data.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            # Same input for every member. Expanding the (small) input keeps the output contiguous
            # in [E, B, out]; a transposed output would be copied again by every later layer.
            x = x.expand(self.ensemble_size, *x.shape)
        return torch.baddbmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, ensemble={self.ensemble_size}"


class EnsembleLayerNorm(nn.Module):
    """LayerNorm over the last dim with a separate affine transform per ensemble member."""

    def __init__(self, dim: int, ensemble_size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ensemble_size, 1, dim))
        self.bias = nn.Parameter(torch.zeros(ensemble_size, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.bias, F.layer_norm(x, x.shape[-1:]), self.weight)


def _linear(in_dim: int, out_dim: int, ensemble_size: int) -> nn.Module:
    return nn.Linear(in_dim, out_dim) if ensemble_size == 1 else EnsembleLinear(in_dim, out_dim, ensemble_size)


def _layer_norm(dim: int, ensemble_size: int) -> nn.Module:
    return nn.LayerNorm(dim) if ensemble_size == 1 else EnsembleLayerNorm(dim, ensemble_size)


def mlp_encoder(in_dim: int, out_dim: int, *, hidden_dim: int, hidden_layers: int, normalize: bool = True) -> nn.Sequential:
    """State/task encoder: Linear→LN→Tanh→[Linear→ReLU]×(L−1)→Linear(→√d-norm); L=0 is one Linear."""
    if hidden_layers == 0:
        layers: list[nn.Module] = [nn.Linear(in_dim, out_dim)]
    else:
        layers = [nn.Linear(in_dim, hidden_dim), nn.LayerNorm(hidden_dim), nn.Tanh()]
        for _ in range(hidden_layers - 1):
            layers += [nn.Linear(hidden_dim, hidden_dim), nn.ReLU()]
        layers.append(nn.Linear(hidden_dim, out_dim))
    if normalize:
        layers.append(SphereNorm())
    return nn.Sequential(*layers)


def _embedding(in_dim: int, hidden_dim: int, layers: int, ensemble_size: int) -> nn.Sequential:
    """Input embedding: Linear→LN→Tanh→[Linear→ReLU]×(layers−2)→Linear(h/2)→ReLU."""
    if layers < 2:
        raise ValueError(f"embedding_layers must be >= 2, got {layers}")
    seq: list[nn.Module] = [_linear(in_dim, hidden_dim, ensemble_size), _layer_norm(hidden_dim, ensemble_size), nn.Tanh()]
    for _ in range(layers - 2):
        seq += [_linear(hidden_dim, hidden_dim, ensemble_size), nn.ReLU()]
    seq += [_linear(hidden_dim, hidden_dim // 2, ensemble_size), nn.ReLU()]
    return nn.Sequential(*seq)


def _trunk(hidden_dim: int, hidden_layers: int, out_dim: int, ensemble_size: int) -> nn.Sequential:
    seq: list[nn.Module] = []
    for _ in range(hidden_layers):
        seq += [_linear(hidden_dim, hidden_dim, ensemble_size), nn.ReLU()]
    seq.append(_linear(hidden_dim, out_dim, ensemble_size))
    return nn.Sequential(*seq)


class ConditionedPredictor(nn.Module):
    """Policy-conditioned predictor P(x, a, z) → [E, B, out_dim] (TD-JEPA's T_φ/T_ψ, FB's F).

    Embeds [x, z] and [x, a] separately, concatenates, then a ReLU trunk; ``ensemble_size``
    independent copies (the twin ensemble of the paper) share one batched matmul per layer.
    """

    def __init__(
        self,
        in_dim: int,
        z_dim: int,
        action_dim: int,
        out_dim: int,
        *,
        hidden_dim: int,
        hidden_layers: int,
        embedding_layers: int = 2,
        ensemble_size: int = 2,
    ) -> None:
        super().__init__()
        self.ensemble_size = ensemble_size
        self.embed_z = _embedding(in_dim + z_dim, hidden_dim, embedding_layers, ensemble_size)
        self.embed_sa = _embedding(in_dim + action_dim, hidden_dim, embedding_layers, ensemble_size)
        self.trunk = _trunk(hidden_dim, hidden_layers, out_dim, ensemble_size)

    def forward(self, x: torch.Tensor, action: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        z_emb = self.embed_z(torch.cat([x, z], dim=-1))
        sa_emb = self.embed_sa(torch.cat([x, action], dim=-1))
        out = self.trunk(torch.cat([sa_emb, z_emb], dim=-1))
        return out if self.ensemble_size > 1 else out.unsqueeze(0)


class ZConditionedActor(nn.Module):
    """Deterministic latent-conditioned policy μ(x, z) ∈ [-1, 1]^A (TD3-style, as in Meta Motivo)."""

    def __init__(
        self, in_dim: int, z_dim: int, action_dim: int, *, hidden_dim: int, hidden_layers: int, embedding_layers: int = 2
    ) -> None:
        super().__init__()
        self.embed_z = _embedding(in_dim + z_dim, hidden_dim, embedding_layers, 1)
        self.embed_s = _embedding(in_dim, hidden_dim, embedding_layers, 1)
        self.policy = _trunk(hidden_dim, hidden_layers, action_dim, 1)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        emb = torch.cat([self.embed_s(x), self.embed_z(torch.cat([x, z], dim=-1))], dim=-1)
        return torch.tanh(self.policy(emb))


class NoiseConditionedActor(nn.Module):
    """One-step policy π(x, z, ε) ∈ [-1, 1]^A of flow-BC (flow Q-learning, Park et al. 2025).

    The noise ε ~ N(0, I) is an input, so one network is a stochastic policy; it is distilled from the
    behaviour flow run from the same ε. Called without ``noise`` it draws ε itself, which is how it acts.
    """

    noise_conditioned = True  # its samples are already stochastic: no TD3 noise on top

    def __init__(
        self, in_dim: int, z_dim: int, action_dim: int, *, hidden_dim: int, hidden_layers: int, embedding_layers: int = 2
    ) -> None:
        super().__init__()
        self.action_dim = action_dim
        self.embed_z = _embedding(in_dim + z_dim + action_dim, hidden_dim, embedding_layers, 1)
        self.embed_s = _embedding(in_dim + action_dim, hidden_dim, embedding_layers, 1)
        self.policy = _trunk(hidden_dim, hidden_layers, action_dim, 1)

    def forward(self, x: torch.Tensor, z: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if noise is None:
            noise = torch.randn(*x.shape[:-1], self.action_dim, device=x.device, dtype=x.dtype)
        emb = torch.cat([self.embed_s(torch.cat([x, noise], dim=-1)), self.embed_z(torch.cat([x, z, noise], dim=-1))], dim=-1)
        return torch.tanh(self.policy(emb))


class VelocityField(nn.Module):
    """Behaviour flow v(x, a_t, t): the velocity that carries noise to the dataset's actions (GELU MLP)."""

    def __init__(self, in_dim: int, action_dim: int, *, hidden_dim: int, hidden_layers: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Linear(in_dim + action_dim + 1, hidden_dim), nn.GELU()]
        for _ in range(hidden_layers - 1):
            layers += [nn.Linear(hidden_dim, hidden_dim), nn.GELU()]
        layers.append(nn.Linear(hidden_dim, action_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, action: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, action, t], dim=-1))

    @torch.no_grad()
    def sample(self, x: torch.Tensor, noise: torch.Tensor, steps: int) -> torch.Tensor:
        """Euler integration of the flow from ``noise`` at t=0 to t=1 in ``steps`` steps, clamped to [-1, 1]."""
        action = noise
        for i in range(steps):
            t = torch.full((*noise.shape[:-1], 1), i / steps, device=noise.device, dtype=noise.dtype)
            action = action + self(x, action, t) / steps
        return action.clamp(-1.0, 1.0)


class FlowBCActor(nn.Module):
    """flow-BC actor: the one-step policy that acts, and the behaviour flow it is regularised towards."""

    noise_conditioned = True

    def __init__(
        self,
        in_dim: int,
        z_dim: int,
        action_dim: int,
        *,
        hidden_dim: int,
        hidden_layers: int,
        embedding_layers: int = 2,
        flow_hidden_dim: int = 512,
        flow_hidden_layers: int = 4,
    ) -> None:
        super().__init__()
        self.policy = NoiseConditionedActor(
            in_dim, z_dim, action_dim, hidden_dim=hidden_dim, hidden_layers=hidden_layers, embedding_layers=embedding_layers
        )
        self.flow = VelocityField(in_dim, action_dim, hidden_dim=flow_hidden_dim, hidden_layers=flow_hidden_layers)

    def forward(self, x: torch.Tensor, z: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        return self.policy(x, z, noise)


ACTOR_CLASSES = {"td3": ZConditionedActor, "flow_bc": FlowBCActor}


def build_actor(name: str, in_dim: int, z_dim: int, action_dim: int, **net) -> nn.Module:
    """The latent-conditioned actor ``name`` (td3 | flow_bc), initialised as the reference code does
    (orthogonal weights, zero biases)."""
    if name not in ACTOR_CLASSES:
        raise ValueError(f"actor.name={name!r} is not an actor; choose one of {sorted(ACTOR_CLASSES)}")
    actor = ACTOR_CLASSES[name](in_dim, z_dim, action_dim, **net)
    actor.apply(weight_init)
    return actor


def weight_init(module: nn.Module) -> None:
    """Orthogonal weights and zero biases for every ``nn.Linear`` (reference initialisation)."""
    if isinstance(module, nn.Linear):
        nn.init.orthogonal_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def init_reference_weights(model: nn.Module) -> None:
    """:func:`weight_init` on every sub-network of ``model`` except pretrained ones (a module with
    ``pretrained = True``, e.g. a trained policy's encoder used as observation encoder)."""
    for child in model.children():
        if not getattr(child, "pretrained", False):
            child.apply(weight_init)


def clipped_noise_action(mean_action: torch.Tensor, std: float, clip: float) -> torch.Tensor:
    """TD3-style exploration: μ + clip(ε·std, ±clip), kept inside (-1, 1) with a straight-through clamp."""
    if std == 0.0:
        return mean_action
    noise = (torch.randn_like(mean_action) * std).clamp(-clip, clip)
    action = mean_action + noise
    bound = 1.0 - 1e-6
    return action - action.detach() + action.detach().clamp(-bound, bound)


class frozen_parameters:
    """Context manager: ``module``'s parameters do not require grad inside (restored on exit).

    Autograd records requires_grad at forward time, so a loss built inside the block back-propagates
    into its inputs but never computes (and throws away) this module's weight gradients.
    """

    def __init__(self, module: nn.Module) -> None:
        self.params = [p for p in module.parameters() if p.requires_grad]

    def __enter__(self) -> None:
        for p in self.params:
            p.requires_grad_(False)

    def __exit__(self, *exc) -> None:
        for p in self.params:
            p.requires_grad_(True)
