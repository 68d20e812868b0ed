/** Colours of the features views: activations are amber on the dark panel. */
import { interpolateRgbBasis } from 'd3';
import type { Interpolator } from '../../viz/colour';

/** Feature activation: panel colour → deep orange → amber → pale yellow. */
export const featureInterp: Interpolator = interpolateRgbBasis(['#161a23', '#4a2a12', '#a5521a', '#f08c2e', '#ffd27a']);

/** CSS background for a context token shaded by activation in [0, 1]. */
export function shadeCss(shade: number): string {
  return shade <= 0 ? 'transparent' : `rgba(240, 140, 46, ${(0.12 + 0.78 * shade).toFixed(3)})`;
}
