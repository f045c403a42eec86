"""ACT-JEPA (arXiv 2501.14622; official code act-jepa/act-jepa ``models/act_jepa.py``) and ACT.

An action-chunking policy (ACT, Zhao et al. 2023) whose encoder is also trained by a JEPA objective:
a narrow predictor maps the context encoding of the current state to the *target* encoder's
latents of the future state sequence s_t..s_{t+H−1}.

    context tokens  c = E([g, s_t])                         g: goal/task token
    actions         â_{t:t+H} = D_a(queries_a; c)           one decoder layer + linear head
    latents         ẑ_{t:t+H} = P(queries_z; c)             narrow (128-d), 4 layers
    targets         z_{t:t+H} = Ē([g, s_t..s_{t+H−1}])      Ē: EMA copy of E (in the loss)

ACT is the same model without P and Ē (``jepa=False``; the official ACT baseline has no CVAE).
With ``image_tokens`` the context encoder also reads the current frame as a grid of tokens (a small
conv net here, a ResNet-18 feature map in the official code); the target encoder reads states only.
"""

from __future__ import annotations

import torch
from torch import nn

from representations.core.positions import sincos_1d, sincos_2d

CONDITIONS = ("goal", "task", "none")


class ConditionToken(nn.Module):
    """The encoder's first token: a projection of the goal observation, a learned task embedding
    (official: ``nn.Embedding(50, d)``), or a single learned token (unconditioned)."""

    def __init__(self, d_model: int, *, condition: str, goal_dim: int | None = None, num_tasks: int = 50) -> None:
        super().__init__()
        if condition not in CONDITIONS:
            raise ValueError(f"unknown condition {condition!r}; use one of {list(CONDITIONS)}")
        if condition == "goal" and not goal_dim:
            raise ValueError("condition='goal' needs the goal dimension")
        self.condition = condition
        if condition == "goal":
            self.project = nn.Linear(goal_dim, d_model)
        elif condition == "task":
            self.embed = nn.Embedding(num_tasks, d_model)
        else:
            self.token = nn.Parameter(torch.zeros(1, d_model))

    def forward(self, batch_size: int, goal: torch.Tensor | None, task: torch.Tensor | None) -> torch.Tensor:
        if self.condition == "goal":
            if goal is None:
                raise ValueError("this policy is goal-conditioned: pass the goal observation")
            return self.project(goal).unsqueeze(1)
        if self.condition == "task":
            if task is None:
                raise ValueError("this policy is task-conditioned: pass the task index")
            return self.embed(task.long()).unsqueeze(1)
        return self.token.expand(batch_size, 1, -1)


