import { describe, expect, it } from 'vitest';
import { encodeTensor } from '../api/codec';
import type { ServerMsg } from '../api/wire';
import { applyRunFrame, currentLayer, lastQueryFocus, newRun, pickHead, stackLayers, visibleLayers } from './runData';

const T = 4;
function layerFrame(layer: number, attn?: number[]): ServerMsg {
  return {
    type: 'run.layer', id: 'r1', layer, ms: 10 * (layer + 1), tensors: {},
    summary: {
      resid_norm: encodeTensor([1, 2, 3, 4].map((x) => x * (layer + 1)), [T], 'f16'),
      lens: {
        top1: encodeTensor([5, 6, 7, 8], [T], 'i32'), prob: encodeTensor([0.5, 0.25, 0.125, 1], [T], 'f16'),
        top1_str: ['a', 'b', 'c', 'd'], top5: encodeTensor([1, 2, 3, 4, 5], [5], 'i32'),
        top5_prob: encodeTensor([0.5, 0.2, 0.1, 0.1, 0.05], [5], 'f32'), top5_str: ['v', 'w', 'x', 'y', 'z'],
      },
      attn: encodeTensor(attn ?? new Array(2 * T * T).fill(0), [2, T, T], 'f16'),
    },
  };
}

function fullRun() {
  let run = newRun('r1', 'a b c d', 3);
  run = applyRunFrame(run, { type: 'run.tokens', id: 'r1', tokens: encodeTensor([1, 2, 3, 4], [T], 'i32'), str_tokens: ['A', ' b', ' c', ' d'] });
  const hot = new Array(2 * T * T).fill(0);
  hot[1 * T * T + 3 * T + 1] = 0.9; // head 1, last query → key 1
  run = applyRunFrame(run, layerFrame(0));
  run = applyRunFrame(run, layerFrame(1));
  run = applyRunFrame(run, layerFrame(2, hot));
  return run;
}

describe('applyRunFrame', () => {
  it('fills tokens and layers in order', () => {
    const run = fullRun();
    expect(run.strTokens).toEqual(['A', ' b', ' c', ' d']);
    expect(run.tokenIds).toEqual([1, 2, 3, 4]);
    expect(run.layersDone).toBe(3);
    expect(Array.from(run.layers[1]!.residNorm!)).toEqual([2, 4, 6, 8]);
    expect(run.layers[0]!.lensTop1).toEqual(['a', 'b', 'c', 'd']);
    expect(Array.from(run.layers[0]!.lensProb!)).toEqual([0.5, 0.25, 0.125, 1]);
    expect(run.layers[0]!.lensTop5![0].str).toBe('v');
    expect(run.layers[0]!.lensTop5![0].prob).toBeCloseTo(0.5);
    expect(run.layers[2]!.thumbs!.size).toBe(T);
  });
  it('ignores frames of other requests and records result and done', () => {
    let run = fullRun();
    const same = applyRunFrame(run, { type: 'done', id: 'other', ms: 1, cancelled: false });
    expect(same).toBe(run);
    const pred = { token: 9, str: ' Mary', prob: 0.6, logit: 3 };
    run = applyRunFrame(run, {
      type: 'run.result', id: 'r1', top_k: [pred], clean: [{ ...pred, prob: 0.7 }], intervened: true, tensors: {},
      logit_diff: { answer: ' Mary', wrong: ' John', answer_token: 9, wrong_token: 10, value: 1.5, clean: 2.5 },
    });
    expect(run.intervened).toBe(true);
    expect(run.logitDiff?.clean).toBe(2.5);
    run = applyRunFrame(run, { type: 'done', id: 'r1', ms: 42, cancelled: false });
    expect(run.status).toBe('done');
    expect(run.ms).toBe(42);
    expect(applyRunFrame(run, { type: 'error', id: 'r1', code: 'too_long', message: 'x' }).status).toBe('error');
  });
  it('marks cancelled runs', () => {
    expect(applyRunFrame(newRun('r1', 'p', 2), { type: 'done', id: 'r1', ms: 1, cancelled: true }).status).toBe('cancelled');
  });
});

describe('layer visibility', () => {
  it('follows arrivals live and the scrubber afterwards', () => {
    const run = fullRun();
    expect(visibleLayers(null, null)).toBe(0);
    expect(visibleLayers(run, null)).toBe(3);
    expect(visibleLayers(run, 0)).toBe(1);
    expect(visibleLayers(run, 9)).toBe(3);
    expect(currentLayer(run, 1)).toBe(1);
  });
  it('stacks per-layer vectors into [L, T] with NaN for missing layers', () => {
    const run = { ...fullRun(), layers: [...fullRun().layers.slice(0, 2), undefined] };
    const m = stackLayers(run, (d) => d.residNorm);
    expect(m.length).toBe(3 * T);
    expect(Array.from(m.slice(4, 8))).toEqual([2, 4, 6, 8]);
    expect(Number.isNaN(m[8])).toBe(true);
  });
});

describe('pickHead', () => {
  it('picks the head whose last query looks furthest back, ignoring position 0 and the previous token', () => {
    expect(pickHead(fullRun())).toEqual({ layer: 2, head: 1 });
    expect(pickHead(newRun('x', 'p', 2))).toBeNull();
  });
});

describe('lastQueryFocus', () => {
  it('finds the key the last query attends to most', () => {
    const run = fullRun();
    expect(lastQueryFocus(run, 2, 1)).toEqual({ pos: 1, value: expect.closeTo(0.9, 2) });
    expect(lastQueryFocus(run, 0, 7)).toBeNull();
  });
});
