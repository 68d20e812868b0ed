import { describe, expect, it } from 'vitest';
import { encodeTensor } from '../api/codec';
import type { AnalyzeResultMsg, AnalyzeRowMsg } from '../api/wire';
import { applyPatchResult, applyPatchRow, dlaView, newPatch, qkovView, roleMarks, roleScores, topCells } from './analysis';

const row = (index: number, effect: number[]): AnalyzeRowMsg => ({
  type: 'analyze.row', id: 'a1', kind: 'patch', index, label: `L${index}`, effect: encodeTensor(effect, [effect.length]), metric: encodeTensor(effect, [effect.length]), n_rows: 3,
});

describe('patching heatmap state', () => {
  it('fills in row by row, then takes the result', () => {
    let p = newPatch('a1', 'heads', 'corrupt', 3, 2, ['a', 'b', 'c', 'd', 'e']);
    expect(p.colLabels).toEqual(['H0', 'H1']);
    expect(Number.isNaN(p.effect[0])).toBe(true);
    p = applyPatchRow(p, row(0, [0.1, -0.5]));
    p = applyPatchRow(p, row(1, [0.9, 0.0]));
    expect(p.rowsDone).toBe(2);
    expect(Array.from(p.effect.slice(0, 4))).toEqual([expect.closeTo(0.1, 5), -0.5, expect.closeTo(0.9, 5), 0]);
    expect(Number.isNaN(p.effect[5])).toBe(true);
    expect(topCells(p, 2)).toEqual([{ label: 'L1 H0', value: expect.closeTo(0.9, 5) }, { label: 'L0 H1', value: -0.5 }]);
    expect(applyPatchRow(p, { ...row(7, [1, 1]) })).toBe(p); // out of range: ignored
    const res: AnalyzeResultMsg = {
      type: 'analyze.result', id: 'a1', kind: 'patch', effect: encodeTensor([0.1, -0.5, 0.9, 0, 0.2, 0.3], [3, 2]),
      row_labels: ['L0', 'L1', 'L2'], col_labels: ['H0', 'H1'], clean_metric: 6.1, corrupt_metric: -5.5, top: [{ label: 'L1 H0', value: 0.9 }],
    };
    p = applyPatchResult(p, res);
    expect(p.status).toBe('done');
    expect(p.rowsDone).toBe(3);
    expect(p.cleanMetric).toBe(6.1);
    expect(newPatch('a2', 'layers', '', 3, 2, ['a', 'b', 'c', 'd', 'e']).colLabels).toEqual(['attn', 'mlp']);
    expect(newPatch('a3', 'resid', '', 3, 2, ['a', 'b', 'c', 'd', 'e']).cols).toBe(5);
  });
});

describe('analysis results', () => {
  it('DLA bars are the largest components, heads and MLPs together', () => {
    const m: AnalyzeResultMsg = {
      type: 'analyze.result', id: 'd', kind: 'dla', heads: encodeTensor([0.5, -2, 0, 3], [2, 2]), mlps: encodeTensor([1, -0.25], [2]),
      embed: 0.75, total: 3, actual: 3.0001, position: 1, str_tokens: ['a', ' b', ' c'],
    };
    const v = dlaView(m, ' Mary', ' John', 3);
    expect(v.bars.map((b) => b.label)).toEqual(['L1H1', 'L0H1', 'L0 MLP']);
    expect([v.position, v.tokens[v.position]]).toEqual([1, ' b']);
    expect(v.bars[0]).toMatchObject({ value: 3, kind: 'head' });
  });
  it('head scores become grid outlines; a head keeps its strongest role', () => {
    const t = (v: number[]) => encodeTensor(v, [2, 2]);
    const r = roleScores({ type: 'analyze.result', id: 'h', kind: 'head_scores', scores: { induction: t([0, 0.9, 0.1, 0.5]), previous_token: t([0.8, 0.95, 0, 0]), duplicate_token: t([0, 0, 0, 0]) } });
    const marks = roleMarks(r, 0.4);
    expect(marks.map((m) => `${m.layer}:${m.head}`).sort()).toEqual(['0:0', '0:1', '1:1']);
    expect(marks.find((m) => m.layer === 0 && m.head === 1)?.label).toMatch(/previous token 0.95/);
    expect(roleMarks(null)).toEqual([]);
  });
  it('QK/OV pairs keep their token strings', () => {
    const pairs = { rows: encodeTensor([1, 2], [2], 'i32'), cols: encodeTensor([3, 4], [2], 'i32'), values: encodeTensor([2.5, 1], [2]), rows_str: [' John', ' Mary'], cols_str: [' Mary', ' John'] };
    const v = qkovView({ type: 'analyze.result', id: 'q', kind: 'qk_ov', layer: 23, head: 3, ov_top: pairs, ov_bottom: pairs, qk_top: pairs, copying_score: -0.15, qk_same_token_score: 0.2, ov_self_top5: 0.01 });
    expect(v.ovTop[0]).toEqual({ src: ' John', dst: ' Mary', value: 2.5 });
    expect(v.copying).toBe(-0.15);
  });
});
