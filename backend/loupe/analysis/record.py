"""`Record`: the base of the analyses' result dataclasses, for `to_dict`."""

from __future__ import annotations

import dataclasses
from typing import Any


class Record:
    """A result dataclass whose `to_dict()` maps each field to its value as it is (tensors are not copied)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
