/**
 * The wire codec: msgpack frames and tensors `{dtype, shape, data: bin little-endian}`
 * (proto/README.md). Decoded tensors become `Tensor` objects with a Float32Array (floats,
 * f16 widened) or Int32Array (i32) in row-major order.
 */
import { decode, encode } from '@msgpack/msgpack';
import type { WireTensor, TensorDType } from './wire';

/** A decoded tensor: row-major values plus shape. */
export interface Tensor {
  dtype: TensorDType;
  shape: number[];
  data: Float32Array | Int32Array;
}

const F16_TABLE = buildF16Table();

function buildF16Table(): Float32Array {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = halfToFloat(h);
  return t;
}

/** IEEE 754 binary16 bits → number (exact). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** number → IEEE 754 binary16 bits (round to nearest even). */
export function floatToHalf(v: number): number {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  if ((half & 0x7fff) >= 0x7c00) e = 31;
  return sign | (e === 31 ? 0x7c00 : half);
}

const BYTES: Record<TensorDType, number> = { f16: 2, f32: 4, i32: 4 };

function isLittleEndianHost(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}
const LE = isLittleEndianHost();

/** True when `v` looks like a wire tensor map. */
export function isWireTensor(v: unknown): v is WireTensor {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.dtype === 'string' && Array.isArray(o.shape) && o.data instanceof Uint8Array;
}

/** Decode a wire tensor; throws on a dtype or size mismatch. */
export function decodeTensor(t: WireTensor): Tensor {
  const size = t.shape.reduce((a, b) => a * b, 1);
  const width = BYTES[t.dtype];
  if (!width) throw new Error(`unknown tensor dtype ${String(t.dtype)}`);
  if (t.data.byteLength !== size * width) {
    throw new Error(`tensor data is ${t.data.byteLength} bytes, shape ${JSON.stringify(t.shape)} needs ${size * width}`);
  }
  const view = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  if (t.dtype === 'f16') {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = F16_TABLE[view.getUint16(i * 2, true)];
    return { dtype: 'f16', shape: [...t.shape], data: out };
  }
  if (LE && t.data.byteOffset % 4 === 0) {
    const slice = t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength) as ArrayBuffer;
    const data = t.dtype === 'f32' ? new Float32Array(slice) : new Int32Array(slice);
    return { dtype: t.dtype, shape: [...t.shape], data };
  }
  if (t.dtype === 'f32') {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = view.getFloat32(i * 4, true);
    return { dtype: 'f32', shape: [...t.shape], data: out };
  }
  const out = new Int32Array(size);
  for (let i = 0; i < size; i++) out[i] = view.getInt32(i * 4, true);
  return { dtype: 'i32', shape: [...t.shape], data: out };
}

/** Encode numbers as a wire tensor (little-endian). */
export function encodeTensor(values: ArrayLike<number>, shape: number[], dtype: TensorDType = 'f32'): WireTensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (values.length !== size) throw new Error(`${values.length} values for shape ${JSON.stringify(shape)}`);
  const buf = new Uint8Array(size * BYTES[dtype]);
  const view = new DataView(buf.buffer);
  for (let i = 0; i < size; i++) {
    if (dtype === 'f16') view.setUint16(i * 2, floatToHalf(values[i]), true);
    else if (dtype === 'f32') view.setFloat32(i * 4, values[i], true);
    else view.setInt32(i * 4, values[i], true);
  }
  return { dtype, shape: [...shape], data: buf };
}

/** Recursively replace wire tensors inside a decoded message by `Tensor`s. */
export function decodeTensors(v: unknown): unknown {
  if (isWireTensor(v)) return decodeTensor(v);
  if (Array.isArray(v)) return v.map(decodeTensors);
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = decodeTensors(x);
    return out;
  }
  return v;
}

/** A frame that breaks the protocol; `code` is the protocol's error code for it. */
export class CodecError extends Error {
  readonly code: 'bad_frame' | 'bad_message';
  constructor(code: 'bad_frame' | 'bad_message', message: string) {
    super(message);
    this.code = code;
  }
}

/** Bounds on a tensor's shape (proto/README.md section 2), checked before its size is trusted. */
export const MAX_TENSOR_DIMS = 16;
export const MAX_TENSOR_ELEMENTS = 2 ** 31 - 1;

/** Throw `CodecError('bad_message')` unless every tensor inside `v` has a known dtype, a bounded shape and the right byte length. */
export function checkTensors(v: unknown, path = '$'): void {
  if (isWireTensor(v)) {
    const width = BYTES[v.dtype];
    if (!width) throw new CodecError('bad_message', `${path}: unknown tensor dtype ${JSON.stringify(v.dtype)}`);
    if (!v.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new CodecError('bad_message', `${path}: a shape holds non-negative integers`);
    }
    if (v.shape.length > MAX_TENSOR_DIMS) {
      throw new CodecError('bad_message', `${path}: at most ${MAX_TENSOR_DIMS} dimensions, got ${v.shape.length}`);
    }
    if (v.shape.reduce((a, b) => a * (b || 1), 1) > MAX_TENSOR_ELEMENTS) {
      throw new CodecError('bad_message', `${path}: shape ${JSON.stringify(v.shape)} is over ${MAX_TENSOR_ELEMENTS} elements`);
    }
    const size = v.shape.reduce((a, b) => a * b, 1);
    if (v.data.byteLength !== size * width) {
      throw new CodecError('bad_message', `${path}: ${v.data.byteLength} bytes for shape ${JSON.stringify(v.shape)} ${v.dtype}`);
    }
    return;
  }
  if (Array.isArray(v)) v.forEach((x, i) => checkTensors(x, `${path}[${i}]`));
  else if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) {
    for (const [k, x] of Object.entries(v)) checkTensors(x, `${path}.${k}`);
  }
}

/** Read one server frame: msgpack → a map with a string `type`, tensors checked (not converted). */
export function readMessage(bytes: Uint8Array | ArrayBuffer): Record<string, unknown> & { type: string } {
  let v: unknown;
  try {
    v = decodeFrame(bytes);
  } catch (e) {
    throw new CodecError('bad_frame', `not msgpack: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) {
    throw new CodecError('bad_frame', 'a frame must hold one msgpack map');
  }
  const m = v as Record<string, unknown>;
  if (typeof m.type !== 'string') throw new CodecError('bad_message', 'a message needs a string "type"');
  checkTensors(m);
  return m as Record<string, unknown> & { type: string };
}

/** Decode one binary frame into a message object (tensors left as wire tensors). */
export function decodeFrame(bytes: Uint8Array | ArrayBuffer): unknown {
  return decode(bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes);
}

/** Encode one message as a binary frame. */
export function encodeFrame(msg: unknown): Uint8Array<ArrayBuffer> {
  const b = encode(msg, { ignoreUndefined: true });
  return b.buffer instanceof ArrayBuffer ? (b as Uint8Array<ArrayBuffer>) : new Uint8Array(b);
}

/** Index helper for row-major tensors. */
export function at(t: Tensor, ...idx: number[]): number {
  let off = 0;
  for (let i = 0; i < idx.length; i++) off = off * t.shape[i] + idx[i];
  for (let i = idx.length; i < t.shape.length; i++) off *= t.shape[i];
  return t.data[off];
}
