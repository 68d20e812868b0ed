/**
 * The one shared store (zustand). Panels read slices of it; `actions.ts` talks to the server
 * and writes here. Setters are small and synchronous.
 */
import { create } from 'zustand';
import type { ConnState } from '../api/client';
import type { Tensor } from '../api/codec';
import type { Intervention, Limits, ModelInfo, SavedRun, VectorInfo } from '../api/wire';
import type { HeadMark } from '../viz/attentionGrid';
import { initialAnalysis, type AnalysisState } from './analysis';
import { initialFeatures, type FeatureState } from './featureState';
import { describeFeatureOp } from './features';
import type { JournalEntry } from './journal';
import type { LensShow } from './lensCompare';
import type { RunView } from './runData';

export const DEFAULT_PROMPT = 'When Mary and John went to the store, John gave a drink to';
export const DEFAULT_CORRUPT = 'When Mary and John went to the store, Mary gave a drink to';

export interface HeadRef { layer: number; head: number }
export interface HeadDetail extends HeadRef { pattern: Tensor; strTokens: string[] }
export interface AnswerError { answer: string; wrong: string; message: string }
export interface Notice { key: number; code: string; message: string }
export interface GenState {
  id: string; prompt: string; steered: string[]; baseline: string[]; running: boolean; ms?: number;
  /** Whether a steering vector was applied when this generation ran. */
  steeredWith: boolean;
  /** The token budget asked for, and whether Stop/another generation cut it short: a finished branch with fewer tokens ended at end-of-text. */
  max: number; cancelled?: boolean;
}
/** Where the steering vector comes from: contrast prompts, a token's embedding, or an MLP neuron's output weights. */
export type SteerSource = 'prompts' | 'token' | 'neuron';
export interface SteerConfig {
  positive: string; negative: string; layer: number; scale: number; position: 'last' | 'mean'; vector: string | null; genPrompt: string;
  source: SteerSource; token: string; neuronLayer: number; neuronIndex: number;
}

export interface LoupeState {
  conn: ConnState;
  connDetail: string;
  model: ModelInfo | null;
  limits: Limits | null;
  session: string;
  prompt: string;
  run: RunView | null;
  /** null: follow arriving layers live; n: show layers 0..n (scrubber / replay). */
  scrub: number | null;
  playing: boolean;
  focusPos: number | null;
  selected: HeadRef | null;
  detail: HeadDetail | null;
  detailLoading: boolean;
  interventions: Intervention[];
  answer: string;
  wrong: string;
  /** The server refused this answer/wrong pair (not one token each); runs go without it until the boxes change. */
  answerError: AnswerError | null;
  corruptPrompt: string;
  savedRuns: SavedRun[];
  /** The prompt of every saved run (name → prompt), so a new session can save them again. */
  sources: Record<string, string>;
  vectors: VectorInfo[];
  steer: SteerConfig;
  gen: GenState | null;
  notices: Notice[];
  /** Heads with known roles, outlined in the grid (filled by a later head-scores view). */
  headMarks: HeadMark[];
  /** Every analysis the user ran, with the interventions in force then, for the Python export (journal.ts). */
  journal: JournalEntry[];
  /** The Analyses panel: patching, attribution, head roles, QK/OV. */
  analysis: AnalysisState;
  /** The Features panel: sparse-autoencoder features of the run, cards, searches. */
  features: FeatureState;
  /** Which tab each tab area of the workspace shows (area 1 only on wide screens); never the same tab twice. */
  tabs: [string, string];
  /** What the logit-lens tab shows when interventions are active: the run, the clean run, both, or the difference. */
  lensShow: LensShow;
}

export const initialState: LoupeState = {
  conn: 'connecting', connDetail: '', model: null, limits: null, session: '',
  prompt: DEFAULT_PROMPT, run: null, scrub: null, playing: false, focusPos: null,
  selected: null, detail: null, detailLoading: false, interventions: [],
  answer: ' Mary', wrong: ' John', answerError: null, corruptPrompt: DEFAULT_CORRUPT, savedRuns: [], sources: {}, vectors: [],
  steer: { positive: 'I love you', negative: 'I hate you', layer: 6, scale: 3, position: 'mean', vector: null, genPrompt: 'I hate you because',
    source: 'prompts', token: ' love', neuronLayer: 10, neuronIndex: 0 },
  gen: null, notices: [], headMarks: [], journal: [], analysis: initialAnalysis, features: initialFeatures,
  tabs: ['head', 'lens'], lensShow: 'intervened',
};

