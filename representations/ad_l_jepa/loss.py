"""AD-L-JEPA objective (Zhu et al., arXiv 2501.04969, §3) and the Occupancy-MAE baseline as TorchRL LossModules.

AD-L-JEPA, per step:
    masks      M_ne (exactly ratio · n_b non-empty BEV cells), M_e (Bernoulli(ratio) empty cells)   ``bev_masks``
    context    E(bev without the points of masked cells) → tokens; masked → mask_token, visible empty → empty_token
    target     Ē(bev with ONLY the masked cells' points)  → tokens; masked empty → empty_token    (no grad; EMA)
    predict    p = norm(P(context tokens))
    L_jepa  = w_ne · mean_{M_ne}(1 − cos(p, t)) + w_e · mean_{M_e}(1 − cos(p, t))          (w_ne = .75, w_e = .25)
    L_reg   = hinge(context tokens at visible non-empty cells) + hinge(p at M_ne)
    hinge   = mean over samples, channels of relu(v − sqrt(Var_cells + 1e-4)),  v = 1/√C      (1/16 at C = 256)
    loss    = α · L_jepa + β · L_reg

Ē is an EMA copy of the backbone (``add_target_network``): step torchrl's ``SoftUpdate(loss, eps=m)`` after each
optimiser step with m = ``linear_momentum(step, total, 0.996, 1.0)``. SoftUpdate moves the learned parameters only;
the target's BatchNorm statistics are its own (it runs in train mode on the masked points). The tokens are not
EMA'd: as in the released code (``pcdet/models/backbones_3d/ad_l_jepa.py``), the target map's masked empty cells
take the online ``empty_token``, which therefore also learns from that side (the backbone stays under no_grad).
``ema_encoder()`` gives the EMA backbone with the online tokens as a :class:`BEVTokenEncoder` for downstream use.
Masks are not read from the tensordict: the loss samples them with its own CPU ``torch.Generator`` (``seed``).
The only key read is the BEV grid (``bev``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tensordict import TensorDict, TensorDictBase
from tensordict.nn import TensorDictParams
from tensordict.utils import NestedKey
from torchrl.objectives import LossModule

from representations.ad_l_jepa.model import (
    ADLJEPA,
    BEVTokenEncoder,
    OccupancyMAE,
    bev_masks,
    input_occupancy,
    l2_normalize,
    split_points,
)
from representations.core.targets import add_target_network
from representations.core.collapse import rankme


def masked_mean(values: torch.Tensor, mask: torch.Tensor, dim: tuple[int, ...] | None = None) -> torch.Tensor:
    """Mean of ``values`` where ``mask`` (broadcast to them) holds, over ``dim`` (all dims by default); 0 (still
    differentiable) where it holds nowhere."""
    mask = mask.to(values.dtype).expand_as(values)
    total = (values * mask).sum() if dim is None else (values * mask).sum(dim)
    count = mask.sum() if dim is None else mask.sum(dim)
    return total / count.clamp_min(1.0)


def jepa_cosine_loss(
    prediction: torch.Tensor,
    target: torch.Tensor,
    masked_nonempty: torch.Tensor,
    masked_empty: torch.Tensor,
    nonempty_weight: float = 0.75,
    empty_weight: float = 0.25,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L_jepa, mean cos at masked non-empty cells, mean cos at masked empty cells) for L2-normalised maps
    [B, C, Hc, Wc] (paper: 0.75 · mean(1 − cos) over masked non-empty + 0.25 · over masked empty cells)."""
    cos = (prediction * target).sum(dim=1)  # both maps are unit vectors per cell
    cos_nonempty, cos_empty = masked_mean(cos, masked_nonempty), masked_mean(cos, masked_empty)
    loss = nonempty_weight * masked_mean(1 - cos, masked_nonempty) + empty_weight * masked_mean(1 - cos, masked_empty)
    return loss, cos_nonempty, cos_empty


def variance_hinge(features: torch.Tensor, mask: torch.Tensor, target_std: float, eps: float = 1e-4) -> torch.Tensor:
    """AD-L-JEPA variance regulariser: mean over samples and channels of relu(v − sqrt(Var + eps)), with Var the
    unbiased per-channel variance over the ``mask``ed cells of each sample. features [B, C, H, W], mask bool
    [B, H, W]. Samples with fewer than 2 such cells are left out; with none left the term is 0."""
    m = mask[:, None].to(features.dtype)
    count = m.sum(dim=(2, 3))  # [B, 1]
    masked = features * m
    mean = masked.sum(dim=(2, 3)) / count.clamp_min(1.0)
    # Σ_cells (f − mean)² = Σ f² − n·mean² over the masked cells
    var = ((masked * masked).sum(dim=(2, 3)) - count * mean * mean).clamp_min(0.0) / (count - 1).clamp_min(1.0)
    hinge = F.relu(target_std - torch.sqrt(var + eps))  # [B, C]
    valid = (count >= 2).to(features.dtype)  # [B, 1]
    return (hinge * valid).sum() / (valid.sum() * features.shape[1]).clamp_min(1.0)


