/**
 * Composition scores (analyze kind "composition"): how much each head's output feeds each later
 * head's queries, keys or values, from the weights alone (computed once per server).
 */
import { decodeTensor, type Tensor } from '../api/codec';
import type { AnalyzeResultMsg, WireTensor } from '../api/wire';

export type CompKind = 'q' | 'k' | 'v';
export const COMP_KINDS: CompKind[] = ['q', 'k', 'v'];
export interface HeadPair { src: string; dst: string; value: number }

/** The three [n_layers, n_heads, n_layers, n_heads] score tensors and the server's strongest pairs of each. */
export interface CompositionView { scores: Record<CompKind, Tensor>; top: Record<CompKind, HeadPair[]>; nLayers: number; nHeads: number }

export function compositionView(m: AnalyzeResultMsg): CompositionView {
  const scores = { q: decodeTensor(m.q as WireTensor), k: decodeTensor(m.k as WireTensor), v: decodeTensor(m.v as WireTensor) };
  const [nLayers, nHeads] = scores.q.shape;
  return { scores, top: m.top as Record<CompKind, HeadPair[]>, nLayers, nHeads };
}

/** The `n` strongest links into (`dir` "in": earlier heads feeding it) or out of head (layer, head). */
export function headLinks(c: CompositionView, kind: CompKind, layer: number, head: number, dir: 'in' | 'out', n = 8): HeadPair[] {
  const { nLayers: L, nHeads: H } = c;
  const d = c.scores[kind].data;
  const out: HeadPair[] = [];
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < H; h++) {
      const value = dir === 'in' ? d[((l * H + h) * L + layer) * H + head] : d[((layer * H + head) * L + l) * H + h];
      if (value > 0 && (dir === 'in' ? l < layer : l > layer)) {
        out.push(dir === 'in' ? { src: `L${l}H${h}`, dst: `L${layer}H${head}`, value } : { src: `L${layer}H${head}`, dst: `L${l}H${h}`, value });
      }
    }
  }
  return out.sort((a, b) => b.value - a.value).slice(0, n);
}
