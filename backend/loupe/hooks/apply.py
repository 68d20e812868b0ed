"""Check interventions against a model and apply them to activation tensors."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import torch

from loupe.errors import LoupeError
from loupe.hooks.interventions import Ablate, Feature, Intervention, Patch, Scale, Steer
from loupe.hooks.points import HookPoint, HookPoints
from loupe.models.config import ModelConfig

if TYPE_CHECKING:
    from loupe.features.sae import SAE


class Resolver(Protocol):
    """Turns an intervention's references into objects."""

    def __call__(self, kind: str, ref: object, hook: str) -> torch.Tensor:
        """kind "source" (an activation of another run at `hook`) or "vector" -> a tensor."""

    def sae(self, ref: object) -> SAE:
        """An SAE id or object -> the SAE, checked against the model."""


@dataclass(frozen=True)
class Where:
    """Where in the sequence a hook call is: `offset` tokens already cached, `seq_len` tokens of prompt."""

    offset: int
    seq_len: int
    batch: int


@dataclass(frozen=True)
class Bound:
    """An intervention checked against one model, with its tensors resolved."""

    iv: Intervention
    point: HookPoint
    tensor: torch.Tensor | None
    length: int | None = None  # the row's real length when batched with longer rows (for mean ablation)
    sae: Any = None  # the SAE of a Feature intervention (then `tensor` is the feature's decoder direction)

    def apply(self, x: torch.Tensor, where: Where) -> torch.Tensor:
        mask = _selection(x, self.iv, self.point, where)
        if mask is None:
            return x
        iv = self.iv
        if isinstance(iv, Feature):
            return torch.where(mask, x + self._feature_step(x), x)
        if isinstance(iv, Ablate):
            if iv.mode == "zero":
                return x.masked_fill(mask, 0.0)
            ref = self.tensor if self.tensor is not None else self._own(x)
            mean = ref.mean(dim=(0, self.point.pos_dim), keepdim=True).to(x.dtype)
            return torch.where(mask, mean, x)
        if isinstance(iv, Patch):
            source, avail = self._aligned_source(x, where)
            if avail < x.shape[self.point.pos_dim]:  # positions the source does not have stay as they are
                shape = [1] * x.dim()
                shape[self.point.pos_dim] = x.shape[self.point.pos_dim]
                mask = mask & (torch.arange(shape[self.point.pos_dim], device=x.device) < avail).view(shape)
            return torch.where(mask, source, x)
        assert self.tensor is not None
        v = self.tensor.to(dtype=x.dtype, device=x.device)
        if isinstance(iv, Steer):
            return torch.where(mask, x + iv.scale * v, x)
        assert isinstance(iv, Scale)
        if iv.direction is None:
            return torch.where(mask, x * v, x)
        proj = (x @ v).unsqueeze(-1) * v
        return torch.where(mask, x + (iv.factor - 1.0) * proj, x)

    def _feature_step(self, x: torch.Tensor) -> torch.Tensor:
        """What a Feature intervention adds to x: a multiple of the feature's decoder direction, per token."""
        assert isinstance(self.iv, Feature) and self.tensor is not None
        iv, direction = self.iv, self.tensor.to(device=x.device, dtype=x.dtype)
        value = float(iv.value or 0.0)
        if iv.mode == "add":
            return value * direction
        a = self.sae.activation(x, iv.index).to(device=x.device, dtype=x.dtype).unsqueeze(-1)
        coef = value - a if iv.mode == "set" else (value - 1.0) * a if iv.mode == "scale" else -a
        added: torch.Tensor = coef * direction
        return added

    def _own(self, x: torch.Tensor) -> torch.Tensor:
        """The part of `x` this intervention's rows own: their rows, and their real positions when batched."""
        if self.iv.rows is not None:
            x = x[list(self.iv.rows)]
        if self.length is not None:
            x = x.narrow(self.point.pos_dim, 0, min(self.length, x.shape[self.point.pos_dim]))
        return x

    def _aligned_source(self, x: torch.Tensor, where: Where) -> tuple[torch.Tensor, int]:
        """The source activation at the absolute positions of `x`, zero-padded, and how many it covers."""
        assert self.tensor is not None
        src = self.tensor.to(dtype=x.dtype, device=x.device)
        pd, t = self.point.pos_dim, x.shape[self.point.pos_dim]
        if src.shape[0] not in (1, x.shape[0]):
            raise LoupeError("bad_intervention", f"patch source has batch {src.shape[0]}, run has {x.shape[0]}")
        avail = max(0, min(t, src.shape[pd] - where.offset))
        part = src.narrow(pd, min(where.offset, src.shape[pd]), avail)
        if avail < t:
            pad_shape = list(part.shape)
            pad_shape[pd] = t - avail
            part = torch.cat([part, part.new_zeros(pad_shape)], dim=pd)
        if part.shape[1:] != x.shape[1:]:
            raise LoupeError(
                "bad_intervention",
                f"patch source for {self.point.name} has shape {tuple(src.shape)}, "
                f"incompatible with this run's {tuple(x.shape)}",
            )
        return part.expand_as(x), avail


