import { describe, expect, it } from 'vitest';
import { closeReason, isFinalFrame } from './client';

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

describe('closeReason', () => {
  it('puts close codes in words and prefers the server reason', () => {
    expect(closeReason(1012)).toBe('the server is restarting');
    expect(closeReason(1006)).toBe('the connection was lost');
    expect(closeReason(4999)).not.toMatch(/\d/);
    expect(closeReason(1008, 'too slow')).toBe('too slow');
  });
});
