import { useState, type RefObject } from 'react';
import { useLoupe } from '../state/store';
import { useLayerGrid } from './useLayerGrid';
import { useSize } from './useSize';

/** The cell under the pointer of a layer × position canvas: layer, position, and where to put the tooltip. */
export type GridHover = { l: number; p: number; x: number; y: number } | null;

/**
 * What every layer × position canvas view starts from (the logit lens, the residual norms): the run, the
 * scrubbed layer and focused position, the hovered cell, and the grid geometry for the width of `wrap`.
 */
export function useLayerGridView(wrap: RefObject<HTMLElement | null>, rowHeight: number, padding?: { x: number; y: number }, minBand?: number) {
  const { width } = useSize(wrap);
  const run = useLoupe((s) => s.run);
  const strTokens = run?.strTokens;
  const scrub = useLoupe((s) => s.scrub);
  const focus = useLoupe((s) => s.focusPos);
  const [hover, setHover] = useState<GridHover>(null);
  const T = strTokens?.length ?? 0;
  const L = run?.nLayers ?? 0;
  const geom = useLayerGrid(width, strTokens, L, rowHeight, padding, minBand);
  return { run, scrub, focus, hover, setHover, T, L, geom };
}
