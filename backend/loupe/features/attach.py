"""Which SAEs a server holds: `--sae PATH[:ID]` specs and the SAE shipped for the embedded model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from loupe.errors import LoupeError
from loupe.features.sae import SAE

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel

SHIPPED = Path(__file__).parent / "data" / "smollm2-135m-res10"  # trained for the embedded model
SHIPPED_ID = "res10"


def parse_spec(spec: str) -> tuple[str, str | None]:
    """ "PATH[:ID]" -> (path, id or None); a colon followed by a path (as in hf://owner/repo) is not an id."""
    path, sep, sae_id = spec.rpartition(":")
    if not sep or not path or not sae_id or "/" in sae_id or "\\" in sae_id:
        return spec, None
    return path, sae_id


def attach(model: HookedModel, specs: Sequence[str], shipped: bool) -> list[SAE]:
    """Load each spec and attach it to `model`; first the shipped SAE when `shipped` and it is installed.

    Raises LoupeError naming the spec and the problem (missing folder, corrupt file, does not fit)."""
    saes = []
    if shipped and (SHIPPED / "cfg.json").is_file():
        saes.append(model.add_sae(SAE.load(SHIPPED, SHIPPED_ID)))
    for spec in specs:
        path, sae_id = parse_spec(spec)
        try:
            saes.append(model.add_sae(SAE.load(path, sae_id)))
        except LoupeError as exc:
            raise LoupeError(exc.code, f"--sae {spec}: {exc.message}") from None
    return saes
