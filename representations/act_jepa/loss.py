"""ACT-JEPA objective (official ``ActJepaModel.loss_function``) as a TorchRL LossModule.

    L = mean_{real (b,k)} |â_{t+k} − a_{t+k}|  +  λ · mean_{real (b,k)} |ẑ_{t+k} − sg(Ē(g, s_{t:t+H}))_k|

Both L1 terms ignore padded entries (windows that run past the end of an episode: ``action_is_pad``,
``state_is_pad``); λ = 1 in the paper. The target encoder Ē is an EMA copy of the context encoder,
always in eval mode; its momentum follows ``core.targets.linear_momentum`` (0.996 → 1.0), stepped
by torchrl's ``SoftUpdate`` after each optimiser step. ACT and MLP-BC use the action term only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tensordict import TensorDict, TensorDictBase
from tensordict.nn import TensorDictParams
from tensordict.utils import NestedKey
from torch import nn
from torchrl.objectives import LossModule

from representations.core.targets import add_target_network
from representations.core.collapse import collapse_diagnostics


def masked_l1(prediction: torch.Tensor, target: torch.Tensor, is_pad: torch.Tensor) -> torch.Tensor:
    """Mean |prediction − target| over the entries of real (not padded) steps; ``is_pad`` [B, H]."""
    real = (~is_pad.bool()).unsqueeze(-1).to(prediction.dtype)
    count = real.sum() * prediction.shape[-1]
    return ((prediction - target).abs() * real).sum() / count.clamp_min(1.0)


class ActionChunkLoss(LossModule):
    """L1 on action chunks, plus (for ACT-JEPA) L1 between predicted and target future-state latents."""

    @dataclass
    class _AcceptedKeys:
        observation: NestedKey = "observation"
        goal: NestedKey = "goal"
        task: NestedKey = "task"
        actions: NestedKey = "actions"
        action_is_pad: NestedKey = "action_is_pad"
        states: NestedKey = "states"
        state_is_pad: NestedKey = "state_is_pad"
        pixels: NestedKey = "pixels"

    default_keys = _AcceptedKeys
    tensor_keys: _AcceptedKeys
    out_keys = ["loss_action", "loss_latent"]

    context_encoder_params: TensorDictParams
    target_context_encoder_params: TensorDictParams

    def __init__(self, model: nn.Module, *, latent_coef: float = 1.0) -> None:
        super().__init__()
        self.model = model
        self.latent_coef = latent_coef
        if model.jepa:
            self.target_context_encoder = add_target_network(self, "context_encoder", model.context_encoder).eval()

    @property
    def in_keys(self):  # noqa: D102
        keys = self.tensor_keys
        return [keys.observation, keys.goal, keys.task, keys.actions, keys.action_is_pad, keys.states, keys.state_is_pad]

    def _forward_value_estimator_keys(self, **kwargs) -> None:
        pass

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        keys, model = self.tensor_keys, self.model
        obs = tensordict.get(keys.observation)
        goal, task = tensordict.get(keys.goal, None), tensordict.get(keys.task, None)
        pixels = tensordict.get(keys.pixels, None) if model.image_tokens else None
        context = model.encode(obs, goal, task, pixels)  # computed once for the action and latent heads
        actions = model.predict_actions(obs, goal, task, context=context)
        out = {"loss_action": masked_l1(actions, tensordict.get(keys.actions), tensordict.get(keys.action_is_pad))}
        if model.jepa:
            horizon = model.chunk
            states = tensordict.get(keys.states)[:, :horizon]  # s_t .. s_{t+H−1}
            state_is_pad = tensordict.get(keys.state_is_pad)[:, :horizon]
            with torch.no_grad():
                target = self.target_context_encoder(states, goal, task, state_is_pad)[:, 1:]  # drop the condition token
            predicted = model.predict_latents(context)
            out["loss_latent"] = self.latent_coef * masked_l1(predicted, target, state_is_pad)
            out["target_latent_std"] = target.std(dim=(0, 1)).mean().detach()  # collapse watch
            out.update(collapse_diagnostics(predicted.detach().mean(1), target.mean(1)))  # pooled over the chunk
        return TensorDict(out, batch_size=[])
