import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CodecError, at, decodeFrame, readMessage, decodeTensor, decodeTensors, encodeFrame, encodeTensor, floatToHalf, halfToFloat, isWireTensor, type Tensor } from './codec';
import type { WireTensor } from './wire';

describe('f16', () => {
  it('decodes known bit patterns', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x3800)).toBe(0.5);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0xfc00)).toBe(-Infinity);
    expect(Number.isNaN(halfToFloat(0x7e00))).toBe(true);
    expect(Object.is(halfToFloat(0x8000), -0)).toBe(true);
  });
  it('round-trips every finite half exactly', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = halfToFloat(h);
      if (Number.isNaN(v)) continue;
      expect(floatToHalf(v)).toBe(h);
    }
  });
  it('rounds to nearest even and overflows to infinity', () => {
    expect(halfToFloat(floatToHalf(1 + 2 ** -11))).toBe(1); // tie → even
    expect(halfToFloat(floatToHalf(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9);
    expect(halfToFloat(floatToHalf(1e6))).toBe(Infinity);
    expect(halfToFloat(floatToHalf(0.1))).toBeCloseTo(0.0999755859375, 12);
  });
});

describe('tensors', () => {
  it.each(['f16', 'f32', 'i32'] as const)('encodes and decodes %s little-endian', (dtype) => {
    const vals = [0, 1, -2, 3.5, 1024, -7];
    const t = encodeTensor(vals, [2, 3], dtype);
    expect(t.data.byteLength).toBe(6 * (dtype === 'f16' ? 2 : 4));
    const d = decodeTensor(t);
    expect(d.shape).toEqual([2, 3]);
    expect(Array.from(d.data)).toEqual(dtype === 'i32' ? [0, 1, -2, 3, 1024, -7] : vals);
    expect(at(d, 1, 0)).toBe(dtype === 'i32' ? 3 : 3.5);
  });
  it('reads little-endian bytes exactly', () => {
    const t: WireTensor = { dtype: 'i32', shape: [2], data: new Uint8Array([1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]) };
    expect(Array.from(decodeTensor(t).data)).toEqual([1, -1]);
    const h: WireTensor = { dtype: 'f16', shape: [], data: new Uint8Array([0x00, 0x3c]) };
    expect(Array.from(decodeTensor(h).data)).toEqual([1]);
  });
  it('handles unaligned views inside a larger frame', () => {
    const buf = new Uint8Array(9);
    buf.set(new Uint8Array(new Float32Array([1.5, -2]).buffer), 1);
    const t: WireTensor = { dtype: 'f32', shape: [2], data: buf.subarray(1) };
    expect(Array.from(decodeTensor(t).data)).toEqual([1.5, -2]);
  });
  it('rejects a size mismatch', () => {
    expect(() => decodeTensor({ dtype: 'f32', shape: [3], data: new Uint8Array(8) })).toThrow(/needs 12/);
  });
  it('survives a msgpack frame round trip, nested', () => {
    const msg = { type: 'run.layer', id: 'r1', layer: 3, summary: { resid_norm: encodeTensor([1, 2, 3], [3], 'f16') } };
    const back = decodeTensors(decodeFrame(encodeFrame(msg))) as { summary: { resid_norm: Tensor } };
    expect(Array.from(back.summary.resid_norm.data)).toEqual([1, 2, 3]);
    expect(isWireTensor({ dtype: 'f16', shape: [1], data: [1] })).toBe(false);
  });
});

// ------------------------------------------------------------ shared test vectors (proto/vectors)

const VEC_DIR = join(__dirname, '..', '..', '..', 'proto', 'vectors');
const names = existsSync(VEC_DIR) ? readdirSync(VEC_DIR).filter((f) => f.endsWith('.msgpack')).map((f) => f.slice(0, -8)) : [];

/** JSON view of a decoded message: tensors as {dtype, shape, data: number[]} (proto/README.md §2). */
function toJsonView(v: unknown): unknown {
  if (isWireTensor(v)) {
    const t = decodeTensor(v);
    return { dtype: t.dtype, shape: t.shape, data: Array.from(t.data) };
  }
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(toJsonView);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJsonView(x)]));
  return v;
}

/** JSON tensors back to wire tensors, for re-encoding. */
function fromJsonView(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromJsonView);
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).sort().join(',');
    if (keys === 'data,dtype,shape' && Array.isArray(o.data)) return encodeTensor(o.data as number[], o.shape as number[], o.dtype as 'f16');
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, fromJsonView(x)]));
  }
  return v;
}

function closeDeep(a: unknown, b: unknown, path = '$'): void {
  if (typeof a === 'number' && typeof b === 'number') {
    if (Number.isNaN(b)) expect(Number.isNaN(a), path).toBe(true);
    else expect(Math.abs(a - b), `${path}: ${a} vs ${b}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(b)));
    return;
  }
  if (Array.isArray(b)) {
    expect(Array.isArray(a), path).toBe(true);
    expect((a as unknown[]).length, `${path}.length`).toBe(b.length);
    b.forEach((x, i) => closeDeep((a as unknown[])[i], x, `${path}[${i}]`));
    return;
  }
  if (typeof b === 'object' && b !== null) {
    expect(Object.keys(a as object).sort(), path).toEqual(Object.keys(b).sort());
    for (const [k, x] of Object.entries(b)) closeDeep((a as Record<string, unknown>)[k], x, `${path}.${k}`);
    return;
  }
  expect(a, path).toEqual(b);
}

describe('proto/vectors', () => {
  it('are present (the shared test vectors of proto/README.md)', () => {
    expect(names.length, `no *.msgpack in ${VEC_DIR}`).toBeGreaterThan(0);
  });
  it.each(names)('%s decodes to its JSON', (name) => {
    const bytes = new Uint8Array(readFileSync(join(VEC_DIR, `${name}.msgpack`)));
    const json = JSON.parse(readFileSync(join(VEC_DIR, `${name}.json`), 'utf8'));
    closeDeep(toJsonView(decodeFrame(bytes)), json);
  });
  it.each(names)('%s re-encodes to a frame that decodes the same', (name) => {
    const json = JSON.parse(readFileSync(join(VEC_DIR, `${name}.json`), 'utf8'));
    const again = toJsonView(decodeFrame(encodeFrame(fromJsonView(json))));
    closeDeep(again, json);
  });
});

const INVALID_DIR = join(VEC_DIR, 'invalid');
const invalid = existsSync(INVALID_DIR) ? readdirSync(INVALID_DIR).filter((f) => f.endsWith('.msgpack')).map((f) => f.slice(0, -8)) : [];

describe('proto/vectors/invalid', () => {
  it.each(invalid)('%s is rejected with the error code its JSON names', (name) => {
    const bytes = new Uint8Array(readFileSync(join(INVALID_DIR, `${name}.msgpack`)));
    const want = JSON.parse(readFileSync(join(INVALID_DIR, `${name}.json`), 'utf8')).error;
    let got: unknown = null;
    try {
      readMessage(bytes);
    } catch (e) {
      got = e;
    }
    expect(got).toBeInstanceOf(CodecError);
    expect((got as CodecError).code).toBe(want);
  });
  it.each(names)('valid %s passes readMessage', (name) => {
    expect(readMessage(new Uint8Array(readFileSync(join(VEC_DIR, `${name}.msgpack`)))).type).toBeTypeOf('string');
  });
});
