/**
 * State of the Analyses panel (patching heatmap, direct logit attribution, head roles, QK/OV
 * tables) and the pure functions that turn `analyze.row` / `analyze.result` frames into it.
 */
import { decodeTensor, type Tensor } from '../api/codec';
import type { AnalyzeResultMsg, AnalyzeRowMsg, WireTensor } from '../api/wire';
import type { HeadMark } from '../viz/attentionGrid';
import type { CompositionView } from './composition';
import type { CleanLens } from './lensCompare';
import type { KeptSweep } from './sweeps';

export type PatchOver = 'heads' | 'resid' | 'layers';
/** Activation patching (one patched run per cell) or attribution patching (its first-order estimate from one forward + one backward pass). */
export type PatchMethod = 'exact' | 'attribution';

export interface Labeled { label: string; value: number }

/** A patching sweep as it fills in: `effect` is rows × cols, row-major; rows arrive in order. */
export interface PatchView {
  id: string;
  over: PatchOver;
  method: PatchMethod;
  corrupt: string;
  rows: number;
  cols: number;
  rowLabels: string[];
  colLabels: string[];
  /** The clean prompt's tokens (the columns of a residual sweep). */
  tokens: string[];
  effect: Float32Array;
  rowsDone: number;
  status: 'running' | 'done' | 'cancelled' | 'error';
  cleanMetric?: number;
  corruptMetric?: number;
  top: Labeled[];
  error?: string;
  ms?: number;
}

export interface DlaBar extends Labeled { kind: 'head' | 'mlp' | 'embed' | 'bias' }
/** Bars of one attribution; `position`: the token whose next-token logits are attributed (≥ 0), of `tokens`. */
export interface DlaView { answer: string; wrong: string; bars: DlaBar[]; total: number; actual: number; position: number; tokens: string[] }

export type RoleKind = 'induction' | 'previous_token' | 'duplicate_token';
export interface RoleScores { scores: Record<RoleKind, Tensor>; nLayers: number; nHeads: number }

export interface TokenPair { src: string; dst: string; value: number }
export interface QkOvView {
  layer: number; head: number; ovTop: TokenPair[]; ovBottom: TokenPair[]; qkTop: TokenPair[];
  copying: number; qkSame: number; selfTop5: number;
}

export interface AnalysisState {
  over: PatchOver;
  method: PatchMethod;
  patch: PatchView | null;
  /** Finished sweeps, oldest first; `shown` picks one to display instead of the latest, `compare` one to subtract. */
  sweeps: KeptSweep[];
  shown: number | null;
  compare: number | null;
  dla: DlaView | null;
  roles: RoleScores | null;
  showRoles: boolean;
  qkov: QkOvView | null;
  composition: CompositionView | null;
  /** The clean run's logit lens of a prompt, fetched when the lens tab compares it with the intervened run. */
  cleanLens: CleanLens | null;
  /** Which analysis is being computed ("dla", "roles", "qkov"), for spinners. */
  busy: string | null;
}

export const initialAnalysis: AnalysisState = {
  over: 'heads', method: 'exact', patch: null, sweeps: [], shown: null, compare: null, dla: null, roles: null, showRoles: true, qkov: null, composition: null, cleanLens: null, busy: null,
};

/** Row and column labels of a sweep, as the server names them (proto/README.md, analyze patch). */
export function patchGrid(over: PatchOver, nLayers: number, nHeads: number, nPos: number): { rowLabels: string[]; colLabels: string[] } {
  const rowLabels = Array.from({ length: nLayers }, (_, l) => `L${l}`);
  const colLabels = over === 'heads' ? Array.from({ length: nHeads }, (_, h) => `H${h}`)
    : over === 'layers' ? ['attn', 'mlp'] : Array.from({ length: nPos }, (_, p) => `pos ${p}`);
  return { rowLabels, colLabels };
}

/** An empty heatmap for a sweep that is about to start. */
export function newPatch(id: string, over: PatchOver, corrupt: string, nLayers: number, nHeads: number, tokens: string[], method: PatchMethod = 'exact'): PatchView {
  const { rowLabels, colLabels } = patchGrid(over, nLayers, nHeads, tokens.length);
  return {
    id, over, method, corrupt, rows: rowLabels.length, cols: colLabels.length, rowLabels, colLabels, tokens,
    effect: new Float32Array(rowLabels.length * colLabels.length).fill(NaN), rowsDone: 0, status: 'running', top: [],
  };
}

/** Fold one `analyze.row` frame into the heatmap (a new object; rows may only arrive once). */
export function applyPatchRow(p: PatchView, m: AnalyzeRowMsg): PatchView {
  if (m.kind !== 'patch' || !m.effect || m.index < 0 || m.index >= p.rows) return p;
  const row = decodeTensor(m.effect).data;
  const effect = p.effect.slice();
  effect.set(Array.from(row).slice(0, p.cols), m.index * p.cols);
  return { ...p, effect, rowsDone: Math.max(p.rowsDone, m.index + 1) };
}

