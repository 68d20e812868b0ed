import { describe, expect, it, vi } from 'vitest';
import { closeReason, isFinalFrame, LoupeClient } from './client';
import { decodeFrame, encodeFrame } from './codec';

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

describe('LoupeClient.request', () => {
  it("resolves with the request's x-reply frame, typed by the request's type", async () => {
    vi.stubGlobal('WebSocket', { OPEN: 1 }); // (Node has no WebSocket global; the client reads WebSocket.OPEN)
    const sent: Record<string, unknown>[] = [];
    const fake = { readyState: 1, binaryType: '', send: (b: Uint8Array) => sent.push(decodeFrame(b) as Record<string, unknown>), close: () => undefined } as unknown as WebSocket;
    const client = new LoupeClient('ws://loupe.test/ws', {}, () => fake);
    const reply = (m: Record<string, unknown>) => fake.onmessage?.({ data: encodeFrame(m).slice().buffer } as MessageEvent);
    const ready = client.connect();
    fake.onopen?.(new Event('open'));
    reply({ type: 'welcome', session: 's', model: {}, limits: {} });
    await ready;
    const got = client.request({ type: 'attention.head', layer: 1, head: 2 });
    const req = sent[sent.length - 1];
    expect(req.type).toBe('attention.head');
    reply({ type: 'attention.head', id: 'someone-else', layer: 9, head: 9, str_tokens: [], pattern: null }); // not ours
    reply({ type: 'attention.head', id: req.id, layer: 1, head: 2, str_tokens: ['a'], pattern: null });
    const head = await got; // Replies['attention.head'] = AttentionHeadReply: `.head` and `.str_tokens` typecheck
    expect([head.layer, head.head, head.str_tokens]).toEqual([1, 2, ['a']]);
    vi.unstubAllGlobals();
  });
});
