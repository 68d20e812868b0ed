import { describe, expect, it } from 'vitest';
import { isFinalFrame } from './client';

describe('isFinalFrame', () => {
  it('jobs end with done or error, other requests with their one reply', () => {
    expect(isFinalFrame('run', { type: 'run.layer', id: 'r', layer: 0, ms: 1, tensors: {} })).toBe(false);
    expect(isFinalFrame('run', { type: 'run.result', id: 'r', top_k: [], clean: [], intervened: false, tensors: {} })).toBe(false);
    expect(isFinalFrame('run', { type: 'done', id: 'r', ms: 1, cancelled: false })).toBe(true);
    expect(isFinalFrame('runs.save', { type: 'runs', id: 'r', items: [] })).toBe(false);
    expect(isFinalFrame('generate', { type: 'error', id: 'g', code: 'busy', message: '' })).toBe(true);
    expect(isFinalFrame('interventions.set', { type: 'interventions', id: 'q', items: [] })).toBe(true);
    expect(isFinalFrame('attention.head', { type: 'error', id: 'q', code: 'not_found', message: '' })).toBe(true);
  });
});
