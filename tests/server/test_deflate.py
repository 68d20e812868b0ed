"""WebSocket compression: off unless asked for (a run's f16 frames cost more to deflate than a local link saves)."""

from __future__ import annotations

import asyncio

import pytest

import loupe
from loupe.server.background import serving


async def _extensions(url: str) -> str | None:
    import websockets

    async with websockets.connect(url, compression="deflate") as ws:  # the client offers permessage-deflate
        assert ws.response is not None
        return ws.response.headers.get("Sec-WebSocket-Extensions")


@pytest.mark.parametrize("deflate", [False, True])
def test_permessage_deflate_only_when_asked(tiny: loupe.HookedModel, deflate: bool) -> None:
    with serving(tiny, deflate=deflate) as url:
        agreed = asyncio.run(_extensions(url))
    assert (agreed is not None and "permessage-deflate" in agreed) == deflate


def test_deflate_is_refused_for_ray_deployments(capsys: pytest.CaptureFixture[str]) -> None:
    from loupe.cli import main

    assert main(["serve", "--ray", "--deflate"]) == 2
    assert "--deflate applies to a single server" in capsys.readouterr().err