def bind(iv: Intervention, points: HookPoints, cfg: ModelConfig, resolve: Resolver, seq_len: int) -> Bound:
    """Validate `iv` for a `seq_len`-token prompt; resolve its source or vector. Raises LoupeError if bad."""
    if isinstance(iv, Feature):
        return _bind_feature(iv, points, resolve)
    try:
        point = points[iv.hook]
    except LoupeError as exc:
        raise LoupeError("bad_intervention", f"{iv.op} intervention: {exc.message}") from None
    if point.local in ("logits",):
        raise LoupeError("bad_intervention", "interventions on 'logits' are not supported; use a residual point")
    if iv.head is not None:
        if point.head_dim is None:
            raise LoupeError(
                "bad_intervention", f"'head' given but {iv.hook} has no head dimension (shape {point.shape})"
            )
        n = cfg.dim(point.shape[point.head_dim]) or 0
        if not 0 <= iv.head < n:
            raise LoupeError("bad_intervention", f"head {iv.head} out of range for {iv.hook}: expected 0..{n - 1}")
    last = cfg.dim(point.shape[-1])
    tensor: torch.Tensor | None = None
    if isinstance(iv, Patch) or (isinstance(iv, Ablate) and iv.source is not None):
        tensor = resolve("source", iv.source, iv.hook)
        src_len = tensor.shape[point.pos_dim] if tensor.dim() > point.pos_dim else 0
        if isinstance(iv, Patch) and iv.positions is None and src_len != seq_len:
            raise LoupeError(
                "bad_intervention",
                f"patch source has {src_len} positions but the prompt has {seq_len}: "
                "use prompts of the same length or give 'positions'",
            )
    elif isinstance(iv, Steer):
        tensor = _vector(resolve("vector", iv.vector, iv.hook), last, iv)
    elif isinstance(iv, Scale):
        if iv.index is not None and iv.direction is not None:
            raise LoupeError("bad_intervention", "scale takes 'index' (a neuron) or 'direction', not both")
        if iv.index is not None:
            if last is None or not 0 <= iv.index < last:
                raise LoupeError("bad_intervention", f"index {iv.index} out of range for {iv.hook} (size {last})")
            tensor = torch.ones(last)
            tensor[iv.index] = iv.factor
        elif iv.direction is None:  # the whole selection (a head, positions, or everything)
            tensor = torch.tensor(float(iv.factor))
        else:
            d = _vector(resolve("vector", iv.direction, iv.hook), last, iv)
            norm = d.norm()
            if norm == 0:
                raise LoupeError("bad_intervention", "scale 'direction' must be non-zero")
            tensor = d / norm
    return Bound(iv, point, tensor)


def _bind_feature(iv: Feature, points: HookPoints, resolve: Resolver) -> Bound:
    try:
        sae = resolve.sae(iv.sae)
    except LoupeError as exc:
        raise LoupeError("bad_intervention", f"feature intervention: {exc.message}") from None
    if iv.hook and iv.hook != sae.hook:
        raise LoupeError(
            "bad_intervention", f"feature intervention: hook {iv.hook!r} is not SAE {sae.id!r}'s hook {sae.hook!r}"
        )
    if iv.head is not None:
        raise LoupeError("bad_intervention", "feature intervention: 'head' does not apply (features span all heads)")
    if not 0 <= iv.index < sae.d_sae:
        raise LoupeError(
            "bad_intervention", f"feature index {iv.index} out of range for SAE {sae.id!r}: expected 0..{sae.d_sae - 1}"
        )
    if iv.value is None and iv.mode != "ablate":
        raise LoupeError("bad_intervention", f"feature intervention: mode {iv.mode!r} needs a 'value'")
    bound_iv = dataclasses.replace(iv, hook=sae.hook)
    return Bound(bound_iv, points[sae.hook], sae.directions()[iv.index], sae=sae)


def _vector(v: torch.Tensor, size: int | None, iv: Intervention) -> torch.Tensor:
    v = v.detach().flatten() if v.dim() > 1 and v.shape[0] == 1 else v.detach()
    if v.dim() != 1 or (size is not None and v.shape[0] != size):
        raise LoupeError(
            "bad_intervention",
            f"{iv.op} vector for {iv.hook} must have {size} entries (the point's last dimension), "
            f"got shape {tuple(v.shape)}",
        )
    return v.float()


def _selection(x: torch.Tensor, iv: Intervention, point: HookPoint, where: Where) -> torch.Tensor | None:
    """A boolean mask broadcastable to `x` selecting rows, positions and head; None if nothing selected."""
    mask = torch.ones([1] * x.dim(), dtype=torch.bool, device=x.device)
    if iv.rows is not None:
        rows = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
        idx = [r for r in iv.rows if 0 <= r < x.shape[0]]
        if not idx:
            return None
        rows[idx] = True
        mask = mask & rows.view(-1, *[1] * (x.dim() - 1))
    if iv.positions is not None:
        pd, t = point.pos_dim, x.shape[point.pos_dim]
        local = [(p if p >= 0 else where.seq_len + p) - where.offset for p in iv.positions]
        local = [p for p in local if 0 <= p < t]
        if not local:
            return None
        pos = torch.zeros(t, dtype=torch.bool, device=x.device)
        pos[local] = True
        shape = [1] * x.dim()
        shape[pd] = t
        mask = mask & pos.view(shape)
    if iv.head is not None and point.head_dim is not None:
        hd = point.head_dim
        heads = torch.zeros(x.shape[hd], dtype=torch.bool, device=x.device)
        heads[iv.head] = True
        shape = [1] * x.dim()
        shape[hd] = x.shape[hd]
        mask = mask & heads.view(shape)
    return mask
