import { describe, expect, it } from 'vitest';
import { newPatch } from './analysis';
import { sweepDifference, sweepLabel } from './sweeps';

const sweep = (values: number[], over: 'heads' | 'layers' = 'heads') => ({
  ...newPatch('a', over, 'c', 2, 2, []), effect: Float32Array.from(values), rowsDone: 2, status: 'done' as const, cleanMetric: 6.12,
});

describe('kept sweeps', () => {
  it('differ cell by cell, largest changes first', () => {
    const d = sweepDifference(sweep([0.6, 0, 0.1, 0.2]), sweep([0.1, 0, 0.4, 0.2]));
    if (typeof d === 'string') throw new Error(d);
    expect(Array.from(d.effect).map((v) => +v.toFixed(2))).toEqual([0.5, 0, -0.3, 0]);
    expect(d.top.slice(0, 2)).toEqual([{ label: 'L0 H0', value: expect.closeTo(0.5, 5) }, { label: 'L1 H0', value: expect.closeTo(-0.3, 5) }]);
  });
  it('refuse to subtract different grids, and label what each ran under', () => {
    expect(sweepDifference(sweep([0, 0, 0, 0]), sweep([0, 0, 0, 0], 'layers'))).toContain('different grids');
    expect(sweepLabel({ view: sweep([0, 0, 0, 0]), interventions: 1 }, 1)).toBe('#2 heads · exact · 1 intervention · clean 6.12');
  });
});
