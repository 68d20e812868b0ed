/**
 * Pure data shaping for the features views (sparse autoencoders): the run's top-k features
 * per token, the features × tokens strip, dashboards, the `?feature=SAE:INDEX` URL and the
 * `feature` intervention. No I/O here, so it is unit-tested directly (features.test.ts).
 */
import { decodeTensor } from '../api/codec';
import type {
  ContrastHit, FeatureContext, FeatureHit, FeatureMode, FeatureOp, FeaturesInfoReply, RunFeatures, SaeInfo, SearchBy,
} from '../api/wire';
import type { Intervention } from '../api/wire';

/** One feature of one SAE. */
export interface FeatureRef { sae: string; index: number }

/** The run's top-k features per token at the SAE's layer: `ids`/`values` are [T, k] row-major. */
export interface TokenFeatures { sae: string; hook: string; layer: number; T: number; k: number; ids: Int32Array; values: Float32Array }

/** A feature's activation (at one token, or its best over the prompt). */
export interface FeatureAct { index: number; value: number }

/** A dashboard as the card shows it: the reply without its envelope, plus how long it took. */
export type FeatureInfo = Omit<FeaturesInfoReply, 'type' | 'id'> & { ms: number };

/** A finished search, kept for the results list and the Python export. */
export interface SearchRecord { by: SearchBy | 'contrast'; query: string; a?: string[]; b?: string[]; prompt?: string; positions?: number[]; results: (FeatureHit | ContrastHit)[] }

export const featureKey = (r: FeatureRef): string => `${r.sae}:${r.index}`;

/** Parse "SAE:INDEX" (the `?feature=` value); throws an Error naming what is wrong. */
export function parseFeatureRef(text: string): FeatureRef {
  const cut = text.lastIndexOf(':');
  if (cut <= 0) throw new Error(`feature "${text}" should look like SAE:INDEX, e.g. res10:123`);
  const sae = text.slice(0, cut);
  const raw = text.slice(cut + 1);
  if (!/^\d+$/.test(raw)) throw new Error(`feature "${text}": the index "${raw}" is not a non-negative integer`);
  return { sae, index: Number(raw) };
}

/** The `?feature=` reference in a query string, or null when there is none. Throws on a malformed one. */
export function featureFromSearch(search: string): FeatureRef | null {
  const v = new URLSearchParams(search).get('feature');
  return v === null || v === '' ? null : parseFeatureRef(v);
}

/** `href` with `?feature=SAE:INDEX` set (or removed for null), other parameters kept. */
export function withFeatureParam(href: string, ref: FeatureRef | null): string {
  const u = new URL(href);
  if (ref) u.searchParams.set('feature', featureKey(ref));
  else u.searchParams.delete('feature');
  return u.toString();
}

/** Decode the `features` of a `run.layer` frame. */
export function decodeRunFeatures(f: RunFeatures, layer: number): TokenFeatures {
  const ids = decodeTensor(f.ids);
  const values = decodeTensor(f.values);
  const [T, k] = ids.shape;
  if (values.shape[0] !== T || values.shape[1] !== k) throw new Error(`features: ids ${ids.shape} and values ${values.shape} differ in shape`);
  return { sae: f.sae, hook: f.hook, layer, T, k, ids: Int32Array.from(ids.data), values: Float32Array.from(values.data) };
}

/** The features firing at token `pos`, strongest first (zeros dropped). */
export function tokenTop(tf: TokenFeatures, pos: number, n = tf.k): FeatureAct[] {
  if (pos < 0 || pos >= tf.T) return [];
  const out: FeatureAct[] = [];
  for (let j = 0; j < tf.k; j++) {
    const value = tf.values[pos * tf.k + j];
    if (value > 0) out.push({ index: tf.ids[pos * tf.k + j], value });
  }
  return out.sort((a, b) => b.value - a.value).slice(0, n);
}

/** A feature's largest activation in this run (0 when it is in no token's top-k). */
export function runMax(tf: TokenFeatures | undefined, index: number): number {
  let m = 0;
  if (tf) for (let i = 0; i < tf.ids.length; i++) if (tf.ids[i] === index && tf.values[i] > m) m = tf.values[i];
  return m;
}

/** The token the features views describe: the focused one, else the last. */
export const featureToken = (tf: TokenFeatures, focus: number | null): number => (focus !== null && focus < tf.T ? focus : tf.T - 1);

