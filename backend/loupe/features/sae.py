"""A sparse autoencoder in SAELens's on-disk format: a folder with cfg.json and sae_weights.safetensors.

Architectures: "standard" (ReLU), "topk" and "jumprelu", with SAELens's encode/decode:
  pre  = (x - b_dec * apply_b_dec_to_input) @ W_enc + b_enc
  acts = relu(pre) | relu(top-k of pre) | relu(pre) * (pre > threshold)
  x̂    = acts @ W_dec + b_dec
Weights are held in float32 whatever the stored dtype.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from loupe.errors import LoupeError
from loupe.features.config import SAEConfig
from loupe.features.dashboard import Dashboard

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel

CFG_FILE = "cfg.json"
WEIGHTS_FILE = "sae_weights.safetensors"
HF_PREFIX = "hf://"


class SAE:
    """Encoder/decoder weights and config of one SAE; `id` names it in runs, interventions and the protocol."""

    def __init__(self, cfg: SAEConfig, weights: dict[str, torch.Tensor], id: str | None = None) -> None:
        _check_weights(cfg, weights)
        self.cfg = cfg
        self.id = id or f"sae-{cfg.hook}"
        self.W_enc = weights["W_enc"].float()  # [d_in, d_sae]
        self.W_dec = weights["W_dec"].float()  # [d_sae, d_in]
        self.b_enc = weights["b_enc"].float()  # [d_sae]
        self.b_dec = weights["b_dec"].float()  # [d_in]
        self.threshold = weights["threshold"].float() if cfg.architecture == "jumprelu" else None  # [d_sae]
        self.dashboard: Dashboard | None = None  # corpus statistics per feature, when the folder has them

    def __repr__(self) -> str:
        c = self.cfg
        k = f", k={c.k}" if c.k is not None else ""
        return f"SAE({self.id!r}, {c.architecture}{k}, hook={c.hook!r}, d_in={c.d_in}, d_sae={c.d_sae})"

    @property
    def hook(self) -> str:
        return self.cfg.hook

    @property
    def d_sae(self) -> int:
        return self.cfg.d_sae

    @property
    def device(self) -> torch.device:
        return self.W_enc.device

    def to(self, device: torch.device | str) -> SAE:
        """Move the weights (in place) and return self."""
        for name in ("W_enc", "W_dec", "b_enc", "b_dec", "threshold"):
            t = getattr(self, name)
            if t is not None:
                setattr(self, name, t.to(device))
        return self

    # --- the maps -------------------------------------------------------------------------------

    def pre_acts(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder pre-activations [..., d_sae] (float32) of activations x [..., d_in]."""
        x = x.to(device=self.device, dtype=torch.float32)
        if self.cfg.apply_b_dec_to_input:
            x = x - self.b_dec
        pre = x @ self.W_enc + self.b_enc
        if self.cfg.architecture == "topk" and self.cfg.rescale_acts_by_decoder_norm:
            pre = pre * self.W_dec.norm(dim=-1)
        return pre

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Feature activations [..., d_sae] (float32, ≥ 0) of activations x [..., d_in]."""
        pre = self.pre_acts(x)
        arch = self.cfg.architecture
        if arch == "standard":
            return pre.relu()
        if arch == "jumprelu":
            assert self.threshold is not None
            return pre.relu() * (pre > self.threshold)
        assert self.cfg.k is not None
        top = pre.topk(self.cfg.k, dim=-1, sorted=False)
        return torch.zeros_like(pre).scatter_(-1, top.indices, top.values.relu())

    def activation(self, x: torch.Tensor, index: int) -> torch.Tensor:
        """Feature `index`'s activation [...] for x [..., d_in]: one encoder column, except for topk (needs all)."""
        if self.cfg.architecture == "topk":
            return self.encode(x)[..., index]
        x = x.to(device=self.device, dtype=torch.float32)
        if self.cfg.apply_b_dec_to_input:
            x = x - self.b_dec
        pre = x @ self.W_enc[:, index] + self.b_enc[index]
        if self.threshold is not None:
            return pre.relu() * (pre > self.threshold[index])
        return pre.relu()

    def decode(self, acts: torch.Tensor) -> torch.Tensor:
        """The reconstruction [..., d_in] (float32) of feature activations [..., d_sae]."""
        acts = acts.to(device=self.device, dtype=torch.float32)
        return acts @ self.directions() + self.b_dec

    def directions(self) -> torch.Tensor:
        """What one unit of each feature adds to the reconstruction: W_dec [d_sae, d_in], or its unit rows for a
        topk SAE with rescale_acts_by_decoder_norm."""
        if self.cfg.architecture == "topk" and self.cfg.rescale_acts_by_decoder_norm:
            unit: torch.Tensor = self.W_dec / self.W_dec.norm(dim=-1, keepdim=True)
            return unit
        return self.W_dec

    # --- fitting a model ------------------------------------------------------------------------

    @property
    def layer(self) -> int:
        """The block whose `run.layer` frame carries this SAE's features (0 for hook_embed)."""
        parts = self.hook.split(".")
        return int(parts[1]) if parts[0] == "blocks" and len(parts) > 2 and parts[1].isdigit() else 0

    def check_fits(self, model: HookedModel) -> None:
        """Raise LoupeError(bad_input) unless this SAE's hook exists in `model` with d_in features per token."""
        name = model.cfg.name
        if self.hook not in model.points.names:
            raise LoupeError("bad_input", f"SAE {self.id!r} reads {self.hook!r}, which model {name!r} does not have")
        point = model.points[self.hook]
        if (
            len(point.shape) != 3
            or point.shape[:2] != ("batch", "pos")
            or (point.layer is None and point.name != "hook_embed")
        ):
            raise LoupeError(
                "bad_input",
                f"SAE {self.id!r}: {self.hook} has shape {point.shape}; SAEs need a per-token point "
                "[batch, pos, d] in a block or hook_embed",
            )
        size = model.cfg.dim(point.shape[-1])
        if size != self.cfg.d_in:
            raise LoupeError(
                "bad_input",
                f"SAE {self.id!r} has d_in {self.cfg.d_in} but {self.hook} of model {name!r} has {size} "
                f"({point.shape[-1]})",
            )

    # --- disk -----------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path, id: str | None = None, device: str | torch.device = "cpu") -> SAE:
        """Load from a folder (with its dashboard, if any), or from `hf://owner/repo[/subfolder]` when online.

        `id` defaults to the folder's name (for hf://, the subfolder's, else the repo's). Raises
        LoupeError(bad_input) naming the file and the problem."""
        hub = str(path).startswith(HF_PREFIX)
        folder = _download(str(path)) if hub else Path(path)
        if not folder.is_dir():
            raise LoupeError("bad_input", f"SAE folder {str(path)!r} does not exist")
        cfg_path, weights_path = folder / CFG_FILE, folder / WEIGHTS_FILE
        for p in (cfg_path, weights_path):
            if not p.is_file():
                raise LoupeError("bad_input", f"SAE folder {str(folder)!r} has no {p.name}")
        try:
            raw = json.loads(cfg_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise LoupeError("bad_input", f"{cfg_path}: not valid JSON ({exc})") from None
        try:
            cfg = SAEConfig.from_json(raw)
        except LoupeError as exc:
            raise LoupeError("bad_input", f"{cfg_path}: {exc.message}") from None
        try:
            weights = load_file(str(weights_path), device=str(device))
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise LoupeError("bad_input", f"{weights_path}: not a readable safetensors file ({exc})") from None
        if "log_threshold" in weights and "threshold" not in weights:  # older SAELens JumpReLU checkpoints
            weights["threshold"] = weights.pop("log_threshold").float().exp()
        try:
            sae = cls(cfg, weights, id or (str(path).rstrip("/").rsplit("/", 1)[-1] if hub else folder.resolve().name))
        except LoupeError as exc:
            raise LoupeError("bad_input", f"{weights_path}: {exc.message}") from None
        sae.dashboard = Dashboard.load(folder, cfg.d_sae)
        return sae

    def save(self, path: str | Path, dtype: str | None = None) -> Path:
        """Write cfg.json and sae_weights.safetensors (as `dtype`, default the config's) into folder `path`,
        and the dashboard if there is one."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        dt = dtype or self.cfg.dtype
        tensors = {"W_enc": self.W_enc, "W_dec": self.W_dec, "b_enc": self.b_enc, "b_dec": self.b_dec}
        if self.threshold is not None:
            tensors["threshold"] = self.threshold
        torch_dtype = getattr(torch, dt)
        save_file(
            {k: v.detach().to("cpu", torch_dtype).contiguous() for k, v in tensors.items()}, folder / WEIGHTS_FILE
        )
        (folder / CFG_FILE).write_text(json.dumps(self.cfg.to_json(dt), indent=2))
        if self.dashboard is not None:
            self.dashboard.save(folder)
        return folder


def _check_weights(cfg: SAEConfig, weights: dict[str, Any]) -> None:
    shapes = {
        "W_enc": (cfg.d_in, cfg.d_sae),
        "W_dec": (cfg.d_sae, cfg.d_in),
        "b_enc": (cfg.d_sae,),
        "b_dec": (cfg.d_in,),
    }
    if cfg.architecture == "jumprelu":
        shapes["threshold"] = (cfg.d_sae,)
    for name, shape in shapes.items():
        t = weights.get(name)
        if not isinstance(t, torch.Tensor):
            raise LoupeError("bad_input", f"missing tensor {name!r} (a {cfg.architecture} SAE needs {sorted(shapes)})")
        if tuple(t.shape) != shape:
            raise LoupeError(
                "bad_input", f"{name} has shape {list(t.shape)}; cfg.json (d_in, d_sae) implies {list(shape)}"
            )
        if not t.is_floating_point() or not bool(torch.isfinite(t).all()):
            raise LoupeError("bad_input", f"{name} must hold finite floating-point numbers")


def _download(spec: str) -> Path:
    """`hf://owner/repo[/subfolder]` -> the local folder of that subfolder (downloads the SAE and its dashboard)."""
    parts = spec[len(HF_PREFIX) :].strip("/").split("/")
    if len(parts) < 2:
        raise LoupeError("bad_input", f"{spec!r}: expected hf://owner/repo[/subfolder]")
    repo, sub = "/".join(parts[:2]), "/".join(parts[2:])
    from huggingface_hub import snapshot_download

    prefix = f"{sub}/" if sub else ""
    try:
        files = (CFG_FILE, WEIGHTS_FILE, "dashboard.safetensors", "dashboard.json")
        local = snapshot_download(repo, allow_patterns=[prefix + f for f in files])
    except Exception as exc:  # offline, unknown repo, no access: all say why in the message
        raise LoupeError("bad_input", f"could not download SAE {spec!r}: {type(exc).__name__}: {exc}") from None
    return Path(local) / sub