def _pooled_std(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over channels of the std of ``features`` [B, C, H, W] across all ``mask``ed cells (a collapse watch)."""
    cells = features.detach().movedim(1, -1)[mask]  # [N, C]
    return cells.std(dim=0).mean() if cells.shape[0] > 1 else features.new_zeros(())


class _BEVLoss(LossModule):
    """Shared plumbing: the ``bev`` key, the mask generator and the finite-loss check."""

    @dataclass
    class _AcceptedKeys:
        bev: NestedKey = "bev"

    default_keys = _AcceptedKeys
    tensor_keys: _AcceptedKeys

    def __init__(self, mask_ratio: float, seed: int | None, check_finite: bool) -> None:
        super().__init__()
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must lie in (0, 1), got {mask_ratio}")
        self.mask_ratio, self.check_finite = float(mask_ratio), check_finite
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)

    @property
    def in_keys(self):  # noqa: D102
        return [self.tensor_keys.bev]

    def _forward_value_estimator_keys(self, **kwargs) -> None:
        pass

    def sample_masks(self, tensordict: TensorDictBase):
        """(bev, occupancy, masked non-empty, masked empty, masked) of a batch: masks sampled with the loss's own
        generator (``bev_masks``)."""
        encoder = self.model.encoder
        bev = encoder.check(tensordict.get(self.tensor_keys.bev))
        occupancy = encoder.cell_occupancy(bev)
        masked_nonempty, masked_empty = bev_masks(occupancy, self.mask_ratio, self.generator)
        return bev, occupancy, masked_nonempty, masked_empty, masked_nonempty | masked_empty

    def _finite(self, name: str, value: torch.Tensor) -> None:
        if self.check_finite and not bool(torch.isfinite(value).all()):
            raise FloatingPointError(
                f"{type(self).__name__}: {name} is {value.item()} (not finite); check the BEV "
                "inputs for NaN/inf and lower the learning rate"
            )


class ADLJEPALoss(_BEVLoss):
    """AD-L-JEPA pretraining loss (module docstring). Returns ``loss_jepa`` (α·L_jepa), ``loss_variance``
    (β·L_reg) and detached diagnostics ``cos_nonempty``, ``cos_empty``, ``target_std``, ``prediction_std``
    (channel-mean std across masked non-empty cells; ≈ 1/√C for spread-out unit vectors, → 0 at collapse) and
    ``masked_fraction`` (share of all BEV cells masked, ≈ mask_ratio)."""

    out_keys = ["loss_jepa", "loss_variance", "cos_nonempty", "cos_empty", "target_std", "prediction_std", "masked_fraction"]

    encoder_params: TensorDictParams
    target_encoder_params: TensorDictParams

    def __init__(
        self,
        model: ADLJEPA,
        *,
        mask_ratio: float = 0.5,
        nonempty_weight: float = 0.75,
        empty_weight: float = 0.25,
        alpha: float = 1.0,
        beta: float = 1.0,
        variance_target: float | None = None,
        seed: int | None = None,
        check_finite: bool = True,
    ) -> None:
        super().__init__(mask_ratio, seed, check_finite)
        self.model = model
        self.nonempty_weight, self.empty_weight = float(nonempty_weight), float(empty_weight)
        self.alpha, self.beta = float(alpha), float(beta)
        self.variance_target = float(variance_target) if variance_target is not None else model.channels**-0.5
        self.target_encoder = add_target_network(self, "encoder", model.encoder.backbone)  # Ē: EMA backbone

    def target_tokens(self, target_bev: torch.Tensor, masked_nonempty: torch.Tensor, masked_empty: torch.Tensor) -> torch.Tensor:
        """Target map: L2-normalised Ē(only the masked points) at masked non-empty cells, the normalised (online)
        empty token at masked empty cells; other cells are never read."""
        with torch.no_grad():
            self.target_encoder.train(self.training)
            features = l2_normalize(self.target_encoder(target_bev))
        empty = l2_normalize(self.model.encoder.empty_token).to(features.dtype)
        return torch.where(masked_empty[:, None], empty, features)

    def ema_encoder(self) -> BEVTokenEncoder:
        """A copy of the model's :class:`BEVTokenEncoder` whose backbone carries the EMA target's weights and BN
        statistics (tokens: the online ones), for frozen downstream use (``.eval()`` it)."""
        from representations.ad_l_jepa.encoder import with_backbone

        return with_backbone(self.model.encoder, self.target_encoder)

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        encoder = self.model.encoder
        bev, occupancy, masked_nonempty, masked_empty, masked = self.sample_masks(tensordict)
        context_bev, target_bev = split_points(bev, masked, encoder.downsample)  # complementary split

        targets = self.target_tokens(target_bev, masked_nonempty, masked_empty)
        # normalised features at visible non-empty cells; masked → mask token, visible empty → empty token
        context = encoder.tokenize(encoder.backbone(context_bev), occupancy, masked)
        prediction = self.model.predictor(context)

        l_jepa, cos_nonempty, cos_empty = jepa_cosine_loss(
            prediction, targets, masked_nonempty, masked_empty, self.nonempty_weight, self.empty_weight
        )
        l_reg = (
            variance_hinge(context, occupancy & ~masked, self.variance_target)  # context non-empty cells
            + variance_hinge(prediction, masked_nonempty, self.variance_target)
        )
        loss_jepa, loss_variance = self.alpha * l_jepa, self.beta * l_reg
        self._finite("loss_jepa", loss_jepa)
        self._finite("loss_variance", loss_variance)
        with torch.no_grad():
            diagnostics = {
                "cos_nonempty": cos_nonempty.detach(),
                "cos_empty": cos_empty.detach(),
                "target_std": _pooled_std(targets.detach(), masked_nonempty),
                "prediction_std": _pooled_std(prediction.detach(), masked_nonempty),
                # effective rank of the per-sample means over masked non-empty cells ([B, C])
                "feature_rankme": rankme(masked_mean(prediction.detach(), masked_nonempty.unsqueeze(1), dim=(2, 3))),
                "target_rankme": rankme(masked_mean(targets.detach(), masked_nonempty.unsqueeze(1), dim=(2, 3))),
                "masked_fraction": masked.float().mean(),
            }
        return TensorDict({"loss_jepa": loss_jepa, "loss_variance": loss_variance, **diagnostics}, batch_size=[])


class OccupancyMAELoss(_BEVLoss):
    """Occupancy-MAE-style baseline (Min et al., "Occupancy-MAE", IEEE T-IV 2023), on the same encoder.

    Same masks as AD-L-JEPA (``mask_ratio`` of the non-empty cells, Bernoulli(``mask_ratio``) of the empty cells);
    the encoder sees the visible points only; the token map (masked → mask_token, visible empty → empty_token)
    goes through :class:`~representations.ad_l_jepa.model.OccupancyDecoder`, which predicts for every input cell
    of the masked BEV cells whether it holds points: binary cross-entropy on input-resolution occupancy.

    ``pos_weight``: occupied input cells are the minority of a masked region, so by default (``None``) positives
    are weighted by n_neg / n_pos of the batch's masked region (clamped to [1, ``max_pos_weight``]), which keeps
    the decoder from settling on "all empty"; a float fixes the weight (1.0 = plain BCE).
    Returns ``loss_occupancy`` and detached ``occupancy_accuracy`` (threshold 0.5 over the masked input cells),
    ``occupancy_recall`` (on the occupied ones) and ``masked_fraction``.
    """

    out_keys = ["loss_occupancy", "occupancy_accuracy", "occupancy_recall", "masked_fraction"]

    def __init__(
        self,
        model: OccupancyMAE,
        *,
        mask_ratio: float = 0.5,
        pos_weight: float | None = None,
        max_pos_weight: float = 20.0,
        seed: int | None = None,
        check_finite: bool = True,
    ) -> None:
        super().__init__(mask_ratio, seed, check_finite)
        self.model = model
        self.pos_weight, self.max_pos_weight = pos_weight, float(max_pos_weight)

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        encoder = self.model.encoder
        bev, occupancy, masked_nonempty, masked_empty, masked = self.sample_masks(tensordict)
        context_bev, _ = split_points(bev, masked, encoder.downsample)
        tokens = encoder.tokenize(encoder.backbone(context_bev), occupancy, masked)
        logits = self.model.decoder(tokens)  # [B, H, W]

        labels = input_occupancy(bev).to(logits.dtype)
        region = encoder.expand_cells(masked).to(logits.dtype)
        if self.pos_weight is None:
            positives = (labels * region).sum()
            weight = ((region.sum() - positives) / positives.clamp_min(1.0)).clamp(1.0, self.max_pos_weight)
        else:
            weight = torch.as_tensor(float(self.pos_weight), dtype=logits.dtype, device=logits.device)
        per_cell = F.binary_cross_entropy_with_logits(logits, labels, pos_weight=weight.detach(), reduction="none")
        loss = (per_cell * region).sum() / region.sum().clamp_min(1.0)
        self._finite("loss_occupancy", loss)
        with torch.no_grad():
            correct = ((logits > 0).to(logits.dtype) == labels).to(logits.dtype)
            diagnostics = {
                "occupancy_accuracy": masked_mean(correct, region > 0),
                "occupancy_recall": masked_mean(correct, (region * labels) > 0),
                "masked_fraction": masked.float().mean(),
            }
        return TensorDict({"loss_occupancy": loss, **diagnostics}, batch_size=[])