export const useLoupe = create<LoupeState>()(() => ({ ...initialState }));

export const set = useLoupe.setState;
export const get = useLoupe.getState;

let noticeKey = 0;
/** Show an error/notice banner (kept to the last 4). */
export function notify(code: string, message: string): void {
  noticeKey += 1;
  set((s) => ({ notices: [...s.notices.slice(-3), { key: noticeKey, code, message }] }));
}
export function dismiss(key: number): void {
  set((s) => ({ notices: s.notices.filter((n) => n.key !== key) }));
}

/** The server's refusal of the answer/wrong pair in the boxes now, if it refused exactly this pair. */
export function answerRefused(s: Pick<LoupeState, 'answer' | 'wrong' | 'answerError'>): string | null {
  const e = s.answerError;
  return e && e.answer === s.answer && e.wrong === s.wrong ? e.message : null;
}

/** Intervention id for a head ablation, stable so toggling replaces rather than duplicates. */
export const ablateId = (layer: number, head: number): string => `ablate-L${layer}H${head}`;

/** Keys "layer:head" of enabled head ablations (for the grid overlay). */
export function ablatedHeads(items: Intervention[]): Set<string> {
  const out = new Set<string>();
  for (const it of items) {
    if (it.op !== 'ablate' || it.enabled === false || it.head === undefined) continue;
    const m = /^blocks\.(\d+)\./.exec(it.hook);
    if (m) out.add(`${m[1]}:${it.head}`);
  }
  return out;
}

/** Toggle a zero/mean ablation of one head's z. Returns the new list. */
export function toggleAblation(items: Intervention[], layer: number, head: number, mode: 'zero' | 'mean' = 'zero'): Intervention[] {
  const id = ablateId(layer, head);
  if (items.some((i) => i.id === id)) return items.filter((i) => i.id !== id);
  return [...items, { id, op: 'ablate', hook: `blocks.${layer}.attn.hook_z`, head, mode, enabled: true }];
}

/** Set one head's ablation mode (null removes it), keeping its place in the list. */
export function setAblation(items: Intervention[], layer: number, head: number, mode: 'zero' | 'mean' | null): Intervention[] {
  const id = ablateId(layer, head);
  if (mode === null) return items.filter((i) => i.id !== id);
  return upsert(items, { id, op: 'ablate', hook: `blocks.${layer}.attn.hook_z`, head, mode, enabled: true });
}

/** The ablation mode of a head, or null. */
export function ablationMode(items: Intervention[], layer: number, head: number): 'zero' | 'mean' | null {
  const it = items.find((i) => i.id === ablateId(layer, head));
  return it && it.op === 'ablate' ? (it.mode ?? 'zero') : null;
}

/** Replace (by id) or append an intervention. */
export function upsert(items: Intervention[], item: Intervention): Intervention[] {
  const i = items.findIndex((x) => x.id === item.id);
  if (i < 0) return [...items, item];
  const out = items.slice();
  out[i] = item;
  return out;
}

/** Human-readable one-liner for an intervention. */
export function describe(it: Intervention): string {
  if (it.op === 'feature') return describeFeatureOp(it);
  const m = /^blocks\.(\d+)\.(.*)$/.exec(it.hook);
  const where = m ? `L${m[1]} ${m[2].replace(/(^|\.)hook_/, '$1')}` : it.hook;
  const pos = 'positions' in it && Array.isArray(it.positions) ? ` @pos ${it.positions.join(',')}` : '';
  switch (it.op) {
    case 'ablate':
      return `${it.mode ?? 'zero'}-ablate ${m ? `L${m[1]}` : it.hook}${it.head !== undefined ? `H${it.head}` : ''}${pos}`;
    case 'patch':
      return `patch ${where}${it.head !== undefined ? ` H${it.head}` : ''} from “${it.source}”${pos}`;
    case 'steer':
      return `steer ${where} += ${it.scale ?? 1}×${typeof it.vector === 'string' ? it.vector : 'vector'}`;
    case 'scale':
      return `scale ${where}${it.index !== undefined ? `[${it.index}]` : ''} × ${it.factor}`;
  }
}
