"""The shared test vectors: bytes <-> JSON view through loupe.codec, and every JSON view against its schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from loupe.codec import CodecError, decode_tensor, encode_tensor, from_json, pack, to_json, unpack
from loupe.server.protocol import SPECS
from tests.proto.schemas import PROTO, registry, validate

VECTORS = sorted((PROTO / "vectors").glob("*.msgpack"))
INVALID = sorted((PROTO / "vectors" / "invalid").glob("*.msgpack"))


def json_of(path: Path) -> dict:
    return json.loads(path.with_suffix(".json").read_text())


def test_there_are_vectors() -> None:
    assert len(VECTORS) >= 25 and len(INVALID) >= 4


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector_decodes_to_its_json(path: Path) -> None:
    assert to_json(unpack(path.read_bytes())) == json_of(path)


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_json_encodes_to_the_vector_bytes(path: Path) -> None:
    assert pack(from_json(json_of(path))) == path.read_bytes()


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector_matches_its_schema(path: Path) -> None:
    validate(json_of(path))


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_vector_is_rejected_with_its_code(path: Path) -> None:
    with pytest.raises(CodecError) as err:
        unpack(path.read_bytes())
    assert err.value.code == json_of(path)["error"]


def test_tensor_bytes_are_little_endian_row_major() -> None:
    m = encode_tensor(np.array([[1, 2], [3, 258]], np.int32))
    assert m == {"dtype": "i32", "shape": [2, 2], "data": bytes([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2, 1, 0, 0])}
    assert encode_tensor(np.array([1.0], np.float16))["data"] == b"\x00\x3c"
    assert decode_tensor(m).tolist() == [[1, 2], [3, 258]]


def test_every_request_type_has_a_schema_and_a_readme_entry() -> None:
    readme = (PROTO / "README.md").read_text()
    _, where = registry()
    for mtype in SPECS:
        assert mtype in where, mtype
        assert f"`{mtype}" in readme, mtype
    for reply in (
        "welcome",
        "pong",
        "run.tokens",
        "run.layer",
        "run.result",
        "gen.token",
        "interventions",
        "runs",
        "vectors",
        "cancelled",
        "done",
        "error",
    ):
        assert reply in where and f"`{reply}" in readme, reply


def test_readme_lists_every_error_code_the_schema_allows() -> None:
    readme = (PROTO / "README.md").read_text()
    codes = json.loads((PROTO / "schema" / "common.schema.json").read_text())["$defs"]["error"]["properties"]["code"]
    table = set(re.findall(r"^\| `([a-z_]+)` +\|", readme, flags=re.M))
    assert set(codes["enum"]) <= table
