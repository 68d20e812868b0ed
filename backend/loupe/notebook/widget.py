"""`Workbench`: the live views inline, on a Loupe session shared by the widget and the kernel.

The widget's JavaScript speaks the wire protocol (proto/README.md) over the widget's comm, one frame
per message; this side relays the frames to a Loupe server (a team's `loupe serve`, or the kernel's
own model behind `kernel_server`) through one `loupe.client` session. The kernel uses that same
session, so an ablation alt-clicked in the widget is in `w.interventions`, and `w.run(...)` shows up
in the widget. Every frame the server sends goes to the page; the page follows replies to requests
it did not send (the kernel's runs and intervention changes).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import traitlets

from loupe.client import CLIENT_LIMITS, RunOutput, SyncClient
from loupe.codec import pack, unpack
from loupe.errors import LoupeError
from loupe.notebook.bundle import LoupeView
from loupe.notebook.kernel_server import KernelServer
from loupe.wire import PROTOCOL_VERSION

DEFAULT_PROMPT = "When Mary and John went to the store, John gave a drink to"
RUN_FRAMES = frozenset({"run.tokens", "run.layer", "run.result"})


class Workbench(LoupeView):
    """The live widget. `interventions` and `last_result` mirror the session; `run` drives it from Python."""

    prompt = traitlets.Unicode(DEFAULT_PROMPT).tag(sync=True)
    answer = traitlets.Unicode(" Mary").tag(sync=True)
    wrong = traitlets.Unicode(" John").tag(sync=True)
    model_name = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        url: str,
        token: str | None = None,
        prompt: str = DEFAULT_PROMPT,
        answer: str = " Mary",
        wrong: str = " John",
        server: KernelServer | None = None,
    ) -> None:
        super().__init__(view="workbench", prompt=prompt, answer=answer, wrong=wrong)
        self._server = server  # keeps the kernel's server referenced as long as the widget lives
        self._lock = threading.Lock()
        self._interventions: list[dict[str, Any]] = []
        self._runs: dict[str, RunOutput] = {}
        self._last: RunOutput | None = None
        self._client = SyncClient(url, token, on_frame=self._from_server)
        self._client_open = True
        self.model_name = str(self._client.model.get("name", ""))
        self.on_msg(self._from_page)

    # --- Python side of the session ---------------------------------------------------------------

    @property
    def interventions(self) -> list[dict[str, Any]]:
        """The session's interventions, as the server last reported them (whoever changed them)."""
        with self._lock:
            return [dict(i) for i in self._interventions]

    @interventions.setter
    def interventions(self, items: Sequence[dict[str, Any]]) -> None:
        self._client.set_interventions(list(items))

    @property
    def last_result(self) -> RunOutput | None:
        """The session's last finished run, from the widget or from `run`."""
        with self._lock:
            return self._last

    def run(
        self,
        prompt: str | None = None,
        answer: str | None = None,
        wrong: str | None = None,
        capture: Sequence[str] = (),
    ) -> RunOutput:
        """Run `prompt` (default: the widget's) in the session; the widget shows it as it streams."""
        if prompt is not None:
            self.prompt = prompt
        answer = self.answer if answer is None else answer
        wrong = self.wrong if wrong is None else wrong
        pair = {"answer": answer, "wrong": wrong} if answer and wrong else {}
        out: RunOutput = self._client.run(self.prompt, capture=list(capture), summaries=True, **pair)
        return out

    def close(self) -> None:
        """Close the widget and its session (once; ipywidgets also calls this when the widget is collected)."""
        client, self._client_open = self._client_open, False
        if client:
            self._client.close()
        super().close()

    # --- relay ------------------------------------------------------------------------------------

    def _from_server(self, frame: bytes, msg: dict[str, Any]) -> None:
        """Every server frame: keep the session mirror current, then pass it to the page."""
        kind, rid = msg.get("type"), str(msg.get("id"))
        with self._lock:
            if kind == "interventions":
                self._interventions = msg["items"]
            elif kind in RUN_FRAMES:
                self._runs.setdefault(rid, RunOutput(np.zeros(0, np.int32), [])).apply(msg)
            elif kind in ("done", "error") and rid in self._runs:
                out = self._runs.pop(rid)
                if kind == "done":
                    out.apply(msg)
                    if not out.cancelled:
                        self._last = out
        if kind != "welcome":  # the page gets its own welcome (below)
            self.send({"kind": "frame"}, buffers=[frame])

    def _from_page(self, _widget: object, content: dict[str, Any], buffers: list[Any]) -> None:
        """A frame from the page: answer its hello with the session's welcome, relay the rest."""
        if content.get("kind") != "frame" or not buffers:
            return
        frame = bytes(buffers[0])
        try:
            msg = unpack(frame, CLIENT_LIMITS)
        except LoupeError as e:
            self.send({"kind": "frame"}, buffers=[pack({"type": "error", "code": "bad_frame", "message": e.message})])
            return
        if msg.get("type") == "hello":
            if msg.get("protocol") != PROTOCOL_VERSION:
                reply = {"type": "error", "code": "unsupported_protocol", "message": f"supported: [{PROTOCOL_VERSION}]"}
                self.send({"kind": "frame"}, buffers=[pack({**reply, "id": msg.get("id")})])
                return
            welcome = {**self._client.welcome, "id": msg.get("id")}
            self.send({"kind": "frame"}, buffers=[pack({k: v for k, v in welcome.items() if v is not None})])
            if self.interventions:  # a page opened on a session that already has some: show them
                self.send(
                    {"kind": "frame"},
                    buffers=[pack({"type": "interventions", "id": "sync", "items": self.interventions})],
                )
            return
        self._client.send_frame(frame)
