/**
 * Clean vs intervened logit lens: the two tables (top-1 token and its probability per layer × position)
 * and their difference. The intervened table streams with the run; the clean one comes from
 * `analyze logit_lens` with `grid: true, interventions: false`, only when the user asks to compare.
 */
import { decodeTensor } from '../api/codec';
import type { AnalyzeResultMsg } from '../api/wire';
import type { RunView } from './runData';

/** Which lens the tab shows: the run's, the clean run's, both side by side, or their difference. */
export const LENS_SHOWS = ['intervened', 'clean', 'side', 'diff'] as const;
export type LensShow = (typeof LENS_SHOWS)[number];

/** One run's lens: per layer (undefined until it arrives) the top-1 strings [T] and probabilities [T]. */
export interface LensTable {
  top1: (string[] | undefined)[];
  prob: (ArrayLike<number> | undefined)[];
}

/** The clean table of one prompt, as fetched. */
export interface CleanLens { prompt: string; table: LensTable }

/** The shown run's lens (the intervened run when interventions are active). */
export function runLens(run: RunView): LensTable {
  return { top1: run.layers.map((d) => d?.lensTop1), prob: run.layers.map((d) => d?.lensProb) };
}

/** The lens table of an `analyze logit_lens` result with `grid`, without its embedding row (row l = after block l). */
export function gridLens(m: AnalyzeResultMsg): LensTable {
  const grid = m.grid;
  if (!grid) throw new Error('analyze logit_lens: the reply has no grid');
  const probs = decodeTensor(grid.probs);
  const [rows, T] = probs.shape;
  const prob = Array.from({ length: rows - 1 }, (_, l) => Float32Array.from(probs.data.subarray((l + 1) * T, (l + 2) * T)));
  return { top1: grid.top_str.slice(1), prob };
}

/** One cell of the difference: the intervened minus the clean top-1 probability, and whether the top token changed. */
export interface LensDiffCell { delta: number; changed: boolean }

/** The difference of two tables at (layer, position); null where either is missing. */
export function diffCell(iv: LensTable, clean: LensTable, l: number, p: number): LensDiffCell | null {
  const a = iv.top1[l];
  const b = clean.top1[l];
  const pa = iv.prob[l];
  const pb = clean.prob[l];
  if (!a || !b || !pa || !pb || p >= a.length || p >= b.length) return null;
  return { delta: pa[p] - pb[p], changed: a[p] !== b[p] };
}

/** How many cells' top token differs between the two tables (over the layers both have). */
export function changedCells(iv: LensTable, clean: LensTable): number {
  let n = 0;
  for (let l = 0; l < iv.top1.length; l++) {
    const T = iv.top1[l]?.length ?? 0;
    for (let p = 0; p < T; p++) if (diffCell(iv, clean, l, p)?.changed) n++;
  }
  return n;
}
