/**
 * Wire types of the features messages (sparse autoencoders), as in proto/README.md and
 * notes' features contract: `features.list`, `features.info`, `features.search`,
 * `features.contrast`, the `features` field of `run` / `run.layer`, and the `feature`
 * intervention op. Data only: no code here.
 */
import type { RequestId, WireTensor } from './wire';

/** One sparse autoencoder the server has attached. */
export interface SaeInfo {
  id: string; hook: string; layer: number; d_in: number; d_sae: number;
  architecture: 'standard' | 'topk' | 'jumprelu'; k: number | null; dashboard: boolean;
}

/** Ask a run for its top-k features per token at the SAE's layer. */
export interface RunFeaturesRequest { sae: string; k?: number }
/** The top-k features per token, on the `run.layer` frame of the SAE's layer: ids/values are [T, k]. */
export interface RunFeatures { sae: string; hook: string; ids: WireTensor; values: WireTensor }

/** Steer by one feature at the SAE's hook. */
export type FeatureMode = 'set' | 'add' | 'scale' | 'ablate';
export interface FeatureOp { op: 'feature'; sae: string; index: number; mode: FeatureMode; value?: number; positions?: number[] }

export interface FeaturesListMsg { type: 'features.list'; id: RequestId }
export interface FeaturesInfoMsg { type: 'features.info'; id: RequestId; sae: string; index: number }
export type SearchBy = 'token' | 'text' | 'span';
export interface FeaturesSearchMsg {
  type: 'features.search'; id: RequestId; sae: string; by: SearchBy; query?: string; prompt?: string; positions?: number[]; k?: number;
}
export interface FeaturesContrastMsg { type: 'features.contrast'; id: RequestId; sae: string; a: string[]; b: string[]; k?: number }

export interface FeaturesListReply { type: 'features.list'; id: RequestId; saes: SaeInfo[] }
/** A window of tokens around one of the feature's top activations. */
export interface FeatureContext { tokens: string[]; values: number[]; max: number }
export interface TokenLogit { token: string; logit: number }
/** A feature's dashboard (precomputed on the server); an SAE without one gives null statistics and no contexts. */
export interface FeaturesInfoReply {
  type: 'features.info'; id: RequestId; sae: string; index: number; density: number | null; max: number | null;
  histogram: { edges: number[]; counts: number[] } | null; promoted: TokenLogit[]; suppressed: TokenLogit[];
  contexts: FeatureContext[]; label: string;
}
export interface FeatureHit { index: number; score: number; label: string }
export interface FeaturesSearchReply { type: 'features.search'; id: RequestId; sae: string; by: SearchBy; results: FeatureHit[] }
export interface ContrastHit extends FeatureHit { mean_a: number; mean_b: number }
export interface FeaturesContrastReply { type: 'features.contrast'; id: RequestId; sae: string; results: ContrastHit[] }

export type FeatureClientMsg = FeaturesListMsg | FeaturesInfoMsg | FeaturesSearchMsg | FeaturesContrastMsg;
export type FeatureServerMsg = FeaturesListReply | FeaturesInfoReply | FeaturesSearchReply | FeaturesContrastReply;
