/**
 * WebSocket client for /ws: hello/welcome handshake, request ids, per-request frame
 * callbacks and a promise that settles on the request's final frame (proto/README.md §4).
 */
import { encodeFrame, readMessage } from './codec';
import { JOB_TYPES, PROTOCOL_VERSION } from './wire';
import type { ClientMsg, ErrorCode, ErrorMsg, Replies, RequestId, ServerMsg, WelcomeMsg } from './wire';

export type ConnState = 'connecting' | 'open' | 'closed';

/** A request failed: carries the server's error code and message. */
export class ServerError extends Error {
  readonly code: string;
  constructor(e: { code: string; message: string }) {
    super(e.message);
    this.code = e.code;
  }
}

const ENDS_WITH_DONE = new Set<string>(JOB_TYPES);

/** Whether `msg` is the last frame the server sends for a request of type `reqType`. */
export function isFinalFrame(reqType: string, msg: ServerMsg): boolean {
  if (msg.type === 'error') return true;
  return ENDS_WITH_DONE.has(reqType) ? msg.type === 'done' : true;
}

interface Pending { type: string; onFrame?: (m: ServerMsg) => void; resolve: (m: ServerMsg) => void; reject: (e: Error) => void }

export interface ClientEvents {
  onState?: (s: ConnState, detail?: string) => void;
  onWelcome?: (w: WelcomeMsg) => void;
  /** Errors not tied to a pending request (e.g. a bad frame). */
  onStrayError?: (e: ErrorMsg) => void;
  /** Other frames not tied to a pending request: replies to another client of the same session (a notebook kernel). */
  onOther?: (m: ServerMsg) => void;
}

/** Opens the transport: a browser WebSocket, or anything with its interface (the notebook widget's comm). */
export type OpenSocket = (url: string) => WebSocket;

type Outgoing = ClientMsg extends infer M ? (M extends { id: RequestId } ? Omit<M, 'id'> : never) : never;

export class LoupeClient {
  private ws: WebSocket | null = null;
  private pending = new Map<string, Pending>();
  private seq = 0;
  private ready: Promise<WelcomeMsg> | null = null;
  welcome: WelcomeMsg | null = null;
  private readonly url: string;
  private readonly events: ClientEvents;
  private readonly openSocket: OpenSocket;

  constructor(url: string, events: ClientEvents = {}, openSocket: OpenSocket = (u) => new WebSocket(u)) {
    this.url = url;
    this.events = events;
    this.openSocket = openSocket;
  }

  /** Open the socket and say hello; resolves with `welcome`. */
  connect(): Promise<WelcomeMsg> {
    if (this.ready) return this.ready;
    this.events.onState?.('connecting');
    this.ready = new Promise<WelcomeMsg>((resolve, reject) => {
      const ws = this.openSocket(this.url);
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      let welcomed = false;
      ws.onopen = () => ws.send(encodeFrame({ type: 'hello', protocol: PROTOCOL_VERSION, client: 'loupe-web' }));
      ws.onmessage = (ev) => {
        let msg: ServerMsg;
        try {
          msg = readMessage(ev.data as ArrayBuffer) as unknown as ServerMsg;
        } catch (e) {
          const code = (e as { code?: ErrorCode }).code ?? 'bad_frame'; // the codec's errors carry protocol codes
          this.events.onStrayError?.({ type: 'error', code, message: `could not read a server frame: ${e instanceof Error ? e.message : String(e)}` });
          return;
        }
        if (!welcomed) {
          if (msg.type === 'welcome') {
            welcomed = true;
            this.welcome = msg;
            this.events.onState?.('open');
            this.events.onWelcome?.(msg);
            resolve(msg);
          } else if (msg.type === 'error') {
            reject(new ServerError(msg));
          }
          return;
        }
        this.dispatch(msg);
      };
      ws.onclose = (ev) => {
        const why = closeReason(ev.code, ev.reason);
        this.failAll(new ServerError({ code: 'disconnected', message: why }));
        this.ready = null;
        this.ws = null;
        this.events.onState?.('closed', why);
        if (!welcomed) reject(new ServerError({ code: 'disconnected', message: why }));
      };
    });
    return this.ready;
  }

  close(): void {
    this.ws?.close();
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN && this.welcome !== null;
  }

  private dispatch(msg: ServerMsg): void {
    const id = 'id' in msg && msg.id !== undefined ? String(msg.id) : null;
    const p = id !== null ? this.pending.get(id) : undefined;
    if (!p) {
      if (msg.type === 'error') this.events.onStrayError?.(msg);
      else this.events.onOther?.(msg);
      return;
    }
    if (isFinalFrame(p.type, msg)) {
      this.pending.delete(id as string);
      if (msg.type === 'error') p.reject(new ServerError(msg));
      else {
        p.onFrame?.(msg);
        p.resolve(msg);
      }
    } else {
      p.onFrame?.(msg);
    }
  }

  private failAll(e: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(e);
  }

  /** Next request id ("w1", "w2", …). */
  nextId(prefix = 'w'): string {
    this.seq += 1;
    return `${prefix}${this.seq}`;
  }

  /**
   * Send a request; `onFrame` sees every frame for it (including the final one unless it is
   * an error). Resolves with the final frame, rejects with `ServerError`.
   */
  request<M extends Outgoing>(msg: M, onFrame?: (m: ServerMsg) => void, id?: string): Promise<Replies[M['type']]> {
    const rid = id ?? this.nextId(msg.type === 'run' ? 'r' : msg.type === 'generate' ? 'g' : 'q');
    return new Promise<Replies[M['type']]>((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new ServerError({ code: 'disconnected', message: 'not connected to the server' }));
        return;
      }
      this.pending.set(rid, { type: msg.type, onFrame, resolve: resolve as (m: ServerMsg) => void, reject });
      this.ws.send(encodeFrame({ ...msg, id: rid }));
    });
  }

  /** Fire a cancel for `target` (errors ignored: the job may have just finished). */
  cancel(target: string): void {
    this.request({ type: 'cancel', target }).catch(() => undefined);
  }
}

const CLOSE_WORDS: Record<number, string> = {
  1000: 'the connection was closed',
  1001: 'the server went away',
  1006: 'the connection was lost',
  1008: 'the server dropped this page (it fell behind or sent something invalid)',
  1009: 'a message was too large',
  1011: 'the server hit an internal error',
  1012: 'the server is restarting',
  1013: 'the server is busy; try again later',
};

/** A WebSocket close in words for the user (the server's reason when it gave one); never a bare code. */
export function closeReason(code: number, reason = ''): string {
  return reason.trim() || CLOSE_WORDS[code] || 'the connection was closed';
}

/** The /ws URL next to the page (ws: or wss:), or `?server=host:port` from the query string. */
export function defaultWsUrl(loc: Location = window.location): string {
  const q = new URLSearchParams(loc.search).get('server');
  const proto = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return q ? `${proto}//${q}/ws` : `${proto}//${loc.host}/ws`;
}
