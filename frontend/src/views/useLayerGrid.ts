import { useMemo } from 'react';
import type { ScaleBand } from 'd3';
import { colLabelHeight, measureCtx } from '../viz/axes';
import { bandScale } from '../viz/scales';

/** Left margin (CSS px) for the layer labels of a layer × token grid. */
export const GRID_LEFT = 34;

/** Geometry of a layer (rows) × token (columns) canvas: band scales, size, and the column-label height. */
export interface LayerGrid {
  x: ScaleBand<number>;
  y: ScaleBand<number>;
  w: number;
  h: number;
  top: number;
}

/** The grid for `strTokens` × `layers` rows of `rowHeight` px in `width` px; null until there is data. */
export function useLayerGrid(
  width: number,
  strTokens: string[] | undefined,
  layers: number,
  rowHeight: number,
  padding: { x: number; y: number } = { x: 0, y: 0 },
  /** Narrowest column in CSS px: wider grids scroll sideways (capped at 16000 px in all). */
  minBand = 2,
): LayerGrid | null {
  const T = strTokens?.length ?? 0;
  const { x: px, y: py } = padding;
  return useMemo(() => {
    if (!width || !T || !layers || !strTokens) return null;
    const w = Math.max(Math.min(T * minBand, 16000), T * 2, Math.min(width - GRID_LEFT - 8, T * 80));
    const x = bandScale(T, w, px);
    const m = measureCtx();
    const top = m ? colLabelHeight(m, strTokens, x.bandwidth()) : 70;
    return { x, y: bandScale(layers, layers * rowHeight, py), w, h: layers * rowHeight, top };
  }, [width, T, layers, rowHeight, strTokens, px, py, minBand]);
}
