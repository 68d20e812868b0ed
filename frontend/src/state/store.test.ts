import { describe, expect, it } from 'vitest';
import type { Intervention } from '../api/wire';
import { clampScrub, stepScrub } from './playback';
import { ablatedHeads, ablationMode, describe as describeIv, setAblation, toggleAblation, upsert } from './store';

describe('head ablations', () => {
  it('toggles a zero ablation of blocks.L.attn.hook_z by head', () => {
    const on = toggleAblation([], 5, 3);
    expect(on).toEqual([{ id: 'ablate-L5H3', op: 'ablate', hook: 'blocks.5.attn.hook_z', head: 3, mode: 'zero', enabled: true }]);
    expect(ablatedHeads(on)).toEqual(new Set(['5:3']));
    expect(toggleAblation(on, 5, 3)).toEqual([]);
  });
  it('switches mode in place and ignores disabled items', () => {
    const items: Intervention[] = [...toggleAblation([], 1, 0), { id: 'x', op: 'scale', hook: 'blocks.0.mlp.hook_post', factor: 0 }];
    const mean = setAblation(items, 1, 0, 'mean');
    expect(mean[0]).toMatchObject({ id: 'ablate-L1H0', mode: 'mean' });
    expect(mean).toHaveLength(2);
    expect(ablationMode(mean, 1, 0)).toBe('mean');
    expect(ablationMode(setAblation(mean, 1, 0, null), 1, 0)).toBeNull();
    expect(ablatedHeads([{ ...mean[0], enabled: false }]).size).toBe(0);
  });
  it('upserts by id', () => {
    const a: Intervention = { id: 'steer', op: 'steer', hook: 'blocks.3.hook_resid_post', vector: 'v', scale: 1 };
    expect(upsert(upsert([], a), { ...a, scale: 4 })).toEqual([{ ...a, scale: 4 }]);
  });
  it('describes interventions for people', () => {
    expect(describeIv({ op: 'ablate', hook: 'blocks.18.attn.hook_z', head: 6, mode: 'mean' })).toBe('mean-ablate L18H6');
    expect(describeIv({ op: 'patch', hook: 'blocks.3.hook_resid_post', source: 'corrupt', positions: [4] })).toBe('patch L3 resid_post from “corrupt” @pos 4');
    expect(describeIv({ op: 'steer', hook: 'blocks.6.hook_resid_post', vector: 'steer', scale: 4 })).toBe('steer L6 resid_post += 4×steer');
  });
});

describe('scrubber', () => {
  it('clamps to arrived layers', () => {
    expect(clampScrub(5, 0)).toBeNull();
    expect(clampScrub(-3, 10)).toBe(0);
    expect(clampScrub(40, 10)).toBe(9);
  });
  it('steps from the live view (last layer)', () => {
    expect(stepScrub(null, 30, -1)).toBe(28);
    expect(stepScrub(3, 30, 1)).toBe(4);
    expect(stepScrub(29, 30, 1)).toBe(29);
  });
});
