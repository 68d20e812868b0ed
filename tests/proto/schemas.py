"""Validate the JSON view of any message against proto/schema/ (picked by its `type`)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

PROTO = Path(__file__).resolve().parents[2] / "proto"


@cache
def registry() -> tuple[Registry, dict[str, str]]:
    """The schema registry and, per message type, the URI of its definition."""
    reg: Registry = Registry()
    where: dict[str, str] = {}
    for path in sorted((PROTO / "schema").glob("*.schema.json")):
        schema = json.loads(path.read_text())
        reg = reg.with_resource(schema["$id"], Resource.from_contents(schema))
        for name in schema["$defs"]:
            where[name] = f"{schema['$id']}#/$defs/{name}"
    return reg, where


def validate(message: dict[str, Any]) -> None:
    reg, where = registry()
    Draft202012Validator({"$ref": where[message["type"]]}, registry=reg).validate(message)
