/**
 * Colour lookup tables: d3 interpolators sampled into 256 packed RGBA words so canvas
 * drawing is one table read per pixel.
 */
import { color as d3color, interpolateRgbBasis } from 'd3';

export type Interpolator = (t: number) => string;

/** A 256-entry table of packed RGBA (little-endian ABGR words for ImageData's Uint32 view). */
export interface Lut {
  words: Uint32Array;
  css: string[];
}

/** Sample an interpolator into a LUT. */
export function makeLut(interp: Interpolator, n = 256): Lut {
  const words = new Uint32Array(n);
  const css: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = d3color(interp(i / (n - 1)))?.rgb();
    const r = c ? Math.round(c.r) : 0;
    const g = c ? Math.round(c.g) : 0;
    const b = c ? Math.round(c.b) : 0;
    words[i] = (255 << 24) | (b << 16) | (g << 8) | r;
    css.push(`rgb(${r},${g},${b})`);
  }
  return { words, css };
}

/** Attention: near-black panel colour → indigo → warm amber (reads well on a dark UI). */
export const attentionInterp: Interpolator = interpolateRgbBasis(['#11141b', '#2b2f6b', '#6b3fa0', '#d9577a', '#ffb454', '#fff3c4']);
/** Residual norms: sequential teal. */
export const normInterp: Interpolator = interpolateRgbBasis(['#11141b', '#12394a', '#17707a', '#3fb6a0', '#b7f0c8']);
/** Probabilities in the logit lens. */
export const probInterp: Interpolator = interpolateRgbBasis(['#161a23', '#1d3358', '#2f5fa6', '#4f9cf0', '#a8dcff']);

export const ATTENTION_LUT = makeLut(attentionInterp);
export const NORM_LUT = makeLut(normInterp);
export const PROB_LUT = makeLut(probInterp);

/** LUT index for a value in [lo, hi] (clamped; NaN → 0). */
export function lutIndex(v: number, lo: number, hi: number): number {
  if (!(v === v) || hi <= lo) return 0;
  const t = (v - lo) / (hi - lo);
  return t <= 0 ? 0 : t >= 1 ? 255 : (t * 255) | 0;
}

/** Text colour that stays readable on a LUT background at index i. */
export function textOn(i: number): string {
  return i > 150 ? '#0b0d12' : '#e8ecf4';
}
