/** A diverging colour table for signed effects: blue (negative) → neutral grey (exactly 0) → red (positive). */
import { interpolateRgb, piecewise } from 'd3';
import { makeLut } from './colour';

/** The colour of 0: a neutral grey a little lighter than the panels, neither blue nor red. */
export const DIVERGING_ZERO = '#262a33';

export const DIVERGING_LUT = makeLut(piecewise(interpolateRgb, ['#8cc8ff', '#2f6fc4', DIVERGING_ZERO, '#c0394f', '#ff9a8a']));

/** A CSS linear-gradient of a LUT (for HTML legends). */
export function cssGradient(css: string[], steps = 16): string {
  const stops = Array.from({ length: steps + 1 }, (_, i) => css[Math.round((i / steps) * (css.length - 1))]);
  return `linear-gradient(90deg, ${stops.join(', ')})`;
}