/** The final `analyze.result` of a sweep: every cell, the anchors and the top cells. */
export function applyPatchResult(p: PatchView, m: AnalyzeResultMsg): PatchView {
  const eff = decodeTensor(m.effect as WireTensor);
  const rows = eff.shape[0];
  const cols = eff.shape[1];
  return {
    ...p, rows, cols, effect: Float32Array.from(eff.data), rowsDone: rows, status: 'done',
    rowLabels: (m.row_labels as string[]) ?? p.rowLabels, colLabels: (m.col_labels as string[]) ?? p.colLabels,
    tokens: (m.str_tokens as string[] | undefined) ?? p.tokens,
    cleanMetric: m.clean_metric as number, corruptMetric: m.corrupt_metric as number, top: (m.top as Labeled[]) ?? [],
  };
}

/** The largest |effect| cells seen so far (for the list under a live heatmap). */
export function topCells(p: PatchView, n = 5): Labeled[] {
  const out: Labeled[] = [];
  for (let i = 0; i < p.rowsDone * p.cols; i++) {
    const v = p.effect[i];
    if (Number.isFinite(v)) out.push({ label: `${p.rowLabels[Math.floor(i / p.cols)]} ${p.colLabels[i % p.cols]}`, value: v });
  }
  return out.sort((a, b) => Math.abs(b.value) - Math.abs(a.value)).slice(0, n);
}

/** Direct logit attribution as bars: every head, MLP and the embeddings, largest |value| first. */
export function dlaView(m: AnalyzeResultMsg, answer: string, wrong: string, n = Infinity): DlaView {
  const heads = decodeTensor(m.heads as WireTensor);
  const mlps = decodeTensor(m.mlps as WireTensor);
  const [L, H] = heads.shape;
  const bars: DlaBar[] = [];
  for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) bars.push({ label: `L${l}H${h}`, value: heads.data[l * H + h], kind: 'head' });
  for (let l = 0; l < mlps.data.length; l++) bars.push({ label: `L${l} MLP`, value: mlps.data[l], kind: 'mlp' });
  bars.push({ label: 'embed', value: m.embed as number, kind: 'embed' });
  bars.sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
  const tokens = (m.str_tokens as string[] | undefined) ?? [];
  const position = typeof m.position === 'number' ? m.position : tokens.length - 1;
  return { answer, wrong, bars: bars.slice(0, n), total: m.total as number, actual: m.actual as number, position, tokens };
}

export function roleScores(m: AnalyzeResultMsg): RoleScores {
  const raw = m.scores as Record<RoleKind, WireTensor>;
  const scores = {
    induction: decodeTensor(raw.induction), previous_token: decodeTensor(raw.previous_token), duplicate_token: decodeTensor(raw.duplicate_token),
  };
  return { scores, nLayers: scores.induction.shape[0], nHeads: scores.induction.shape[1] };
}

export const ROLE_COLOURS: Record<RoleKind, string> = { induction: '#4fd1c5', previous_token: '#f6ad55', duplicate_token: '#b794f4' };
export const ROLE_NAMES: Record<RoleKind, string> = { induction: 'induction', previous_token: 'previous token', duplicate_token: 'duplicate token' };

/** Top heads of one role: score ≥ `min`, best first. */
export function topRole(r: RoleScores, kind: RoleKind, n = 5, min = 0): Labeled[] {
  const d = r.scores[kind].data;
  const out: Labeled[] = [];
  for (let i = 0; i < d.length; i++) if (d[i] >= min) out.push({ label: `L${Math.floor(i / r.nHeads)}H${i % r.nHeads}`, value: d[i] });
  return out.sort((a, b) => b.value - a.value).slice(0, n);
}

/** Grid outlines for heads with a clear role (score ≥ `min`, at most `perKind` per role); a head keeps its strongest role. */
export function roleMarks(r: RoleScores | null, min = 0.4, perKind = 5): HeadMark[] {
  if (!r) return [];
  const best = new Map<string, { mark: HeadMark; score: number }>();
  for (const kind of ['induction', 'previous_token', 'duplicate_token'] as RoleKind[]) {
    for (const t of topRole(r, kind, perKind, min)) {
      const [, l, h] = /L(\d+)H(\d+)/.exec(t.label) ?? [];
      const key = `${l}:${h}`;
      const prev = best.get(key);
      if (!prev || prev.score < t.value) {
        best.set(key, { mark: { layer: Number(l), head: Number(h), color: ROLE_COLOURS[kind], label: `${ROLE_NAMES[kind]} ${t.value.toFixed(2)}` }, score: t.value });
      }
    }
  }
  return [...best.values()].map((b) => b.mark);
}

function pairs(p: Record<string, unknown>): TokenPair[] {
  const values = decodeTensor(p.values as WireTensor).data;
  const src = p.rows_str as string[];
  const dst = p.cols_str as string[];
  return src.map((s, i) => ({ src: s, dst: dst[i], value: values[i] }));
}

export function qkovView(m: AnalyzeResultMsg): QkOvView {
  return {
    layer: m.layer as number, head: m.head as number,
    ovTop: pairs(m.ov_top as Record<string, unknown>), ovBottom: pairs(m.ov_bottom as Record<string, unknown>),
    qkTop: pairs(m.qk_top as Record<string, unknown>), copying: m.copying_score as number,
    qkSame: m.qk_same_token_score as number, selfTop5: m.ov_self_top5 as number,
  };
}
