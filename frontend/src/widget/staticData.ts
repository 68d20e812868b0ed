/** The data of a static view, as `loupe.notebook.attention` / `tokens` pack it. */
import { decodeFrame } from '../api/codec';
import type { WireTensor } from '../api/wire';
import { bufferBytes } from './commSocket';

/** What `loupe.notebook.attention` / `tokens` send: one msgpack map with wire tensors. */
export interface StaticData {
  kind: 'attention' | 'tokens';
  title: string;
  str_tokens: string[];
  pattern?: WireTensor;
  thumbs?: WireTensor;
  values?: WireTensor;
  labels?: string[];
}

/** Decode the `data` trait (bytes arrive as a DataView). */
export function readStatic(data: unknown): StaticData | null {
  if (!data || !(data instanceof ArrayBuffer || ArrayBuffer.isView(data)) || data.byteLength === 0) return null;
  return decodeFrame(bufferBytes(data)) as StaticData;
}

