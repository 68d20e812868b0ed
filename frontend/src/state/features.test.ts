import { describe, expect, it } from 'vitest';
import { encodeTensor } from '../api/codec';
import type { ServerMsg } from '../api/wire';
import {
  contextCells, decodeRunFeatures, describeFeatureOp, featureFromSearch, featureIntervention, histogramBars, lines, parseFeatureRef,
  pickSae, runMax, sliderSpec, stripFeatures, stripMatrix, tokenTop, withFeatureParam,
} from './features';
import { pythonScript } from './exporters';
import { initialFeatures } from './featureState';
import { applyRunFrame, newRun } from './runData';
import { describe as describeIv, initialState } from './store';

// 3 tokens, k = 2: token 0 fires 7 (9.0) only, token 1 fires 3 (2.0) and 7 (1.0), token 2 fires 5 (4.0) and 3 (0.5).
const IDS = [7, 0, 3, 7, 5, 3];
const VALUES = [9, 0, 2, 1, 4, 0.5];
const wireFeatures = () => ({ sae: 'res10', hook: 'blocks.10.hook_resid_post', ids: encodeTensor(IDS, [3, 2], 'i32'), values: encodeTensor(VALUES, [3, 2], 'f32') });
const tf = () => decodeRunFeatures(wireFeatures(), 10);

describe('run features', () => {
  it('decodes [T, k] ids and values from a run.layer frame and keeps them through the run', () => {
    let run = newRun('r1', 'a b c', 12);
    const frame = { type: 'run.layer', id: 'r1', layer: 10, ms: 1, tensors: {}, features: wireFeatures() } as ServerMsg;
    run = applyRunFrame(run, frame);
    expect(run.features?.T).toBe(3);
    expect(run.features?.k).toBe(2);
    expect(Array.from(run.features?.ids ?? [])).toEqual(IDS);
    expect(run.features?.layer).toBe(10);
    run = applyRunFrame(run, { type: 'run.layer', id: 'r1', layer: 11, ms: 1, tensors: {} });
    expect(run.features?.layer).toBe(10);
  });
  it('finds a feature’s largest activation in the run', () => {
    expect(runMax(tf(), 3)).toBe(2);
    expect(runMax(tf(), 99)).toBe(0);
    expect(runMax(undefined, 3)).toBe(0);
  });
  it('rejects ids and values of different shapes', () => {
    const bad = { ...wireFeatures(), values: encodeTensor([1, 2, 3], [3, 1], 'f32') };
    expect(() => decodeRunFeatures(bad, 0)).toThrow(/differ in shape/);
  });
  it('lists the features at a token strongest first, without zeros', () => {
    expect(tokenTop(tf(), 0)).toEqual([{ index: 7, value: 9 }]);
    expect(tokenTop(tf(), 2)).toEqual([{ index: 5, value: 4 }, { index: 3, value: 0.5 }]);
    expect(tokenTop(tf(), 5)).toEqual([]);
  });
  it('builds the strip: pinned first, then the focused token’s features, as an [F, T] matrix', () => {
    expect(stripFeatures(tf(), 2, [7], 3)).toEqual([7, 5, 3]);
    expect(stripFeatures(tf(), null, [], 2)).toEqual([5, 3]);
    expect(stripFeatures(tf(), 1, [3], 1)).toEqual([3]);
    expect(stripFeatures(tf(), 9, [], 8)).toEqual([5, 3]);
    const m = stripMatrix(tf(), [7, 3]);
    expect(Array.from(m)).toEqual([9, 1, 0, 0, 2, 0.5]);
  });
});

describe('feature URL', () => {
  it('parses SAE:INDEX and names what is wrong', () => {
    expect(parseFeatureRef('res10:123')).toEqual({ sae: 'res10', index: 123 });
    expect(parseFeatureRef('a:b:4')).toEqual({ sae: 'a:b', index: 4 });
    expect(() => parseFeatureRef('123')).toThrow(/SAE:INDEX/);
    expect(() => parseFeatureRef('res10:x')).toThrow(/"x" is not a non-negative integer/);
    expect(featureFromSearch('?server=h:1&feature=res10:5')).toEqual({ sae: 'res10', index: 5 });
    expect(featureFromSearch('?server=h:1')).toBeNull();
  });
  it('sets and clears the parameter, keeping the others', () => {
    const u = withFeatureParam('http://x/?server=h%3A1', { sae: 'res10', index: 9 });
    expect(new URL(u).searchParams.get('feature')).toBe('res10:9');
    expect(new URL(u).searchParams.get('server')).toBe('h:1');
    expect(new URL(withFeatureParam(u, null)).searchParams.has('feature')).toBe(false);
  });
});

