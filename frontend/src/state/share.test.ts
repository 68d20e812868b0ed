import { describe, expect, it } from 'vitest';
import { applyShared, decodeShared, encodeShared, sharedOf, withSession } from './share';
import { initialState, type LoupeState } from './store';

const s: LoupeState = {
  ...initialState,
  prompt: 'I like ☕ with milk',
  interventions: [
    { id: 'ablate-L23H3', op: 'ablate', hook: 'blocks.23.attn.hook_z', head: 3, mode: 'zero', enabled: true },
    { id: 'up', op: 'steer', hook: 'blocks.6.hook_resid_post', vector: { dtype: 'f32', shape: [1], data: new Uint8Array(4) }, scale: 1 },
  ],
  selected: { layer: 23, head: 3 }, focusPos: 4, tabs: ['patch', 'lens'], lensShow: 'diff', sources: { corrupt: 'I like tea with milk' },
};

describe('the session in the address', () => {
  it('round-trips through a URL-safe parameter, unicode included, without uploaded tensors', () => {
    const text = encodeShared(sharedOf(s));
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    const back = decodeShared(text);
    expect(back.prompt).toBe('I like ☕ with milk');
    expect(back.interventions.map((i) => i.id)).toEqual(['ablate-L23H3']);
    const applied = applyShared(back, initialState, ['head', 'lens', 'patch']);
    expect(applied).toMatchObject({ prompt: s.prompt, selected: { layer: 23, head: 3 }, focusPos: 4, tabs: ['patch', 'lens'], lensShow: 'diff', sources: s.sources });
  });

  it('keeps other parameters and the current tabs when the link names unknown ones', () => {
    const href = withSession('http://h/?feature=res10:5', sharedOf(s));
    expect(new URL(href).searchParams.get('feature')).toBe('res10:5');
    expect(applyShared(sharedOf(s), initialState, ['head', 'lens']).tabs).toEqual(initialState.tabs);
  });

  it('names what is wrong with a bad link', () => {
    expect(() => decodeShared('%%%')).toThrow('not readable');
    const bad = (x: object) => encodeShared(x as never);
    expect(() => decodeShared(bad({ v: 2 }))).toThrow('another version');
    expect(() => decodeShared(bad({ ...sharedOf(s), interventions: [{ op: 'ablate' }] }))).toThrow('interventions');
    expect(() => decodeShared(bad({ ...sharedOf(s), selected: { layer: -1, head: 0 } }))).toThrow('selected');
    expect(() => decodeShared(bad({ ...sharedOf(s), lens: 'both' }))).toThrow('lens');
    const older: Partial<ReturnType<typeof sharedOf>> = sharedOf(s);
    delete older.lens; // a link from before the lens comparison: the run's lens
    expect(applyShared(decodeShared(bad(older)), s, ['head', 'lens']).lensShow).toBe('intervened');
  });
});
