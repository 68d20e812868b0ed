"""One session's long job cannot stall another's run (issue 10, finding 7): long jobs go in pieces of
`piece_tokens` tokens that take turns with other sessions' forward passes.

Asserted on what the model ran, in order (no timing): between the moment session B sends its run and
the start of B's forward pass, the forward passes of A's job that finish hold at most two pieces."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import loupe
from tests.server.conftest import TEST_LIMITS, Server, serve, slow_layers
from tests.server.wire import Raw

PIECE = 16
LONG = "When Mary and John went to the store, John gave a drink to Mary after a long day. " * 2
SHORT = "Paris"


@contextmanager
def forward_log(model: loupe.HookedModel) -> Iterator[list[tuple[str, int, int]]]:
    """Log ("start" | "end", batch, tokens) for every forward pass of the model: "start" when its first layer
    begins, "end" when the pass returns (a piece stops after its hook's layer, so not at the last layer)."""
    log: list[tuple[str, int, int]] = []
    first = next(iter(model.adapter.blocks(model.hf)))
    forward = model.forward

    def start(_m: Any, args: Any, kwargs: Any) -> None:
        x = args[0] if args else kwargs["hidden_states"]
        log.append(("start", x.shape[0], x.shape[1]))

    def logged(ctx: Any, tokens: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return forward(ctx, tokens, *args, **kwargs)
        finally:
            log.append(("end", tokens.shape[0], tokens.shape[1]))

    handle = first.register_forward_pre_hook(start, with_kwargs=True)
    model.forward = logged  # type: ignore[method-assign]
    try:
        yield log
    finally:
        handle.remove()
        del model.forward


async def test_a_long_job_lets_another_sessions_run_in_after_one_piece(server: Server) -> None:
    model = server.model
    short_len = model.to_tokens(SHORT).shape[1]
    assert short_len < PIECE // 2  # B's forward is told apart by its length
    limits = dataclasses.replace(TEST_LIMITS, piece_tokens=PIECE)
    with serve(model, limits) as srv, forward_log(model) as log, slow_layers(model, 0.01):
        a, b = await Raw.connect(srv.url), await Raw.connect(srv.url)
        job = {"type": "vectors.from_prompts", "id": "v", "name": "v", "layer": 1}
        await a.send({**job, "positive": [LONG] * 4, "negative": [LONG + " No."] * 4})
        async with asyncio.timeout(60):
            while sum(1 for e in log if e[0] == "end") < 3:  # A's job is well under way
                await asyncio.sleep(0.01)
        log.append(("B sent", 0, 0))
        frames = await b.request({"type": "run", "id": "r", "prompt": SHORT, "summaries": False}, streaming=True)
        assert frames[-1]["type"] == "done"
        done = await a.until_final("v", timeout=120)
        assert done[-1]["type"] == "done" and not done[-1]["cancelled"]
        await a.close()
        await b.close()
    sent = log.index(("B sent", 0, 0))
    b_start = next(i for i, e in enumerate(log) if i > sent and e == ("start", 1, short_len))
    waited_for = [e[2] for e in log[sent:b_start] if e[0] == "end"]
    assert sum(waited_for) <= 2 * PIECE, log  # at most the piece in flight and one that began meanwhile
    a_tokens = [e[2] for e in log if e[0] == "start" and e != ("start", 1, short_len)]
    assert max(a_tokens) <= PIECE and len(a_tokens) >= 8  # the job really went in pieces
