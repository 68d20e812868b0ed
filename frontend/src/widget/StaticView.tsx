import { useEffect, useMemo } from 'react';
import { decodeTensor, type Tensor } from '../api/codec';
import type { ModelInfo } from '../api/wire';
import type { RunView } from '../state/runData';
import { set, useLoupe } from '../state/store';
import { AttentionDetail } from '../views/AttentionDetail';
import { AttentionGrid } from '../views/AttentionGrid';
import { TokenStrip } from '../views/TokenStrip';
import type { StaticData } from './staticData';

/** Put given patterns into the store as a finished run, so the live grid and head view draw them. */
function showPatterns(d: StaticData, pattern: Tensor, thumbs: Tensor): void {
  const [L, H, T] = pattern.shape;
  const P = thumbs.shape[2];
  const model: ModelInfo = { name: d.title, arch: '', n_layers: L, n_heads: H, n_kv_heads: H, d_model: 0, d_head: 0, d_mlp: 0, d_vocab: 0, n_ctx: T, hook_points: [] };
  const run: RunView = {
    id: 'static', prompt: '', nLayers: L, strTokens: d.str_tokens, tokenIds: [], layersDone: L, topK: [], clean: [], intervened: false, status: 'done',
    layers: Array.from({ length: L }, (_, l) => ({ ms: 0, thumbs: { size: P, data: thumbs.data.subarray(l * H * P * P, (l + 1) * H * P * P) as Float32Array } })),
  };
  set({ model, run, conn: 'open', selected: { layer: 0, head: 0 } });
}

/** The head view follows the selection, from the given full patterns. */
function useDetailFromPattern(d: StaticData, pattern: Tensor | null): void {
  const selected = useLoupe((s) => s.selected);
  useEffect(() => {
    if (!pattern || !selected) return;
    const [, H, T] = pattern.shape;
    const start = (selected.layer * H + selected.head) * T * T;
    const data = pattern.data.subarray(start, start + T * T);
    set({ detail: { ...selected, pattern: { dtype: 'f32', shape: [T, T], data }, strTokens: d.str_tokens } });
  }, [d, pattern, selected]);
}

/** `loupe.notebook.attention`: the attention grid and the head view over given patterns. */
function StaticAttention({ d }: { d: StaticData }) {
  const pattern = useMemo(() => (d.pattern ? decodeTensor(d.pattern) : null), [d]);
  useEffect(() => {
    if (pattern && d.thumbs) showPatterns(d, pattern, decodeTensor(d.thumbs));
  }, [d, pattern]);
  useDetailFromPattern(d, pattern);
  return (
    <div className="nb-static" data-testid="loupe-static-attention">
      <div className="controls"><TokenStrip /></div>
      <div className="nb-grid">
        <AttentionGrid />
        <AttentionDetail />
      </div>
    </div>
  );
}

/** `loupe.notebook.tokens`: one coloured token strip per row of values. */
function StaticTokens({ d }: { d: StaticData }) {
  const values = useMemo(() => (d.values ? decodeTensor(d.values) : null), [d]);
  const T = d.str_tokens.length;
  return (
    <div className="nb-static" data-testid="loupe-static-tokens">
      <div className="nb-title"><b>{d.title}</b></div>
      <div className="token-rows">
        {values && (d.labels ?? []).map((label, r) => (
          <TokenStrip key={r} tokens={d.str_tokens} values={values.data.subarray(r * T, (r + 1) * T)} label={label} />
        ))}
      </div>
    </div>
  );
}

/** A static view of tensors given from Python. */
export function StaticView({ data }: { data: StaticData }) {
  return data.kind === 'attention' ? <StaticAttention d={data} /> : <StaticTokens d={data} />;
}
