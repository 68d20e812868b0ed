"""The widget's JavaScript: one ES module built from the web UI's own components (`make widget`)."""

from __future__ import annotations

from pathlib import Path

import anywidget
import traitlets

from loupe.errors import LoupeError

BUNDLE = Path(__file__).parent / "static" / "widget.js"


def bundle_source() -> str:
    """The built module's text; a clear error when it has not been built."""
    if not BUNDLE.is_file():
        raise LoupeError(
            "not_built",
            f"the notebook widget is not built ({BUNDLE} is missing): run `make widget` in the Loupe checkout",
        )
    return BUNDLE.read_text(encoding="utf-8")


class LoupeView(anywidget.AnyWidget):
    """Base of Loupe's widgets: the bundle, and which view of it (`view`) this widget shows."""

    view = traitlets.Unicode("workbench").tag(sync=True)

    @property
    def _esm(self) -> str:
        return bundle_source()
