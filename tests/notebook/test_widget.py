"""The live widget's kernel side: one session shared by the page and Python, relayed frame by frame."""

from __future__ import annotations

import numpy as np
import pytest

import loupe
import loupe.notebook as nb
from loupe.client import SyncClient
from loupe.errors import LoupeError
from loupe.notebook import bundle
from loupe.notebook.kernel_server import kernel_server
from tests.notebook.conftest import Page

PROMPT = "When Mary and John went to the store, John gave a drink to"
ABLATE = {"op": "ablate", "hook": "blocks.2.attn.hook_z", "head": 1}


def test_page_hello_gets_the_sessions_welcome(widget: nb.Workbench, page: Page, tiny_llama: loupe.HookedModel) -> None:
    page.send(type="hello", protocol=1, id="h1", client="loupe-web")
    welcome = page.wait_for(lambda m: m["type"] == "welcome")
    assert welcome["id"] == "h1"
    assert welcome["model"]["n_layers"] == tiny_llama.cfg.n_layers == 3
    assert welcome["session"] == widget._client.session
    page.send(type="hello", protocol=99, id="h2")
    err = page.wait_for(lambda m: m.get("id") == "h2")
    assert err["type"] == "error" and err["code"] == "unsupported_protocol"


def test_ablation_from_the_page_is_in_python_and_changes_the_run(
    widget: nb.Workbench, page: Page, tiny_llama: loupe.HookedModel
) -> None:
    assert widget.interventions == []
    page.send(type="interventions.add", id="q1", item={**ABLATE, "id": "ablate-L2H1"})
    page.wait_for(lambda m: m.get("id") == "q1" and m["type"] == "interventions")
    assert widget.interventions == [{**ABLATE, "id": "ablate-L2H1", "enabled": True}]
    out = widget.run(PROMPT, answer=" Mary", wrong=" John")
    expected = tiny_llama.run(PROMPT, interventions=[ABLATE])
    clean = tiny_llama.run(PROMPT)
    logits = expected.logits[0, -1].float()
    assert out.intervened
    assert out.top_k[0]["token"] == int(logits.argmax())
    assert out.top_k[0]["logit"] == pytest.approx(float(logits.max()), abs=1e-3)
    assert out.clean[0]["logit"] == pytest.approx(float(clean.logits[0, -1].max()), abs=1e-3)
    mary, john = out.logit_diff["answer_token"], out.logit_diff["wrong_token"]
    assert out.logit_diff["value"] == pytest.approx(float(logits[mary] - logits[john]), abs=1e-3)
    last = widget.last_result
    assert last is not None and last.top_k == out.top_k and last.logit_diff == out.logit_diff


def test_python_changes_and_runs_reach_the_page(widget: nb.Workbench, page: Page) -> None:
    widget.interventions = [ABLATE]
    pushed = page.wait_for(lambda m: m["type"] == "interventions")
    assert pushed["items"][0]["hook"] == ABLATE["hook"] and widget.interventions == pushed["items"]
    out = widget.run("The cat sat on the")
    assert widget.prompt == "The cat sat on the"
    tokens = page.wait_for(lambda m: m["type"] == "run.tokens")
    assert tokens["str_tokens"] == out.str_tokens
    layers = [m for m in page.received if m["type"] == "run.layer" and m["id"] == tokens["id"]]
    assert [m["layer"] for m in layers] == [0, 1, 2] and "attn" in layers[0]["summary"]
    widget.interventions = []
    page.wait_for(lambda m: m["type"] == "interventions" and m["items"] == [])
    assert widget.interventions == []


def test_a_run_from_the_page_becomes_last_result(widget: nb.Workbench, page: Page) -> None:
    assert widget.last_result is None
    page.send(type="run", id="r1", prompt="Hello there", summaries=True)
    page.wait_for(lambda m: m.get("id") == "r1" and m["type"] == "done")
    last = widget.last_result
    assert last is not None and last.str_tokens == page.wait_for(lambda m: m["type"] == "run.tokens")["str_tokens"]
    assert len(last.summaries) == 3 and last.top_k


def test_reopened_page_is_told_the_sessions_interventions(widget: nb.Workbench, page: Page) -> None:
    widget.interventions = [ABLATE]
    page.received.clear()
    page.send(type="hello", protocol=1, id="h9")
    page.wait_for(lambda m: m["type"] == "welcome")
    sync = page.wait_for(lambda m: m["type"] == "interventions")
    assert sync["items"][0]["head"] == 1


def test_page_errors_stay_on_the_page(widget: nb.Workbench, page: Page) -> None:
    page.send(type="interventions.add", id="q2", item={"op": "ablate", "hook": "blocks.9.attn.hook_z", "head": 0})
    err = page.wait_for(lambda m: m.get("id") == "q2")
    assert err["type"] == "error" and err["code"] == "unknown_hook"
    assert widget.interventions == []
    with pytest.raises(LoupeError, match=r"blocks\.9"):
        widget.interventions = [{"op": "ablate", "hook": "blocks.9.attn.hook_z", "head": 0}]


def test_relay_to_a_served_url_is_its_own_session(tiny_llama: loupe.HookedModel) -> None:
    server = kernel_server(tiny_llama)
    port = server.url.split(":")[2].split("/")[0]
    a = nb.show(f"http://127.0.0.1:{port}/?token={server.token}")
    b = nb.show(f"ws://127.0.0.1:{port}/ws", token=server.token)
    try:
        a.interventions = [ABLATE]
        assert b.interventions == [] and len(a.interventions) == 1
        assert a.run(PROMPT).intervened and not b.run(PROMPT).intervened
    finally:
        a.close()
        b.close()
    with pytest.raises(LoupeError, match=r"unauthorized|token"):
        SyncClient(server.url, token="wrong")


def test_ws_url_forms() -> None:
    assert nb.ws_url("http://10.0.0.5:8000/?token=abc") == ("ws://10.0.0.5:8000/ws", "abc")
    assert nb.ws_url("https://lab.example.org/loupe/") == ("wss://lab.example.org/loupe/ws", None)
    assert nb.ws_url("localhost:8001") == ("ws://localhost:8001/ws", None)


def test_missing_bundle_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setattr(bundle, "BUNDLE", bundle.Path(str(tmp_path)) / "widget.js")
    with pytest.raises(LoupeError, match="make widget"):
        nb.tokens(["a"], np.zeros(1))


def test_an_unreadable_page_frame_gets_bad_frame(widget: nb.Workbench, page: Page) -> None:
    widget._from_page(widget, {"kind": "frame"}, [memoryview(b"\x81\xa4type\xa3run" + b"\xff\xff")])
    err = page.wait_for(lambda m: m["type"] == "error")
    assert err["code"] == "bad_frame"
