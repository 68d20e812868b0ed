/** A diverging colour table for signed effects: blue (negative) → panel colour (0) → red (positive). */
import { interpolateRgbBasis } from 'd3';
import { makeLut } from './colour';

export const DIVERGING_LUT = makeLut(interpolateRgbBasis(['#6fb3ff', '#2a5aa8', '#151a24', '#b23a48', '#ff8a7a']));