class ImageTokenizer(nn.Module):
    """Frame → h·w tokens: conv feature map, 1×1 conv to d, 2-D sin-cos positions, flattened
    (the official encoder does this to ResNet-18's last feature map)."""

    def __init__(self, d_model: int, *, channels: int = 32, in_channels: int = 3) -> None:
        super().__init__()
        self.net = nn.Sequential(  # each stride-2 layer halves the side: 64 px -> an 8 x 8 grid
            nn.Conv2d(in_channels, channels, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.proj = nn.Conv2d(channels, d_model, 1)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        features = self.proj(self.net(pixels.float() / 255.0 - 0.5))  # [B, d, h, w]
        _, dim, height, width = features.shape
        return features.flatten(2).transpose(1, 2) + sincos_2d(height, width, dim, device=pixels.device)


class ObservationSequenceEncoder(nn.Module):
    """ACT's transformer encoder over [condition token, state tokens] (post-norm layers + final
    LayerNorm). The context encoder reads one state; the target encoder, the same class, reads the
    future state sequence with 1-D sin-cos positions and a padding mask."""

    def __init__(
        self,
        state_dim: int,
        d_model: int,
        *,
        heads: int,
        ffn_dim: int,
        layers: int,
        dropout: float,
        condition: str,
        goal_dim: int | None,
        num_tasks: int,
        image_tokens: bool = False,
        image_channels: int = 32,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.images = ImageTokenizer(d_model, channels=image_channels) if image_tokens else None
        self.condition = ConditionToken(d_model, condition=condition, goal_dim=goal_dim, num_tasks=num_tasks)
        self.state_proj = nn.Linear(state_dim, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, ffn_dim, dropout, activation="relu", batch_first=True, norm_first=False
        )
        self.transformer = nn.TransformerEncoder(layer, layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)

    def forward(
        self,
        states: torch.Tensor,
        goal: torch.Tensor | None = None,
        task: torch.Tensor | None = None,
        state_is_pad: torch.Tensor | None = None,
        pixels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``states`` [B, T, D] (and a frame ``pixels`` [B, 3, S, S]) → tokens [B, 1 + T (+ h·w), d]:
        the condition, the states, then the image tokens."""
        batch, length = states.shape[:2]
        tokens = self.state_proj(states) + sincos_1d(length, self.d_model, device=states.device)
        parts = [self.condition(batch, goal, task), tokens]
        if pixels is not None:
            if self.images is None:
                raise ValueError("this policy has no image tokens (representation.image_tokens=false) but got pixels")
            parts.append(self.images(pixels))
        tokens = torch.cat(parts, dim=1)
        pad = None
        if state_is_pad is not None:
            pad = torch.zeros(tokens.shape[:2], dtype=torch.bool, device=states.device)
            pad[:, 1 : 1 + length] = state_is_pad.bool()
        return self.transformer(tokens, src_key_padding_mask=pad)


class QueryDecoder(nn.Module):
    """``num_queries`` learned queries cross-attending to encoder tokens (DETR/ACT decoder), then a
    linear head. The action decoder and ACT-JEPA's narrow predictor are both of this kind."""

    def __init__(
        self,
        num_queries: int,
        memory_dim: int,
        d_model: int,
        out_dim: int,
        *,
        heads: int,
        ffn_dim: int,
        layers: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(num_queries, d_model) * 0.02)
        self.in_proj = nn.Linear(memory_dim, d_model) if memory_dim != d_model else nn.Identity()
        layer = nn.TransformerDecoderLayer(
            d_model, heads, ffn_dim, dropout, activation="relu", batch_first=True, norm_first=False
        )
        self.decoder = nn.TransformerDecoder(layer, layers, norm=nn.LayerNorm(d_model))
        self.head = nn.Linear(d_model, out_dim)

    def forward(self, memory: torch.Tensor) -> torch.Tensor:
        queries = self.queries.expand(memory.shape[0], -1, -1)
        return self.head(self.decoder(queries, self.in_proj(memory)))


class ACTJEPA(nn.Module):
    """Action-chunking policy with (``jepa=True``, ACT-JEPA) or without (ACT) the JEPA predictor."""

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        *,
        chunk: int = 30,
        jepa: bool = True,
        condition: str = "goal",
        goal_dim: int | None = None,
        num_tasks: int = 50,
        d_model: int = 256,
        heads: int = 8,
        ffn_dim: int = 1024,
        encoder_layers: int = 4,
        decoder_layers: int = 1,
        dropout: float = 0.1,
        predictor_dim: int = 128,
        predictor_ffn_dim: int = 512,
        predictor_layers: int = 4,
        image_tokens: bool = False,
        image_channels: int = 32,
    ) -> None:
        super().__init__()
        self.state_dim, self.action_dim, self.chunk, self.jepa = state_dim, action_dim, chunk, jepa
        self.image_tokens = image_tokens
        self.condition = condition
        goal_dim = goal_dim if goal_dim is not None else state_dim
        self.context_encoder = ObservationSequenceEncoder(
            state_dim,
            d_model,
            heads=heads,
            ffn_dim=ffn_dim,
            layers=encoder_layers,
            dropout=dropout,
            condition=condition,
            goal_dim=goal_dim,
            num_tasks=num_tasks,
            image_tokens=image_tokens,
            image_channels=image_channels,
        )
        self.action_decoder = QueryDecoder(
            chunk, d_model, d_model, action_dim, heads=heads, ffn_dim=ffn_dim, layers=decoder_layers, dropout=dropout
        )
        self.predictor = (
            QueryDecoder(
                chunk,
                d_model,
                predictor_dim,
                d_model,
                heads=heads,
                ffn_dim=predictor_ffn_dim,
                layers=predictor_layers,
                dropout=dropout,
            )
            if jepa
            else None
        )
        self.feature_dim = 2 * d_model  # condition token + state token

    def encode(
        self,
        observation: torch.Tensor,
        goal: torch.Tensor | None = None,
        task: torch.Tensor | None = None,
        pixels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Context tokens [B, 2 (+ h·w), d] of the current state (and frame)."""
        if self.image_tokens and pixels is None:
            raise ValueError(
                "this policy reads image tokens: pass the frame (pixels); collect demonstrations with env.pixels=<size>"
            )
        return self.context_encoder(observation.unsqueeze(1), goal, task, pixels=pixels)

    def features(
        self,
        observation: torch.Tensor,
        goal: torch.Tensor | None = None,
        task: torch.Tensor | None = None,
        pixels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Flat encoding [B, 2d] of the condition and state tokens (what the probes and the zero-shot agent read)."""
        return self.encode(observation, goal, task, pixels)[:, :2].flatten(1)

    def predict_actions(
        self,
        observation: torch.Tensor,
        goal: torch.Tensor | None = None,
        task: torch.Tensor | None = None,
        pixels: torch.Tensor | None = None,
        context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The action chunk [B, H, A] for the next H steps."""
        context = self.encode(observation, goal, task, pixels) if context is None else context
        return self.action_decoder(context)

    def predict_latents(self, context: torch.Tensor) -> torch.Tensor:
        """ẑ [B, H, d]: the predictor's guess of the target encoder's future-state tokens."""
        if self.predictor is None:
            raise ValueError("ACT (jepa=False) has no latent predictor")
        return self.predictor(context)


class MLPBC(nn.Module):
    """Behaviour-cloning baseline: an MLP from [s_t, goal] (or a one-hot task) to the action chunk."""

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        *,
        chunk: int = 30,
        condition: str = "goal",
        goal_dim: int | None = None,
        num_tasks: int = 50,
        hidden_dim: int = 512,
        hidden_layers: int = 3,
    ) -> None:
        super().__init__()
        if condition not in CONDITIONS:
            raise ValueError(f"unknown condition {condition!r}; use one of {list(CONDITIONS)}")
        self.state_dim, self.action_dim, self.chunk, self.jepa, self.condition = state_dim, action_dim, chunk, False, condition
        self.num_tasks = num_tasks
        cond_dim = {"goal": goal_dim if goal_dim is not None else state_dim, "task": num_tasks, "none": 0}[condition]
        layers: list[nn.Module] = []
        width = state_dim + cond_dim
        for _ in range(hidden_layers):
            layers += [nn.Linear(width, hidden_dim), nn.ReLU()]
            width = hidden_dim
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Linear(width, chunk * action_dim)
        self.feature_dim = width

    def _input(self, observation, goal, task) -> torch.Tensor:
        if self.condition == "goal":
            if goal is None:
                raise ValueError("this policy is goal-conditioned: pass the goal observation")
            return torch.cat([observation, goal], dim=-1)
        if self.condition == "task":
            if task is None:
                raise ValueError("this policy is task-conditioned: pass the task index")
            return torch.cat([observation, nn.functional.one_hot(task.long(), self.num_tasks).to(observation.dtype)], dim=-1)
        return observation

    image_tokens = False

    def features(
        self,
        observation: torch.Tensor,
        goal: torch.Tensor | None = None,
        task: torch.Tensor | None = None,
        pixels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.trunk(self._input(observation, goal, task))  # state input only: pixels are not read

    encode = features  # what predict_actions(context=...) consumes

    def predict_actions(
        self,
        observation: torch.Tensor,
        goal: torch.Tensor | None = None,
        task: torch.Tensor | None = None,
        pixels: torch.Tensor | None = None,
        context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        features = self.features(observation, goal, task) if context is None else context
        return self.head(features).reshape(-1, self.chunk, self.action_dim)
