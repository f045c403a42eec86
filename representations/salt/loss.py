"""SALT objectives (arXiv 2509.24317), both on V-JEPA multi-block masks (the same generators in both stages).

Stage 1, :class:`PixelTeacherLoss` — masked pixel reconstruction (VideoMAE/MAE-style, V-JEPA masks):

    L_T = 1/G · Σ_i mean |D(E(x; c_i), δ_i) − norm(patches(x))[t_i]|

``norm`` is MAE's ``norm_pix_loss`` (each target patch minus its mean, over sqrt(unbiased var + 1e-6)),
on by default. VideoMAE/MAE use MSE; secondary accounts of SALT report L1, which we use (V-JEPA's loss too).

Stage 2, :class:`StudentLoss` — masked latent prediction against the frozen teacher f̄ (SALT eq. for the student):

    L_S = 1/G · Σ_i mean |g(f_θ(x; c_i), δ_i) − f̄(x)[t_i]|

f̄ is the teacher's encoder on the full input, frozen (no gradient, no EMA, always eval mode). Its tokens
already end in the encoder's LayerNorm; ``layer_norm_targets=True`` adds V-JEPA's extra affine-free
``F.layer_norm``. Because the target never moves, ``loss_prediction`` is comparable across steps and runs:
SALT uses it as the model-selection signal.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from tensordict import TensorDict, TensorDictBase

from representations.core.masks import apply_masks
from representations.salt.model import PixelTeacher, SALTStudent
from representations.vjepa.loss import MaskedLatentLoss, MaskGenerator
from representations.vjepa.model import default_mask_generators
from representations.core.collapse import collapse_diagnostics


def normalize_patches(patches: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """MAE ``norm_pix_loss`` targets: per patch (last dim), (x − mean) / sqrt(var + eps), var unbiased."""
    mean = patches.mean(dim=-1, keepdim=True)
    var = patches.var(dim=-1, keepdim=True)
    return (patches - mean) / (var + eps).sqrt()


class PixelTeacherLoss(MaskedLatentLoss):
    out_keys = ["loss_reconstruction"]

    def __init__(
        self,
        teacher: PixelTeacher,
        *,
        mask_generators: Sequence[MaskGenerator] | None = None,
        norm_pix: bool = True,
        seed: int | None = None,
    ) -> None:
        generators = default_mask_generators(teacher.grid) if mask_generators is None else mask_generators
        super().__init__(generators, len(teacher.decoder.mask_tokens), seed)
        self.teacher, self.norm_pix = teacher, norm_pix

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        x = tensordict.get(self.tensor_keys.pixels)
        targets = self.teacher.patches(x)
        if self.norm_pix:
            targets = normalize_patches(targets)
        errors = []
        for i, (context_idx, target_idx) in enumerate(self.sample_masks(x.shape[0])):
            predicted = self.teacher.reconstruct(x, context_idx, target_idx, mask_index=i)
            errors.append((predicted - apply_masks(targets, target_idx)).abs().mean())
        return TensorDict({"loss_reconstruction": torch.stack(errors).mean()}, batch_size=[])


class StudentLoss(MaskedLatentLoss):
    out_keys = ["loss_prediction"]

    def __init__(
        self,
        student: SALTStudent,
        teacher: PixelTeacher,
        *,
        mask_generators: Sequence[MaskGenerator] | None = None,
        layer_norm_targets: bool = False,
        seed: int | None = None,
    ) -> None:
        if tuple(student.grid) != tuple(teacher.grid):
            raise ValueError(
                f"student token grid {student.grid} differs from the teacher's {teacher.grid}: "
                "use the same image/clip size, patch size and tubelet"
            )
        if student.target_dim != teacher.feature_dim:
            raise ValueError(
                f"the student predicts {student.target_dim}-d tokens but the teacher's are "
                f"{teacher.feature_dim}-d: build SALTStudent(teacher_dim={teacher.feature_dim})"
            )
        generators = default_mask_generators(student.grid) if mask_generators is None else mask_generators
        super().__init__(generators, len(student.predictor.mask_tokens), seed)
        self.student, self.layer_norm_targets = student, layer_norm_targets
        # a registered child so .to(device) moves it; frozen, so it never gets gradients or optimiser updates
        self.teacher = teacher.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> "StudentLoss":
        super().train(mode)
        self.teacher.eval()  # the static teacher never changes mode
        return self

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        x = tensordict.get(self.tensor_keys.pixels)
        with torch.no_grad():
            targets = self.teacher.encoder(x)  # f̄(x): the full input
            if self.layer_norm_targets:
                targets = F.layer_norm(targets, targets.shape[-1:])
        errors, pooled = [], []
        for i, (context_idx, target_idx) in enumerate(self.sample_masks(x.shape[0])):
            predicted = self.student.predict(x, context_idx, target_idx, mask_index=i)
            errors.append((predicted - apply_masks(targets, target_idx)).abs().mean())
            pooled.append(predicted.detach().flatten(1, -2).mean(1))
        # collapse watch: the student's predictions vs the frozen teacher's features (which cannot collapse)
        return TensorDict(
            {
                "loss_prediction": torch.stack(errors).mean(),
                **collapse_diagnostics(torch.stack(pooled).mean(0), targets.flatten(1, -2).mean(1)),
            },
            batch_size=[],
        )