describe('feature card data', () => {
  it('makes log-height histogram bars', () => {
    const bars = histogramBars({ edges: [0, 1, 2, 3], counts: [0, 1000, 9] });
    expect(bars.map((b) => b.count)).toEqual([0, 1000, 9]);
    expect(bars[1].height).toBe(1);
    expect(bars[0].height).toBe(0);
    expect(bars[2].height).toBeCloseTo(Math.log1p(9) / Math.log1p(1000));
    expect(bars[2].x0).toBe(2);
    expect(() => histogramBars({ edges: [0, 1], counts: [1, 2] })).toThrow(/2 edges for 2 counts/);
  });
  it('shades context tokens by activation relative to the feature max', () => {
    const cells = contextCells({ tokens: ['a', ' b', ' c'], values: [0, 2, 8], max: 8 }, 4);
    expect(cells.map((c) => c.shade)).toEqual([0, 0.5, 1]);
    expect(cells[2].value).toBe(8);
    expect(contextCells({ tokens: ['a'], values: [-1], max: 0 }, 0)[0].shade).toBe(0);
  });
  it('picks slider ranges from the feature max', () => {
    expect(sliderSpec('set', 5)).toMatchObject({ min: 0, max: 20, initial: 10 });
    expect(sliderSpec('add', 5)).toMatchObject({ min: -20, max: 20 });
    expect(sliderSpec('scale', 5).initial).toBe(3);
    expect(sliderSpec('set', 0).max).toBe(4);
  });
  it('picks the requested SAE, else the first, else none', () => {
    const s = (id: string) => ({ id, hook: 'h', layer: 1, d_in: 4, d_sae: 8, architecture: 'standard' as const, k: null, dashboard: true });
    expect(pickSae([s('a'), s('b')], 'b')?.id).toBe('b');
    expect(pickSae([s('a'), s('b')], 'zz')?.id).toBe('a');
    expect(pickSae([], null)).toBeNull();
  });
  it('splits prompt lists on lines', () => {
    expect(lines(' a \n\n b\n')).toEqual(['a', 'b']);
  });
});

describe('feature interventions', () => {
  it('makes one intervention per feature, with no value for ablate', () => {
    const r = { sae: 'res10', index: 42 };
    expect(featureIntervention(r, 'set', 6.5, [3])).toEqual({ id: 'feature-res10-42', enabled: true, op: 'feature', sae: 'res10', index: 42, mode: 'set', value: 6.5, positions: [3] });
    expect(featureIntervention(r, 'ablate', 6.5)).toEqual({ id: 'feature-res10-42', enabled: true, op: 'feature', sae: 'res10', index: 42, mode: 'ablate' });
  });
  it('describes them in the Interventions list', () => {
    const r = { sae: 'res10', index: 42 };
    expect(describeIv(featureIntervention(r, 'add', 3))).toBe('feature res10#42 add +3');
    expect(describeIv(featureIntervention(r, 'set', 0, [1, 2]))).toBe('feature res10#42 set = 0 @pos 1,2');
    expect(describeFeatureOp({ op: 'feature', sae: 's', index: 1, mode: 'scale', value: 2 })).toBe('feature s#1 scale × 2');
    expect(describeFeatureOp({ op: 'feature', sae: 's', index: 1, mode: 'ablate' })).toBe('feature s#1 ablate');
  });
});

describe('python export of features', () => {
  it('writes the searches, the open card and feature interventions', () => {
    const code = pythonScript({
      ...initialState,
      interventions: [featureIntervention({ sae: 'res10', index: 42 }, 'add', 3)],
      features: {
        ...initialFeatures, sae: 'res10', card: { sae: 'res10', index: 42 },
        searches: [
          { by: 'token', query: ' Paris', results: [] },
          { by: 'contrast', query: '', a: ['good'], b: ['bad'], results: [] },
          { by: 'span', query: '', prompt: 'a b', positions: [1], results: [] },
        ],
      },
    }, 'ws://x/ws');
    expect(code).toContain('"op": "feature", "sae": "res10", "index": 42, "mode": "add", "value": 3');
    expect(code).toContain('lo.call("features.search", sae="res10", by="token", query=" Paris", k=20)');
    expect(code).toContain('lo.call("features.contrast", sae="res10", a=["good"], b=["bad"], k=20)');
    expect(code).toContain('by="span", prompt="a b", positions=[1]');
    expect(code).toContain('lo.call("features.info", sae="res10", index=42)');
    // A card of an SAE without a dashboard has no contexts: the script must not index into them.
    expect(code).toContain('if card["contexts"] else "(no dashboard)"');
  });
  it('writes nothing about features when none were used', () => {
    expect(pythonScript(initialState, 'ws://x/ws')).not.toContain('features');
  });
});
