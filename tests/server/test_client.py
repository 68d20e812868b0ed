"""The scripting client (`loupe.client`) and the `loupe run` CLI against the loopback server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from loupe.cli import main
from loupe.client import Client, ServerError, SyncClient
from tests.server.conftest import Server

PROMPT = "When Mary and John went to the store, John gave a drink to"


async def test_async_client_run_and_ablation(server: Server) -> None:
    model = server.model
    async with Client(server.url) as c:
        assert c.model["n_layers"] == 4 and c.limits["max_prompt_tokens"] == 48
        assert await c.ping() > 0
        seen: list[int] = []
        out = await c.run(PROMPT, capture=["blocks.*.attn.hook_pattern"], on_layer=lambda m: seen.append(m["layer"]))
        assert seen == [0, 1, 2, 3] and not out.cancelled
        ref = model.run(PROMPT, capture=["blocks.*.attn.hook_pattern"])
        np.testing.assert_allclose(out.cache["blocks.3.attn.hook_pattern"], ref.cache["blocks.3.attn.hook_pattern"][0])
        items = await c.add_intervention(op="ablate", hook="blocks.1.attn.hook_z", head=2)
        assert items[0]["head"] == 2
        ablated = await c.run(PROMPT, answer=" Mary", wrong=" John")
        assert ablated.intervened and ablated.logit_diff is not None
        assert [p["token"] for p in ablated.clean] == [p["token"] for p in out.top_k]
        np.testing.assert_allclose([p["prob"] for p in ablated.clean], [p["prob"] for p in out.top_k], rtol=1e-4)
        assert ablated.logit_diff["value"] != ablated.logit_diff["clean"]
        pattern = await c.attention_head(1, 2)
        assert pattern.shape == (len(out.str_tokens),) * 2
        with pytest.raises(ServerError) as err:
            await c.run(PROMPT, capture=["nope"])
        assert err.value.code == "unknown_hook"
        texts = [m["text"] async for m in c.generate(PROMPT, max_new_tokens=3)]
        assert len(texts) == 3
        assert await c.clear_interventions() == []


async def test_concurrent_requests_on_one_client(server: Server) -> None:
    async with Client(server.url) as c:
        runs = await asyncio.gather(*(c.run(f"{PROMPT} {i}", top_k=1) for i in range(3)))
        assert [len(r.str_tokens) for r in runs] == [len(runs[0].str_tokens)] * 3


def test_sync_client(server: Server) -> None:
    with SyncClient(server.url) as c:
        assert c.model["d_model"] == 64
        out = c.run("Hello there", top_k=2)
        assert len(out.top_k) == 2
        vec = c.vector_from_prompts("v", ["good"], ["bad"], layer=1)
        assert vec.shape == (64,)
        tokens = c.generate("Hello", max_new_tokens=2)
        assert [t["index"] for t in tokens] == [0, 1]


def test_cli_run_prints_and_saves(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    npz = tmp_path / "out.npz"
    code = main(
        [
            "run",
            PROMPT,
            "--server",
            server.url,
            "--capture",
            "blocks.*.attn.hook_pattern",
            "--top-k",
            "3",
            "--npz",
            str(npz),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "captured blocks.3.attn.hook_pattern" in out and len(out.splitlines()) >= 4
    saved = np.load(npz)
    assert saved["blocks.0.attn.hook_pattern"].shape[0] == 4
