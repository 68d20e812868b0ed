"""`loupe serve --sae PATH[:ID]` and the shipped SAE: parsing, loading, attaching, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from loupe.cli import parser
from loupe.errors import LoupeError
from loupe.features import attach as attach_mod
from loupe.features.attach import attach, parse_spec
from tests.features.helpers import random_sae


def test_parse_spec() -> None:
    assert parse_spec("saes/res10") == ("saes/res10", None)
    assert parse_spec("saes/res10:mine") == ("saes/res10", "mine")
    assert parse_spec("hf://owner/repo/sub") == ("hf://owner/repo/sub", None)
    assert parse_spec("hf://owner/repo/sub:x") == ("hf://owner/repo/sub", "x")
    args = parser().parse_args(["serve", "--sae", "a:x", "--sae", "b", "--no-sae"])
    assert args.sae == ["a:x", "b"] and args.no_sae


def test_attach(tmp_path: Path, make_pair: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = make_pair("llama")
    try:
        random_sae(hook="blocks.0.hook_resid_post").save(tmp_path / "first")
        random_sae("standard", hook="hook_embed").save(tmp_path / "second")
        monkeypatch.setattr(attach_mod, "SHIPPED", tmp_path / "second")
        saes = attach(model, [str(tmp_path / "first"), f"{tmp_path / 'first'}:again"], shipped=True)
        assert [s.id for s in saes] == ["res10", "first", "again"] and list(model.saes) == ["res10", "first", "again"]
        assert saes[0].hook == "hook_embed"
        model.saes.clear()
        assert attach(model, [], shipped=False) == [] and model.saes == {}
        with pytest.raises(LoupeError, match=r"--sae .*nowhere: SAE folder .* does not exist"):
            attach(model, [str(tmp_path / "nowhere")], shipped=False)
        random_sae(d_in=48).save(tmp_path / "wide")
        with pytest.raises(LoupeError, match=r"--sae .*wide: SAE 'wide' has d_in 48 but blocks.1.hook_resid_post"):
            attach(model, [str(tmp_path / "wide")], shipped=False)
        with pytest.raises(LoupeError, match="already attached"):
            attach(model, [str(tmp_path / "first"), str(tmp_path / "first")], shipped=False)
    finally:
        model.saes.clear()
