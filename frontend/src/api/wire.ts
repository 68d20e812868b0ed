/**
 * Wire types of the Loupe protocol, version 1 (proto/README.md). Data only: no code here.
 * Server messages may carry extra fields at any time; clients ignore what they don't know.
 */

import type { FeatureClientMsg, FeatureOp, FeatureServerMsg, RunFeatures, RunFeaturesRequest } from './featureWire';

export type TensorDType = 'f16' | 'f32' | 'i32';

/** A tensor as it travels: row-major little-endian bytes. */
export interface WireTensor { dtype: TensorDType; shape: number[]; data: Uint8Array }

export type RequestId = string | number;

// ---------------------------------------------------------------- interventions

export interface AblateOp { op: 'ablate'; hook: string; head?: number; mode?: 'zero' | 'mean'; positions?: number[] | null }
export interface PatchOp { op: 'patch'; hook: string; source: string; positions?: number[] | null; head?: number }
export interface SteerOp { op: 'steer'; hook: string; vector: string | WireTensor; scale?: number; positions?: 'all' | number[] }
export interface ScaleOp { op: 'scale'; hook: string; index?: number; head?: number; factor: number }
export type Intervention = { id?: string; enabled?: boolean } & (AblateOp | PatchOp | SteerOp | ScaleOp | FeatureOp);

// ---------------------------------------------------------------- client → server

export interface HelloMsg { type: 'hello'; protocol: 1; token?: string; client?: string }
export interface PingMsg { type: 'ping'; id?: RequestId; t?: unknown }
export interface RunMsg {
  type: 'run'; id: RequestId; prompt?: string; tokens?: number[]; capture?: string[];
  dtype?: 'f16' | 'f32'; top_k?: number; summaries?: boolean | ('resid_norm' | 'lens' | 'attn')[];
  answer?: string; wrong?: string; features?: RunFeaturesRequest;
}
export interface AttentionHeadMsg { type: 'attention.head'; id: RequestId; layer: number; head: number; dtype?: 'f16' | 'f32' }
export interface GenerateMsg {
  type: 'generate'; id: RequestId; prompt: string; max_new_tokens?: number; temperature?: number;
  seed?: number; top_p?: number; compare?: boolean;
}
export interface InterventionsSetMsg { type: 'interventions.set'; id: RequestId; items: Intervention[] }
export interface InterventionsAddMsg { type: 'interventions.add'; id: RequestId; item: Intervention }
export interface InterventionsRemoveMsg { type: 'interventions.remove'; id: RequestId; ids: string[] }
export interface InterventionsClearMsg { type: 'interventions.clear' | 'interventions.list'; id: RequestId }
export interface RunsSaveMsg { type: 'runs.save'; id: RequestId; name: string; prompt?: string; tokens?: number[] }
export interface RunsListMsg { type: 'runs.list'; id: RequestId }
export interface RunsRemoveMsg { type: 'runs.remove'; id: RequestId; names: string[] }
export interface VectorsSaveMsg { type: 'vectors.save'; id: RequestId; name: string; vector: WireTensor }
export interface VectorsFromPromptsMsg {
  type: 'vectors.from_prompts'; id: RequestId; name: string; positive: string[]; negative: string[];
  layer: number; hook?: string; position?: 'last' | 'mean';
}
export interface VectorsListMsg { type: 'vectors.list'; id: RequestId }
export interface VectorsRemoveMsg { type: 'vectors.remove'; id: RequestId; names: string[] }
export interface VectorsFromTokenMsg { type: 'vectors.from_token'; id: RequestId; name: string; token: string; normalize?: boolean }
export interface VectorsFromNeuronMsg { type: 'vectors.from_neuron'; id: RequestId; name: string; layer: number; index: number; normalize?: boolean }
export interface CancelMsg { type: 'cancel'; id: RequestId; target?: RequestId }
export type AnalyzeKind = 'logit_lens' | 'dla' | 'patch' | 'attribution_patching' | 'head_scores' | 'qk_ov' | 'composition';
/** `analyze` (proto/README.md, "analyze"): which fields a kind reads is in the spec's table. */
export interface AnalyzeMsg {
  type: 'analyze'; id: RequestId; kind: AnalyzeKind; prompt?: string; tokens?: number[]; position?: number; k?: number;
  target?: string; answer?: string; wrong?: string; corrupt?: string; over?: 'heads' | 'resid' | 'layers';
  direction?: 'noising' | 'denoising'; batch_size?: number; layer?: number; head?: number; interventions?: boolean;
  dtype?: 'f16' | 'f32';
}

