"""The generated wire types agree with proto/schema, and so does the server's request parser (issue 15)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loupe import wire
from loupe.errors import LoupeError
from loupe.server.protocol import ID_OPTIONAL, REQUIRED, SPECS
from tests.proto.schemas import PROTO

ROOT = PROTO.parent
GENERATED = ("backend/loupe/wire.py", "frontend/src/api/wire.ts")


def generate(out: Path, schema: Path = PROTO / "schema") -> None:
    cmd = [sys.executable, str(PROTO / "gen_types.py"), "--out", str(out), "--schema", str(schema)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


def drifted(out: Path) -> list[str]:
    return [rel for rel in GENERATED if (out / rel).read_text() != (ROOT / rel).read_text()]


def requests() -> dict[str, dict[str, Any]]:
    """Each request's schema (the definitions with `x-reply`), by type."""
    out = {}
    for path in (PROTO / "schema").glob("*.schema.json"):
        for d in json.loads(path.read_text())["$defs"].values():
            for node in d.get("anyOf", [d]):
                if "x-reply" in node:
                    out[node["properties"]["type"]["const"]] = node
    return out


def test_committed_code_is_what_the_schema_generates(tmp_path: Path) -> None:
    generate(tmp_path)
    assert drifted(tmp_path) == [], "generated wire types drifted from proto/schema: run `make wire-types`"


def test_a_schema_change_shows_as_drift(tmp_path: Path) -> None:
    schema = tmp_path / "schema"
    shutil.copytree(PROTO / "schema", schema)
    path = schema / "generate.schema.json"
    doc = json.loads(path.read_text())
    doc["$defs"]["generate"]["properties"]["stop"] = {"type": "string"}
    path.write_text(json.dumps(doc))
    generate(tmp_path / "out", schema)
    assert drifted(tmp_path / "out") == list(GENERATED)


def test_constants_come_from_the_schema() -> None:
    reqs = requests()
    assert {t for t, n in reqs.items() if n["x-reply"] == "done"} == wire.ENDS_WITH_DONE
    assert {"run", "generate", "runs.save", "vectors.from_prompts", "analyze"} == wire.ENDS_WITH_DONE
    assert set(wire.ANALYZE_KINDS) == set(reqs["analyze"]["properties"]["kind"]["enum"])
    assert wire.PROTOCOL_VERSION == 1


def test_the_parser_knows_every_request_of_the_schema() -> None:
    reqs = requests()
    assert set(reqs) == set(SPECS)
    assert {t for t, n in reqs.items() if "id" not in n["required"]} == ID_OPTIONAL


@pytest.mark.parametrize("mtype", sorted(SPECS))
def test_parser_fields_required_and_defaults_match_the_schema(mtype: str) -> None:
    node = requests()[mtype]
    props = {k: v for k, v in node["properties"].items() if k not in ("type", "id")}
    assert set(props) == set(SPECS[mtype])
    for name, (_, default) in SPECS[mtype].items():
        assert (default is REQUIRED) == (name in node["required"]), name
        want = {} if default is REQUIRED or default is None else {"default": default}
        assert {k: v for k, v in props[name].items() if k == "default"} == want, name


@pytest.mark.parametrize("mtype", sorted(SPECS))
def test_each_request_has_a_generated_parsed_type(mtype: str) -> None:
    name = "".join(w[:1].upper() + w[1:] for w in mtype.replace(".", "_").split("_")) + "Request"
    assert set(getattr(wire, name).__annotations__) == set(SPECS[mtype])


@pytest.mark.parametrize("mtype", sorted(SPECS))
def test_parser_accepts_exactly_the_schema_enums(mtype: str) -> None:
    props = requests()[mtype]["properties"]
    for name, (check, _) in SPECS[mtype].items():
        values = props[name].get("enum")
        if values is None:
            continue
        for v in values:
            assert check(f"{mtype}.{name}", v) == v
        with pytest.raises(LoupeError):
            check(f"{mtype}.{name}", "not-one-of-them")
