/**
 * Pure run-state logic: turning `run.*` frames into the view model the panels draw.
 * No I/O here, so it is unit-tested directly (runData.test.ts).
 */
import { decodeTensor } from '../api/codec';
import type { LogitDiff, Pred, RunLayerMsg, RunResultMsg, RunTokensMsg, ServerMsg } from '../api/wire';
import type { LayerThumbs } from '../viz/attentionGrid';
import { decodeRunFeatures, type TokenFeatures } from './features';
import { groupTokens, tokenLabels, type TokenGroup } from './tokenText';

/** What one layer contributes to the views. */
export interface LayerData {
  ms: number;
  thumbs?: LayerThumbs;
  /** [T] L2 norm of resid_post. */
  residNorm?: Float32Array;
  /** [T] logit-lens argmax strings and probabilities. */
  lensTop1?: string[];
  lensProb?: Float32Array;
  /** Logit-lens top-5 at the last position. */
  lensTop5?: { str: string; prob: number }[];
}

export type RunStatus = 'running' | 'done' | 'cancelled' | 'error';

export interface RunView {
  id: string;
  prompt: string;
  nLayers: number;
  /** One display label per token (byte-level fragments as "☕[1/3]"; see tokenText.ts). */
  strTokens: string[];
  /** The tokens as display pieces: a character split into byte-level tokens is one piece. */
  groups?: TokenGroup[];
  tokenIds: number[];
  layers: (LayerData | undefined)[];
  layersDone: number;
  topK: Pred[];
  clean: Pred[];
  intervened: boolean;
  logitDiff?: LogitDiff;
  /** Top-k SAE features per token, when the run asked for them (arrives with the SAE's layer). */
  features?: TokenFeatures;
  ms?: number;
  status: RunStatus;
  error?: string;
}

export function newRun(id: string, prompt: string, nLayers: number): RunView {
  return {
    id, prompt, nLayers, strTokens: [], tokenIds: [], layers: new Array(nLayers).fill(undefined), layersDone: 0,
    topK: [], clean: [], intervened: false, status: 'running',
  };
}

/** Decode a `run.layer` summary into LayerData. */
export function layerData(msg: RunLayerMsg): LayerData {
  const out: LayerData = { ms: msg.ms };
  const s = msg.summary;
  if (!s) return out;
  if (s.resid_norm) out.residNorm = Float32Array.from(decodeTensor(s.resid_norm).data);
  if (s.attn) {
    const t = decodeTensor(s.attn);
    out.thumbs = { size: t.shape[1] ?? 0, data: t.data as Float32Array };
  }
  if (s.lens) {
    if (s.lens.top1_str) out.lensTop1 = s.lens.top1_str;
    if (s.lens.prob) out.lensProb = Float32Array.from(decodeTensor(s.lens.prob).data);
    if (s.lens.top5_str && s.lens.top5_prob) {
      const p = decodeTensor(s.lens.top5_prob).data;
      out.lensTop5 = s.lens.top5_str.map((str, i) => ({ str, prob: p[i] }));
    }
  }
  return out;
}

/** Apply one frame of this run; frames of other requests are ignored. Returns a new object. */
export function applyRunFrame(run: RunView, msg: ServerMsg): RunView {
  if (!('id' in msg) || String(msg.id) !== run.id) return run;
  switch (msg.type) {
    case 'run.tokens': {
      const m = msg as RunTokensMsg;
      return {
        ...run, strTokens: tokenLabels(run.prompt, m.str_tokens), groups: groupTokens(run.prompt, m.str_tokens),
        tokenIds: Array.from(decodeTensor(m.tokens).data),
      };
    }
    case 'run.layer': {
      const m = msg as RunLayerMsg;
      const layers = run.layers.slice();
      layers[m.layer] = layerData(m);
      const features = m.features ? decodeRunFeatures(m.features, m.layer) : run.features;
      return { ...run, layers, layersDone: Math.max(run.layersDone, m.layer + 1), features };
    }
    case 'run.result': {
      const m = msg as RunResultMsg;
      return { ...run, topK: m.top_k, clean: m.clean, intervened: m.intervened, logitDiff: m.logit_diff };
    }
    case 'done':
      return { ...run, ms: msg.ms, status: msg.cancelled ? 'cancelled' : 'done' };
    case 'error':
      return { ...run, status: 'error', error: `${msg.code}: ${msg.message}` };
    default:
      return run;
  }
}

/** Number of layers the views should show: all arrived layers, or the scrubber's choice. */
export function visibleLayers(run: RunView | null, scrub: number | null): number {
  if (!run) return 0;
  return scrub === null ? run.layersDone : Math.min(run.layersDone, scrub + 1);
}

/** The layer the views centre on (the last visible one), or -1. */
export function currentLayer(run: RunView | null, scrub: number | null): number {
  return visibleLayers(run, scrub) - 1;
}

/** Stack per-layer [T] vectors into a [L, T] matrix (missing layers are NaN). */
export function stackLayers(run: RunView, pick: (d: LayerData) => Float32Array | undefined): Float32Array {
  const T = run.strTokens.length;
  const out = new Float32Array(run.nLayers * T).fill(NaN);
  run.layers.forEach((d, l) => {
    const v = d && pick(d);
    if (v) out.set(v.subarray(0, T), l * T);
  });
  return out;
}

/**
 * A head worth showing first: among the later half of layers, the one whose last query puts
 * the most attention on an earlier token other than position 0 (the usual attention sink),
 * itself and the previous token — on the IOI prompt that finds name-mover-like heads.
 */
export function pickHead(run: RunView): { layer: number; head: number } | null {
  let best: { layer: number; head: number; v: number } | null = null;
  const from = Math.floor(run.nLayers / 2);
  for (let l = from; l < run.layers.length; l++) {
    const th = run.layers[l]?.thumbs;
    if (!th || th.size < 3) continue;
    const P = th.size;
    const H = th.data.length / (P * P);
    for (let h = 0; h < H; h++) {
      const row = h * P * P + (P - 1) * P;
      for (let k = 1; k < P - 2; k++) {
        const v = th.data[row + k];
        if (!best || v > best.v) best = { layer: l, head: h, v };
      }
    }
  }
  return best && { layer: best.layer, head: best.head };
}

/**
 * Where the last query of one head looks most, position 0 (the usual attention sink) aside, from
 * its thumbnail: the token at the start of the strongest key bin and the (max-pooled) attention.
 */
export function lastQueryFocus(run: RunView, layer: number, head: number): { pos: number; value: number } | null {
  const th = run.layers[layer]?.thumbs;
  const T = run.strTokens.length;
  if (!th || !T) return null;
  const P = th.size;
  const row = head * P * P + (P - 1) * P;
  if (row + P > th.data.length) return null;
  if (P < 2) return null;
  let best = 1;
  for (let k = 2; k < P; k++) if (th.data[row + k] > th.data[row + best]) best = k;
  return { pos: Math.floor((best * T) / P), value: th.data[row + best] };
}