export type ClientMsg =
  | HelloMsg | PingMsg | RunMsg | AttentionHeadMsg | GenerateMsg | InterventionsSetMsg | InterventionsAddMsg
  | InterventionsRemoveMsg | InterventionsClearMsg | RunsSaveMsg | RunsListMsg | RunsRemoveMsg
  | VectorsSaveMsg | VectorsFromPromptsMsg | VectorsListMsg | VectorsRemoveMsg | CancelMsg
  | VectorsFromTokenMsg | VectorsFromNeuronMsg | AnalyzeMsg | FeatureClientMsg;

// ---------------------------------------------------------------- server → client

export interface ModelInfo {
  name: string; arch: string; n_layers: number; n_heads: number; n_kv_heads: number; d_model: number;
  d_head: number; d_mlp: number; d_vocab: number; n_ctx: number; hook_points: string[];
}
export interface Limits {
  max_message_bytes: number; max_prompt_tokens: number; max_capture_bytes: number; max_new_tokens: number;
  max_queued_jobs: number; max_top_k: number;
}
export interface WelcomeMsg { type: 'welcome'; id?: RequestId; protocol: number; session: string; server: string; model: ModelInfo; limits: Limits }
export interface PongMsg { type: 'pong'; id?: RequestId; t?: unknown }

export interface RunTokensMsg { type: 'run.tokens'; id: RequestId; tokens: WireTensor; str_tokens: string[] }
export interface LensSummary {
  top1?: WireTensor; prob?: WireTensor; top1_str?: string[];
  top5?: WireTensor; top5_prob?: WireTensor; top5_str?: string[];
}
export interface LayerSummary { resid_norm?: WireTensor; lens?: LensSummary; attn?: WireTensor }
export interface RunLayerMsg {
  type: 'run.layer'; id: RequestId; layer: number; ms: number; tensors: Record<string, WireTensor>; summary?: LayerSummary;
  /** On the SAE's layer when the run asked for `features`. */
  features?: RunFeatures;
}
export interface Pred { token: number; str: string; prob: number; logit: number }
export interface LogitDiff { answer: string; wrong: string; answer_token: number; wrong_token: number; value: number; clean: number }
export interface RunResultMsg {
  type: 'run.result'; id: RequestId; top_k: Pred[]; clean: Pred[]; intervened: boolean;
  logit_diff?: LogitDiff; tensors: Record<string, WireTensor>;
}
export interface DoneMsg { type: 'done'; id: RequestId; ms: number; cancelled: boolean; text?: { steered: string; baseline?: string } }
export interface AttentionHeadReply { type: 'attention.head'; id: RequestId; layer: number; head: number; pattern: WireTensor; str_tokens: string[] }
export interface GenTokenMsg { type: 'gen.token'; id: RequestId; branch: 'steered' | 'baseline'; index: number; token: number; text: string; prob: number }
export interface InterventionsReply { type: 'interventions'; id: RequestId; items: Intervention[] }
export interface SavedRun { name: string; n_tokens: number; str_tokens: string[] }
export interface RunsReply { type: 'runs'; id: RequestId; items: SavedRun[] }
export interface VectorInfo { name: string; d: number; norm: number; origin: 'upload' | 'prompts' | 'token' | 'neuron' }
export interface VectorsReply { type: 'vectors'; id: RequestId; items: VectorInfo[]; vector?: WireTensor }
export interface CancelledReply { type: 'cancelled'; id: RequestId; targets: RequestId[] }
/** A streamed part of an analysis (a patching row, a lens row, a head-scores layer). */
export interface AnalyzeRowMsg {
  type: 'analyze.row'; id: RequestId; kind: AnalyzeKind; index: number; label?: string; effect?: WireTensor; metric?: WireTensor; n_rows?: number;
}
/** The result of an analysis; fields depend on `kind` (proto/README.md, "analyze"). */
export interface AnalyzeResultMsg { type: 'analyze.result'; id: RequestId; kind: AnalyzeKind; [field: string]: unknown }
export interface ErrorMsg { type: 'error'; id?: RequestId; code: string; message: string }

export type ServerMsg =
  | WelcomeMsg | PongMsg | RunTokensMsg | RunLayerMsg | RunResultMsg | DoneMsg | AttentionHeadReply | GenTokenMsg
  | InterventionsReply | RunsReply | VectorsReply | CancelledReply | ErrorMsg | AnalyzeRowMsg | AnalyzeResultMsg | FeatureServerMsg;

/** Request types whose final frame is `done` (or `error`); all others end with their one reply. */
export type JobType = 'run' | 'generate' | 'runs.save' | 'vectors.from_prompts' | 'analyze';
