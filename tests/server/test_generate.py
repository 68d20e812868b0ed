"""`generate`: tokens stream as produced, steered and baseline side by side, cancellable."""

from __future__ import annotations

import time

from loupe.server.forward import new_text
from tests.server.conftest import Server, slow_layers
from tests.server.wire import Raw

PROMPT = "Once upon a time there"
STEER = {"op": "ablate", "hook": "blocks.2.hook_resid_post", "mode": "zero"}


async def test_generate_compare_matches_engine(server: Server) -> None:
    model = server.model
    c = await Raw.connect(server.url)
    await c.request({"type": "interventions.set", "id": 1, "items": [STEER]})
    frames = await c.request(
        {"type": "generate", "id": "g", "prompt": PROMPT, "max_new_tokens": 6, "compare": True}, streaming=True
    )
    tokens = [f for f in frames if f["type"] == "gen.token"]
    steered = [f["token"] for f in tokens if f["branch"] == "steered"]
    baseline = [f["token"] for f in tokens if f["branch"] == "baseline"]
    assert [f["branch"] for f in tokens[:4]] == ["steered", "baseline", "steered", "baseline"]
    assert [f["index"] for f in tokens if f["branch"] == "steered"] == list(range(len(steered)))
    want_steered = [s.token for s in model.generate(PROMPT, max_new_tokens=6, interventions=[STEER])]
    want_base = [s.token for s in model.generate(PROMPT, max_new_tokens=6)]
    assert steered == want_steered[: len(steered)] and baseline == want_base[: len(baseline)]
    assert steered != baseline
    done = frames[-1]
    assert done["type"] == "done" and done["text"]["steered"] == "".join(
        f["text"] for f in tokens if f["branch"] == "steered"
    )
    await c.close()


async def test_generate_streams_and_cancels(server: Server) -> None:
    c = await Raw.connect(server.url)
    with slow_layers(server.model, 0.03):  # ~0.12 s per token
        await c.send({"type": "generate", "id": "g", "prompt": PROMPT, "max_new_tokens": 40})
        first = await c.recv()
        second = await c.recv()
        assert first["type"] == second["type"] == "gen.token" and first["branch"] == "steered"
        t0 = time.perf_counter()
        await c.send({"type": "cancel", "id": "c", "target": "g"})
        frames = await c.until_final("g")
    assert time.perf_counter() - t0 < 1.0
    assert frames[-1]["type"] == "done" and frames[-1]["cancelled"] is True
    assert len([f for f in frames if f["type"] == "gen.token"]) < 38
    await c.close()


async def test_the_end_of_sequence_token_ends_a_branch_and_is_not_sent(server: Server) -> None:
    model, tok = server.model, server.model.tokenizer
    want = [(s.token, s.text) for s in model.generate(PROMPT, max_new_tokens=4)]
    assert want[2][0] not in (want[0][0], want[1][0])  # the tiny model's greedy walk, so the third token is new
    old = tok.eos_token
    tok.eos_token = tok.convert_ids_to_tokens(want[2][0])  # that token now ends the text (as <|im_end|> does)
    try:
        c = await Raw.connect(server.url)
        frames = await c.request(
            {"type": "generate", "id": "g", "prompt": PROMPT, "max_new_tokens": 4, "compare": True}, streaming=True
        )
    finally:
        tok.eos_token = old
    sent = [(f["branch"], f["token"]) for f in frames if f["type"] == "gen.token"]
    assert sent == [(b, t) for t, _ in want[:2] for b in ("steered", "baseline")]
    text = want[0][1] + want[1][1]
    assert frames[-1]["text"] == {"steered": text, "baseline": text} and frames[-1]["cancelled"] is False
    await c.close()


def test_generated_text_holds_back_a_character_until_its_last_byte_token(server: Server) -> None:
    model = server.model
    ids = model.tokenizer.encode("☕ hot", add_special_tokens=False)
    assert model.decode_each(ids)[:3] == ["\ufffd"] * 3  # the cup is three byte-level tokens
    texts: list[str] = []
    for n in range(1, len(ids) + 1):
        texts.append(new_text(model, ids[:n], "".join(texts)))
    assert texts == ["", "", "☕", " hot"]
