import { describe, expect, it } from 'vitest';
import { encodeFrame, readMessage } from '../api/codec';
import type { Listener, WidgetModel } from './anywidget';
import { CommSocket, bufferBytes } from './commSocket';
import { scopeCss } from './scopeCss';

/** An anywidget model stand-in: records `send`, lets the test deliver `msg:custom`. */
class FakeModel implements WidgetModel {
  sent: { content: unknown; buffers?: (ArrayBuffer | ArrayBufferView)[] }[] = [];
  listeners = new Map<string, Set<Listener>>();
  get(): unknown { return undefined; }
  on(event: string, cb: Listener): void { (this.listeners.get(event) ?? this.listeners.set(event, new Set()).get(event))?.add(cb); }
  off(event: string, cb: Listener): void { this.listeners.get(event)?.delete(cb); }
  send(content: unknown, _callbacks?: unknown, buffers?: (ArrayBuffer | ArrayBufferView)[]): void { this.sent.push({ content, buffers }); }
  deliver(content: unknown, buffers: DataView[]): void {
    for (const cb of this.listeners.get('msg:custom') ?? []) (cb as unknown as (c: unknown, b: DataView[]) => void)(content, buffers);
  }
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('CommSocket', () => {
  it('opens, carries binary frames both ways and stops for good on close', async () => {
    const model = new FakeModel();
    const ws = new CommSocket(model);
    const got: unknown[] = [];
    let opened = false;
    ws.onopen = () => { opened = true; };
    ws.onmessage = (ev) => got.push(readMessage(ev.data as ArrayBuffer));
    await tick();
    expect(opened).toBe(true);
    ws.send(encodeFrame({ type: 'hello', protocol: 1 }));
    expect(model.sent).toHaveLength(1);
    expect(model.sent[0].content).toEqual({ kind: 'frame' });
    expect(readMessage(bufferBytes(model.sent[0].buffers?.[0] as Uint8Array))).toEqual({ type: 'hello', protocol: 1 });
    // A DataView into a larger buffer, as the comm delivers them.
    const frame = encodeFrame({ type: 'pong', id: 'p1' });
    const big = new Uint8Array(frame.length + 7);
    big.set(frame, 3);
    model.deliver({ kind: 'frame' }, [new DataView(big.buffer, 3, frame.length)]);
    model.deliver({ kind: 'other' }, [new DataView(big.buffer, 3, frame.length)]);
    expect(got).toEqual([{ type: 'pong', id: 'p1' }]);
    ws.close();
    model.deliver({ kind: 'frame' }, [new DataView(frame.buffer)]);
    ws.send(frame);
    expect(got).toHaveLength(1);
    expect(model.sent).toHaveLength(1);
    expect(model.listeners.get('msg:custom')?.size).toBe(0);
  });
});

describe('scopeCss', () => {
  it('moves page-level rules to the widget host', () => {
    const css = ':root {\n  --bg: #000;\n}\n* { box-sizing: border-box; }\nbody { margin: 0; min-width: 1100px; }\nbutton { color: red; }';
    const out = scopeCss(css);
    expect(out).toContain(':host {');
    expect(out).not.toContain(':root');
    expect(out).not.toContain('min-width: 1100px');
    expect(out).toContain('button { color: red; }');
  });
});
