import { describe, expect, it } from 'vitest';
import { encodeTensor } from '../api/codec';
import type { AnalyzeResultMsg } from '../api/wire';
import { changedCells, diffCell, gridLens, type LensTable } from './lensCompare';

describe('clean vs intervened lens', () => {
  const m = {
    type: 'analyze.result', id: 'a', kind: 'logit_lens',
    grid: { tokens: encodeTensor([1, 2, 3, 4, 5, 6], [3, 2], 'i32'), probs: encodeTensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.75], [3, 2]), top_str: [['e', 'f'], ['a', 'b'], ['c', 'd']] },
  } as unknown as AnalyzeResultMsg;

  it('a grid without its embedding row is the table of layers 0..L-1', () => {
    const t = gridLens(m);
    expect(t.top1).toEqual([['a', 'b'], ['c', 'd']]);
    expect(Array.from(t.prob[1] ?? [])).toEqual([0.5, 0.75]);
  });

  it('the difference is intervened − clean, and counts the cells whose top token changed', () => {
    const clean = gridLens(m);
    const iv: LensTable = { top1: [['a', 'x'], ['c', 'd']], prob: [Float32Array.of(0.5, 0.25), Float32Array.of(0.5, 0.5)] };
    expect(diffCell(iv, clean, 0, 0)?.delta).toBeCloseTo(0.2);
    expect(diffCell(iv, clean, 0, 1)).toMatchObject({ changed: true });
    expect(diffCell(iv, clean, 1, 1)?.delta).toBeCloseTo(-0.25);
    expect(diffCell({ top1: [undefined], prob: [undefined] }, clean, 0, 0)).toBeNull(); // a layer not in yet
    expect(changedCells(iv, clean)).toBe(1);
  });
});
