import { describe, expect, it } from 'vitest';
import { gridHit, gridLayout, gridSize } from './attentionGrid';
import { ATTENTION_LUT, lutIndex, makeLut } from './colour';
import { paintWords } from './heatmap';
import { bandIndexAt, bandScale, fmtProb, fmtSigned, robustExtent, showToken } from './scales';

describe('scales', () => {
  it('band scale covers the range and maps pixels back to indices', () => {
    const s = bandScale(10, 200);
    expect(s(0)).toBe(0);
    expect(s.bandwidth()).toBe(20);
    expect(bandIndexAt(s, 0)).toBe(0);
    expect(bandIndexAt(s, 199)).toBe(9);
    expect(bandIndexAt(s, 200)).toBe(-1);
    expect(bandIndexAt(s, -1)).toBe(-1);
  });
  it('robust extent ignores NaN and clips outliers', () => {
    const xs = [NaN, ...Array.from({ length: 100 }, (_, i) => i), 1e6];
    const [lo, hi] = robustExtent(xs, 0.02);
    expect(lo).toBe(0);
    expect(hi).toBeLessThan(100);
    expect(robustExtent([])).toEqual([0, 1]);
    expect(robustExtent([3, 3])).toEqual([3, 4]);
  });
  it('formats probabilities, signed numbers and tokens', () => {
    expect(fmtProb(0.613)).toBe('.61');
    expect(fmtProb(0.001)).toBe('<.01');
    expect(fmtProb(0.999)).toBe('1.0');
    expect(fmtSigned(1.234)).toBe('+1.23');
    expect(fmtSigned(-0.4)).toBe('−0.40');
    expect(showToken(' Mary\n')).toBe('·Mary↵');
    expect(showToken('')).toBe('∅');
  });
});

describe('colour', () => {
  it('LUT is 256 opaque colours from dark to light', () => {
    expect(ATTENTION_LUT.words.length).toBe(256);
    expect(ATTENTION_LUT.words[0] >>> 24).toBe(255);
    const lum = (w: number) => (w & 255) + ((w >> 8) & 255) + ((w >> 16) & 255);
    expect(lum(ATTENTION_LUT.words[255])).toBeGreaterThan(lum(ATTENTION_LUT.words[0]));
    expect(makeLut(() => '#ff0000').css[0]).toBe('rgb(255,0,0)');
  });
  it('lutIndex clamps', () => {
    expect(lutIndex(-1, 0, 1)).toBe(0);
    expect(lutIndex(2, 0, 1)).toBe(255);
    expect(lutIndex(0.5, 0, 1)).toBe(127);
    expect(lutIndex(NaN, 0, 1)).toBe(0);
  });
});

describe('heatmap painting', () => {
  it('maps values through the LUT and masks the causal upper triangle', () => {
    const px = new Uint32Array(9);
    paintWords(px, [1, 1, 1, 1, 1, 1, 1, 1, 1], 0, 3, 3, ATTENTION_LUT, 0, 1, true, 7);
    expect(Array.from(px)).toEqual([255, 7, 7, 255, 255, 7, 255, 255, 255].map((v) => (v === 7 ? 7 : ATTENTION_LUT.words[255])));
  });
  it('reads from an offset (one head of a [H, P, P] block)', () => {
    const px = new Uint32Array(1);
    paintWords(px, [0, 1], 1, 1, 1, ATTENTION_LUT, 0, 1);
    expect(px[0]).toBe(ATTENTION_LUT.words[255]);
  });
});

describe('attention grid layout', () => {
  it('fits the width and hit-tests cells', () => {
    const l = gridLayout(30, 9, 320);
    expect(gridSize(l).w).toBeLessThanOrEqual(322);
    expect(gridHit(l, l.left + 1, l.top + 1)).toEqual({ layer: 0, head: 0 });
    expect(gridHit(l, l.left + 2 * (l.cell + l.gap) + 1, l.top + 29 * (l.cell + l.gap) + 1)).toEqual({ layer: 29, head: 2 });
    expect(gridHit(l, 2, 2)).toBeNull();
  });
});

describe('diverging scale', () => {
  it('paints exactly 0 in the neutral grey, negatives blue and positives red', async () => {
    const { DIVERGING_LUT, DIVERGING_ZERO } = await import('./diverging');
    const mid = DIVERGING_LUT.css[lutIndex(0, -1, 1)];
    const grey = [0x26, 0x2a, 0x33];
    const [r, g, b] = mid.match(/\d+/g)!.map(Number);
    expect(Math.abs(r - grey[0]) + Math.abs(g - grey[1]) + Math.abs(b - grey[2])).toBeLessThan(8);
    expect(DIVERGING_ZERO).toBe('#262a33');
    const [nr, , nb] = DIVERGING_LUT.css[lutIndex(-0.8, -1, 1)].match(/\d+/g)!.map(Number);
    const [pr, , pb] = DIVERGING_LUT.css[lutIndex(0.8, -1, 1)].match(/\d+/g)!.map(Number);
    expect(nb).toBeGreaterThan(nr);
    expect(pr).toBeGreaterThan(pb);
  });
});
