"""Who may talk to the server: Host checks against DNS rebinding (as Jupyter does) and strict Origin checks."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"localhost"})
SERVER_SEND = "loupe.server_send"  # scope key: the ASGI server's send callable of a WebSocket


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback IP address (`127.0.0.1`, `::1`, `[::1]`)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_list(text: str | Iterable[str] | None) -> frozenset[str]:
    """Comma-separated items (or an iterable of them), trimmed, lower-cased, without a trailing `/`."""
    if text is None:
        return frozenset()
    items = text.split(",") if isinstance(text, str) else list(text)
    return frozenset(i.strip().rstrip("/").lower() for i in items if i.strip())


parse_origins = parse_list  # `--allowed-origins`: full origins (`https://lab.example.org`) or bare host names


def host_name(header: str | None) -> str | None:
    """The host name of a `Host` header (`name` or `name:port`, IPv6 in brackets), lower-cased, without
    the port; None when it is missing or malformed (userinfo, a path, a bad port)."""
    if not header or any(c in header for c in "/@?#\\ \t"):
        return None
    parts = urlsplit(f"//{header}")
    try:
        parts.port  # noqa: B018  (raises ValueError on a bad port such as "80.evil.example")
    except ValueError:
        return None
    return parts.hostname or None


@dataclass(frozen=True)
class OriginParts:
    scheme: str
    host: str
    port: int


def parse_origin(origin: str) -> OriginParts | None:
    """An `Origin` header as (scheme, host, port), or None unless it is exactly `http(s)://host[:port]`:
    no userinfo (`http://evil@127.0.0.1`), path, query or fragment, and a numeric port."""
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in ("http", "https") or parts.username is not None or parts.password is not None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    try:
        port = parts.port
    except ValueError:  # "http://127.0.0.1:8000.evil.example"
        return None
    if not parts.hostname:
        return None
    return OriginParts(
        parts.scheme, parts.hostname, port if port is not None else {"http": 80, "https": 443}[parts.scheme]
    )


def origin_allowed(origin: str | None, host_header: str | None, allowed: Iterable[str] = ()) -> bool:
    """Browsers send Origin: accept the page's own host, any loopback page when serving on loopback,
    and the operator's allowlist (full origins, or host names meaning any scheme and port)."""
    if origin is None:  # scripts and CLI clients
        return True
    parsed = parse_origin(origin)
    if parsed is None:
        return False
    server_host = host_name(host_header)
    if server_host is not None and parsed.host == server_host:
        return True
    if server_host is not None and is_loopback(parsed.host) and is_loopback(server_host):
        return True
    for entry in allowed:
        if "://" in entry:
            if parse_origin(entry) == parsed:
                return True
        elif entry == parsed.host:
            return True
    return False


def host_allowed(header: str | None, allowed_hosts: frozenset[str] | None) -> bool:
    """The Host check: `allowed_hosts` None accepts any; else loopback names and the listed ones, any port."""
    if allowed_hosts is None:
        return True
    name = host_name(header)
    return name is not None and (is_loopback(name) or name in allowed_hosts)


def host_policy(bind: str, allowed_hosts: Iterable[str] = ()) -> frozenset[str] | None:
    """The Host names a server bound to `bind` accepts besides loopback ones; None: any (a non-loopback
    bind without `--allow-host`, which needs a token anyway)."""
    names = frozenset(n.strip("[]") for n in parse_list(allowed_hosts))
    return names if names or is_loopback(bind) else None


class HostCheck:
    """ASGI middleware: an HTTP request or WebSocket handshake whose `Host` is not allowed gets HTTP 403.

    A server bound to loopback answers only to loopback host names, so that a web page whose DNS name
    was re-bound to 127.0.0.1 (DNS rebinding) cannot reach it; `--allow-host` adds names (a reverse proxy)."""

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str] | None) -> None:
        self.app, self.allowed_hosts = app, allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope[SERVER_SEND] = send  # the ASGI server's own send, before any wrapping (see link.py)
        if scope["type"] in ("http", "websocket") and self.allowed_hosts is not None:
            headers = dict(scope.get("headers") or [])
            raw = headers.get(b"host")
            if not host_allowed(raw.decode("latin-1") if raw is not None else None, self.allowed_hosts):
                await _forbid(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _forbid(scope: Scope, receive: Receive, send: Send) -> None:
    body = b"Host not allowed: this server answers to loopback names only (see loupe serve --allow-host)\n"
    if scope["type"] == "websocket":  # closing before accept: the server answers the handshake with 403
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008, "reason": "host not allowed"})
        return
    await send({"type": "http.response.start", "status": 403, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