/** The rows of the features × tokens strip: pinned features first, then those of the token shown (`featureToken`). */
export function stripFeatures(tf: TokenFeatures, focus: number | null, pinned: number[], n = 8): number[] {
  const out = [...pinned];
  for (const a of tokenTop(tf, featureToken(tf, focus))) if (!out.includes(a.index)) out.push(a.index);
  return out.slice(0, Math.max(n, pinned.length));
}

/** [F, T] activations of `features` per token; a feature outside a token's top-k counts as 0 there. */
export function stripMatrix(tf: TokenFeatures, features: number[]): Float32Array {
  const out = new Float32Array(features.length * tf.T);
  const row = new Map(features.map((f, i) => [f, i]));
  for (let t = 0; t < tf.T; t++) {
    for (let j = 0; j < tf.k; j++) {
      const r = row.get(tf.ids[t * tf.k + j]);
      if (r !== undefined) out[r * tf.T + t] = tf.values[t * tf.k + j];
    }
  }
  return out;
}

/** One histogram bar: its bin and count, and its height as a fraction of the tallest (log scale). */
export interface HistBar { x0: number; x1: number; count: number; height: number }

/** Histogram bars with log1p heights (activation counts span orders of magnitude). */
export function histogramBars(h: { edges: number[]; counts: number[] }): HistBar[] {
  if (h.edges.length !== h.counts.length + 1) throw new Error(`histogram: ${h.edges.length} edges for ${h.counts.length} counts`);
  const top = Math.max(1, ...h.counts.map((c) => Math.log1p(c)));
  return h.counts.map((count, i) => ({ x0: h.edges[i], x1: h.edges[i + 1], count, height: Math.log1p(count) / top }));
}

/** A context token for display: its text, activation and shade in [0, 1] relative to `max`. */
export interface ContextCell { text: string; value: number; shade: number }

/** A context's tokens shaded by activation relative to the feature's overall max. */
export function contextCells(ctx: FeatureContext, max: number): ContextCell[] {
  const m = max > 0 ? max : Math.max(1e-9, ...ctx.values);
  return ctx.tokens.map((text, i) => {
    const value = ctx.values[i] ?? 0;
    return { text, value, shade: Math.max(0, Math.min(1, value / m)) };
  });
}

/** The id of a feature intervention: one per feature, so moving the slider replaces it. */
export const featureInterventionId = (r: FeatureRef): string => `feature-${r.sae}-${r.index}`;

/** A `feature` intervention (proto: op "feature"); `ablate` takes no value. */
export function featureIntervention(r: FeatureRef, mode: FeatureMode, value: number, positions?: number[], enabled = true): Intervention {
  const op: FeatureOp = { op: 'feature', sae: r.sae, index: r.index, mode, ...(mode === 'ablate' ? {} : { value }), ...(positions?.length ? { positions } : {}) };
  return { id: featureInterventionId(r), enabled, ...op };
}

/** One-liner for the Interventions list. */
export function describeFeatureOp(op: FeatureOp): string {
  const pos = Array.isArray(op.positions) && op.positions.length ? ` @pos ${op.positions.join(',')}` : '';
  const v = op.value ?? 0;
  const how = op.mode === 'ablate' ? 'ablate' : op.mode === 'set' ? `set = ${v}` : op.mode === 'add' ? `add ${v >= 0 ? '+' : ''}${v}` : `scale × ${v}`;
  return `feature ${op.sae}#${op.index} ${how}${pos}`;
}

/** Slider range and starting value for a mode, from the feature's max activation. */
export function sliderSpec(mode: FeatureMode, max: number): { min: number; max: number; step: number; initial: number } {
  const m = max > 0 ? max : 1;
  const step = Number((m / 50).toPrecision(1));
  switch (mode) {
    case 'set': return { min: 0, max: 4 * m, step, initial: 2 * m };
    case 'add': return { min: -4 * m, max: 4 * m, step, initial: 2 * m };
    case 'scale': return { min: -2, max: 6, step: 0.1, initial: 3 };
    case 'ablate': return { min: 0, max: 0, step: 1, initial: 0 };
  }
}

/** The SAE to use: the requested one if attached, else the first; null when none. */
export function pickSae(saes: SaeInfo[], want: string | null): SaeInfo | null {
  return saes.find((s) => s.id === want) ?? saes[0] ?? null;
}

/** A feature's short label: the server's when known, else its index. */
export function labelOf(labels: Record<string, string>, r: FeatureRef): string {
  return labels[featureKey(r)] || `#${r.index}`;
}

/** Non-empty lines of a text box (the contrast prompt lists). */
export const lines = (text: string): string[] => text.split('\n').map((l) => l.trim()).filter(Boolean);
