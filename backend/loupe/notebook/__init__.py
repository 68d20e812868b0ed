"""Loupe in Jupyter: the web UI's live views inline (`show`), and static views of any tensors.

    import loupe, loupe.notebook
    w = loupe.notebook.show(loupe.load(), "When Mary and John went to the store, John gave a drink to")
    w.interventions          # what was alt-clicked in the widget
    w.run("The Eiffel Tower is in")

Needs the `notebook` extra (`pip install 'loupe[notebook]'`) and the built widget (`make widget`).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit, urlunsplit

from loupe.engine.model import HookedModel
from loupe.notebook.kernel_server import kernel_server
from loupe.notebook.static import StaticView, attention, tokens
from loupe.notebook.widget import DEFAULT_PROMPT, Workbench

__all__ = ["StaticView", "Workbench", "attention", "show", "tokens", "ws_url"]


def ws_url(url: str) -> tuple[str, str | None]:
    """A server address as `loupe serve` prints it (`http://HOST:PORT/?token=...`) or a ws:// URL ->
    (the /ws WebSocket URL, the token in its query string if any)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/")
    token = parse_qs(parts.query).get("token", [None])[0]
    return urlunsplit((scheme, parts.netloc, path if path.endswith("/ws") else f"{path}/ws", "", "")), token


def show(
    model_or_url: HookedModel | str,
    prompt: str = DEFAULT_PROMPT,
    token: str | None = None,
    answer: str = " Mary",
    wrong: str = " John",
) -> Workbench:
    """The live views of `prompt`, on the kernel's model or on a running `loupe serve` (its URL and token)."""
    if isinstance(model_or_url, HookedModel):
        server = kernel_server(model_or_url)
        return Workbench(server.url, server.token, prompt, answer, wrong, server=server)
    url, url_token = ws_url(model_or_url)
    return Workbench(url, token or url_token, prompt, answer, wrong)
