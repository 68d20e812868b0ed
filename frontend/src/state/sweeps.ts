/**
 * Kept patching sweeps: every finished sweep stays in the Patching tab, to show again or to compare
 * with another (cell by cell difference, on the same fixed colour scale).
 */
import type { Labeled, PatchView } from './analysis';

/** How many finished sweeps are kept (the oldest go first). */
export const SWEEPS_KEPT = 8;

/** A finished sweep with what it ran under, for the picker. */
export interface KeptSweep { view: PatchView; interventions: number }

/** The picker's label of kept sweep `i`. */
export function sweepLabel(k: KeptSweep, i: number): string {
  const v = k.view;
  const how = v.method === 'attribution' ? 'estimate' : 'exact';
  const under = k.interventions ? `${k.interventions} intervention${k.interventions === 1 ? '' : 's'}` : 'clean';
  return `#${i + 1} ${v.over} · ${how} · ${under} · clean ${v.cleanMetric?.toFixed(2) ?? '?'}`;
}

/** `a − b` cell by cell, when the two sweeps have the same grid; else null (the message says why). */
export function sweepDifference(a: PatchView, b: PatchView): PatchView | string {
  if (a.over !== b.over || a.rows !== b.rows || a.cols !== b.cols) return `these sweeps patch different grids (${a.over} ${a.rows}×${a.cols} vs ${b.over} ${b.rows}×${b.cols})`;
  const effect = a.effect.map((v, i) => v - b.effect[i]);
  const top: Labeled[] = [];
  for (let r = 0; r < a.rows; r++) {
    for (let c = 0; c < a.cols; c++) top.push({ label: `${a.rowLabels[r]} ${a.colLabels[c]}`, value: effect[r * a.cols + c] });
  }
  top.sort((x, y) => Math.abs(y.value) - Math.abs(x.value));
  return { ...a, effect, top: top.slice(0, 6), cleanMetric: undefined, corruptMetric: undefined };
}
