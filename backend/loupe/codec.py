"""The wire encoding of proto/README.md: msgpack maps, tensors as {dtype, shape, data} little-endian.

`pack` turns a message (nested dicts/lists holding numpy arrays or torch tensors) into frame bytes;
`unpack` reads frame bytes under size limits and turns every tensor map into a numpy array.
`to_json`/`from_json` convert between that form and the JSON view used by test vectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np
import torch

from loupe.errors import LoupeError

WIRE_DTYPES: dict[str, np.dtype[Any]] = {
    "f16": np.dtype("<f2"),
    "f32": np.dtype("<f4"),
    "i32": np.dtype("<i4"),
}
_NUMPY_TO_WIRE = {np.dtype(np.float16): "f16", np.dtype(np.float32): "f32", np.dtype(np.int32): "i32"}
TENSOR_KEYS = frozenset({"dtype", "shape", "data"})
MAX_DEPTH = 64
MAX_TENSOR_DIMS = 16  # a tensor's shape has at most this many dimensions
MAX_TENSOR_ELEMENTS = 2**31 - 1  # the product of its non-zero dimensions is at most this (checked before allocating)


class CodecError(LoupeError):
    """A frame or tensor that does not follow the encoding; `code` is the protocol error code."""


@dataclass(frozen=True)
class UnpackLimits:
    """msgpack unpack limits; the defaults match proto/README.md section 8."""

    max_message_bytes: int = 1 << 20
    max_bin_len: int = 1 << 20
    max_str_len: int = 256 << 10
    max_array_len: int = 65536
    max_map_len: int = 1024


def as_numpy(value: torch.Tensor | np.ndarray, dtype: str | None = None) -> tuple[np.ndarray, str]:
    """A C-contiguous little-endian array in wire dtype `dtype` (default: the closest to the input's)."""
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu()
        value = (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    arr = np.asarray(value)
    if dtype is None:
        dtype = _NUMPY_TO_WIRE.get(arr.dtype) or ("i32" if arr.dtype.kind in "iub" else "f32")
    if dtype not in WIRE_DTYPES:
        raise CodecError("bad_message", f"tensor dtype: expected one of {sorted(WIRE_DTYPES)}, got {dtype!r}")
    if dtype == "i32" and arr.size and (arr.min() < -(2**31) or arr.max() >= 2**31):
        raise CodecError("bad_message", "tensor values do not fit in i32")
    return np.asarray(arr, dtype=WIRE_DTYPES[dtype], order="C"), dtype  # keeps shape [] (a scalar)


def encode_tensor(value: torch.Tensor | np.ndarray, dtype: str | None = None) -> dict[str, Any]:
    """The tensor map {dtype, shape, data} of an array or tensor."""
    arr, name = as_numpy(value, dtype)
    return {"dtype": name, "shape": list(arr.shape), "data": arr.tobytes()}


def decode_tensor(m: dict[str, Any]) -> np.ndarray:
    """The numpy array of a tensor map (read-only, sharing the frame's bytes)."""
    dtype, shape, data = m.get("dtype"), m.get("shape"), m.get("data")
    if dtype not in WIRE_DTYPES:
        raise CodecError("bad_message", f"tensor dtype: expected one of {sorted(WIRE_DTYPES)}, got {dtype!r}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise CodecError("bad_message", f"tensor shape: expected a list of non-negative ints, got {str(shape)[:80]}")
    if len(shape) > MAX_TENSOR_DIMS:
        raise CodecError("bad_message", f"tensor shape: at most {MAX_TENSOR_DIMS} dimensions, got {len(shape)}")
    if math.prod(d for d in shape if d) > MAX_TENSOR_ELEMENTS:
        raise CodecError("bad_message", f"tensor shape: {shape} is over {MAX_TENSOR_ELEMENTS} elements")
    if not isinstance(data, bytes):
        raise CodecError("bad_message", "tensor data: expected msgpack bin")
    item = WIRE_DTYPES[dtype].itemsize
    if len(data) != math.prod(shape) * item:
        raise CodecError(
            "bad_message",
            f"tensor data: shape {shape} {dtype} needs {math.prod(shape) * item} bytes, got {len(data)}",
        )
    return np.frombuffer(data, dtype=WIRE_DTYPES[dtype]).reshape(shape)


def _is_tensor_map(obj: dict[Any, Any]) -> bool:
    return len(obj) == 3 and obj.keys() == TENSOR_KEYS


def _default(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor | np.ndarray):
        return encode_tensor(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot encode {type(obj).__name__} in a Loupe frame")


def pack(message: dict[str, Any]) -> bytes:
    """Frame bytes of one message; numpy arrays and torch tensors become tensor maps as they are."""
    data: bytes = msgpack.packb(message, default=_default, use_bin_type=True)
    return data


def _decode_tree(obj: Any, path: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise CodecError("bad_frame", f"message nested deeper than {MAX_DEPTH} levels")
    if isinstance(obj, dict):
        if _is_tensor_map(obj) and isinstance(obj["data"], bytes):
            try:
                return decode_tensor(obj)
            except CodecError as exc:
                raise CodecError(exc.code, f"{path}: {exc.message}") from None
        return {k: _decode_tree(v, f"{path}.{k}" if path else str(k), depth + 1) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode_tree(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(obj)]
    return obj


def unpack_map(frame: bytes, limits: UnpackLimits | None = None) -> dict[str, Any]:
    """Step 1 of `unpack`: the msgpack map of a frame, tensors still as maps."""
    lim = limits or UnpackLimits()
    if len(frame) > lim.max_message_bytes:
        raise CodecError("too_large", f"frame of {len(frame)} bytes is over the limit of {lim.max_message_bytes}")
    try:
        obj = msgpack.unpackb(
            frame,
            raw=False,
            strict_map_key=True,
            max_bin_len=lim.max_bin_len,
            max_str_len=lim.max_str_len,
            max_array_len=lim.max_array_len,
            max_map_len=lim.max_map_len,
            max_ext_len=0,
        )
    except Exception as exc:  # msgpack raises several unrelated exception types (ValueError, StackError, ...)
        raise CodecError(
            "bad_frame", f"expected one msgpack map within the unpack limits ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(obj, dict):
        raise CodecError("bad_frame", f"expected a msgpack map, got {type(obj).__name__}")
    return obj


def decode_tensors(message: dict[str, Any]) -> dict[str, Any]:
    """Step 2 of `unpack`: every tensor map of a message as a numpy array."""
    out: dict[str, Any] = _decode_tree(message, str(message.get("type", "")), 0)
    return out


def unpack(frame: bytes, limits: UnpackLimits | None = None) -> dict[str, Any]:
    """The message in frame bytes, tensors as numpy arrays; CodecError on anything malformed."""
    return decode_tensors(unpack_map(frame, limits))


def to_json(obj: Any) -> Any:
    """The JSON view of a decoded message: arrays become {dtype, shape, data: [numbers]}."""
    if isinstance(obj, np.ndarray | torch.Tensor):
        arr, name = as_numpy(obj)
        return {"dtype": name, "shape": list(arr.shape), "data": arr.reshape(-1).tolist()}
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_json(v) for v in obj]
    return obj


def from_json(obj: Any) -> Any:
    """The decoded message of a JSON view: maps {dtype, shape, data: [numbers]} become arrays."""
    if isinstance(obj, dict):
        if _is_tensor_map(obj) and isinstance(obj["data"], list):
            dtype = WIRE_DTYPES[obj["dtype"]]
            return np.asarray(obj["data"], dtype=dtype).reshape(obj["shape"])
        return {k: from_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_json(v) for v in obj]
    return obj
