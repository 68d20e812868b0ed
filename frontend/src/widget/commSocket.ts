/**
 * A WebSocket over the widget's comm: the kernel relays each binary frame to and from the Loupe
 * session, so `LoupeClient` speaks the same protocol here as in the web app.
 */
import type { WidgetModel } from './anywidget';

const OPEN = 1;
const CLOSED = 3;

/** Bytes of a comm buffer (a DataView or ArrayBuffer) as a fresh ArrayBuffer. */
export function bufferBytes(b: ArrayBuffer | ArrayBufferView): ArrayBuffer {
  if (b instanceof ArrayBuffer) return b;
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice().buffer;
}

/** The subset of WebSocket that LoupeClient uses, carried by `msg:custom` messages `{kind: 'frame'}` with one buffer. */
export class CommSocket {
  readyState = 0;
  binaryType: BinaryType = 'arraybuffer';
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  private readonly model: WidgetModel;
  private readonly handler: (content: { kind?: string }, buffers: (ArrayBuffer | ArrayBufferView)[]) => void;

  constructor(model: WidgetModel) {
    this.model = model;
    this.handler = (content, buffers) => {
      if (this.readyState !== OPEN || content?.kind !== 'frame' || !buffers?.length) return;
      this.onmessage?.(new MessageEvent('message', { data: bufferBytes(buffers[0]) }));
    };
    model.on('msg:custom', this.handler as never);
    setTimeout(() => {
      if (this.readyState !== 0) return;
      this.readyState = OPEN;
      this.onopen?.(new Event('open'));
    }, 0);
  }

  send(data: Uint8Array): void {
    // An exact ArrayBuffer: the comm serializes a view's whole underlying buffer otherwise.
    if (this.readyState === OPEN) this.model.send({ kind: 'frame' }, undefined, [bufferBytes(data)]);
  }

  /** Stop for good (the widget went away): no close event, so nothing reconnects. */
  close(): void {
    this.readyState = CLOSED;
    this.model.off('msg:custom', this.handler as never);
  }
}
