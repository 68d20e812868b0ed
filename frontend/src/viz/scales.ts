/** d3 scales and formatting shared by the views. */
import { scaleBand, type ScaleBand } from 'd3';

/** Band scale over indices 0..n-1 filling [0, size]. */
export function bandScale(n: number, size: number, padding = 0): ScaleBand<number> {
  return scaleBand<number>().domain(Array.from({ length: n }, (_, i) => i)).range([0, size]).paddingInner(padding);
}

/** Robust [lo, hi] of finite values, ignoring the top `clip` fraction (e.g. the BOS outlier norm). */
export function robustExtent(values: ArrayLike<number>, clip = 0.02): [number, number] {
  const xs: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) xs.push(values[i]);
  if (!xs.length) return [0, 1];
  xs.sort((a, b) => a - b);
  const lo = xs[0];
  const hi = xs[Math.min(xs.length - 1, Math.floor((xs.length - 1) * (1 - clip)))];
  return hi > lo ? [lo, hi] : [lo, lo + 1];
}

/** Cell index under a pixel coordinate for a band scale (or -1). */
export function bandIndexAt(scale: ScaleBand<number>, px: number): number {
  const step = scale.step();
  const i = Math.floor((px - scale.range()[0]) / step);
  return i >= 0 && i < scale.domain().length ? i : -1;
}

/** Probability as a short string: .61, .07, <.01. */
export function fmtProb(p: number): string {
  if (!Number.isFinite(p)) return '–';
  if (p >= 0.995) return '1.0';
  if (p < 0.005) return '<.01';
  return p.toFixed(2).replace(/^0/, '');
}

/** Signed number with fixed decimals: +1.23 / −0.40. */
export function fmtSigned(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return '–';
  const s = Math.abs(x).toFixed(digits);
  return x >= 0 ? `+${s}` : `−${s}`;
}

/** Token text made visible: spaces as ·, newlines as ↵, empty as ∅. */
export function showToken(t: string): string {
  if (t === '') return '∅';
  return t.replace(/\n/g, '↵').replace(/\t/g, '⇥').replace(/ /g, '·');
}
