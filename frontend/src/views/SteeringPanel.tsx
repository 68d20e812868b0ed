import { useState } from 'react';
import { generate, makeSteeringVector, putIntervention, steerIntervention } from '../state/actions';
import { vectorFromWeights } from '../state/analysisActions';
import { get, set, useLoupe, type GenState, type SteerConfig, type SteerSource } from '../state/store';
import { Panel } from './Panel';

/** "end of text" after a branch the model ended itself (fewer tokens than asked, not stopped). */
function GenEnd({ gen, tokens }: { gen: GenState; tokens: number }) {
  if (gen.running || gen.cancelled !== false || tokens >= gen.max) return null;
  return <span className="gen-end" data-testid="gen-end" title="the model produced its end-of-text token here">end of text</span>;
}

/** Props of the steering demo. */
export interface SteeringPanelProps {
  /** Tokens generated per branch. */
  maxNewTokens?: number;
}

/** What the first generation column shows: steered or not when it ran, and whether that still holds. */
function steerTitle(ranWith: boolean, nowOn: boolean): string {
  const base = ranWith ? 'steered' : 'no steering applied';
  return ranWith === nowOn ? base : `${base} · steering ${nowOn ? 'on' : 'off'} now: generate again`;
}

/**
 * Steering: a vector from contrast prompts (mean resid(positive) − mean resid(negative) at a
 * layer), a token's embedding or an MLP neuron's output weights, added at a layer with a scale;
 * generate with and without it side by side, streaming.
 */
export function SteeringPanel({ maxNewTokens = 24 }: SteeringPanelProps) {
  const steer = useLoupe((s) => s.steer);
  const nL = useLoupe((s) => s.model?.n_layers ?? 1);
  const gen = useLoupe((s) => s.gen);
  const item = useLoupe((s) => s.interventions.find((i) => i.id === 'steer'));
  const vec = useLoupe((s) => s.vectors.find((v) => v.name === 'steer'));
  const open = useLoupe((s) => s.conn === 'open');
  const [busy, setBusy] = useState(false);
  const edit = (patch: Partial<SteerConfig>) => set((s) => ({ steer: { ...s.steer, ...patch } }));
  const stale = !steer.vector;
  const enabled = item ? item.enabled !== false : false;

  const build = async () => {
    setBusy(true);
    if (get().steer.source === 'prompts') await makeSteeringVector();
    else if (await vectorFromWeights()) putIntervention(steerIntervention());
    setBusy(false);
  };
  const dL = useLoupe((s) => s.model?.d_mlp ?? 1);

  return (
    <Panel title="Steering" hint={vec ? `vector ‖v‖ = ${vec.norm.toFixed(1)} at L${steer.layer}` : 'add a direction to the residual stream'} testId="steering-panel" className="steer-panel">
      <div className="row">
        <select aria-label="Vector source" data-testid="steer-source" value={steer.source} onChange={(e) => edit({ source: e.target.value as SteerSource, vector: null })}>
          <option value="prompts">from contrast prompts</option>
          <option value="token">from token embedding</option>
          <option value="neuron">from MLP neuron</option>
        </select>
        {steer.source === 'token' && (
          <input className="grow" aria-label="Steering token" title="one token, e.g. “ love” (mind the leading space)" value={steer.token}
            onChange={(e) => edit({ token: e.target.value, vector: null })} />
        )}
        {steer.source === 'neuron' && (
          <>
            <label className="inline">neuron L<input type="number" min={0} max={nL - 1} value={steer.neuronLayer} aria-label="Neuron layer"
              onChange={(e) => edit({ neuronLayer: Math.max(0, Math.min(nL - 1, Number(e.target.value))), vector: null })} /></label>
            <label className="inline">#<input type="number" min={0} max={dL - 1} value={steer.neuronIndex} aria-label="Neuron index"
              onChange={(e) => edit({ neuronIndex: Math.max(0, Math.min(dL - 1, Number(e.target.value))), vector: null })} /></label>
          </>
        )}
      </div>
      {steer.source === 'prompts' && (
        <div className="row">
          <input className="grow" aria-label="Positive prompt" value={steer.positive} onChange={(e) => edit({ positive: e.target.value, vector: null })} />
          <span className="muted">−</span>
          <input className="grow" aria-label="Negative prompt" value={steer.negative} onChange={(e) => edit({ negative: e.target.value, vector: null })} />
        </div>
      )}
      <div className="row">
        {steer.source === 'prompts' && (
          <select aria-label="Where to read the contrast" value={steer.position} title="residual at the last token, or averaged over tokens"
            onChange={(e) => edit({ position: e.target.value as 'last' | 'mean', vector: null })}>
            <option value="mean">mean over tokens</option>
            <option value="last">last token</option>
          </select>
        )}
        <label className="inline">layer
          <input type="number" min={0} max={nL - 1} value={steer.layer} aria-label="Steering layer"
            onChange={(e) => edit({ layer: Math.max(0, Math.min(nL - 1, Number(e.target.value))), vector: null })} />
        </label>
        <label className="inline grow">× <b className="scale-readout">{steer.scale.toFixed(2)}</b>
          <input type="range" min={-12} max={12} step={0.25} value={steer.scale} aria-label="Steering scale" className="grow"
            onChange={(e) => {
              edit({ scale: Number(e.target.value) });
              if (get().steer.vector && item) putIntervention(steerIntervention(enabled));
            }} />
        </label>
      </div>
      <div className="row">
        <button type="button" data-testid="make-vector" disabled={!open || busy} className={stale ? 'primary' : ''} onClick={build}>
          {busy ? 'building…' : stale ? 'build & apply vector' : 'rebuild vector'}
        </button>
        {item && (
          <label className="inline">
            <input type="checkbox" checked={enabled} onChange={(e) => putIntervention(steerIntervention(e.target.checked))} /> apply to runs
          </label>
        )}
      </div>
      <div className="gen-box">
        <div className="row">
          <input className="grow" aria-label="Generation prompt" value={steer.genPrompt} onChange={(e) => edit({ genPrompt: e.target.value })} />
          <button type="button" data-testid="generate" disabled={!open} onClick={async () => {
            // A feature intervention is steering enough: only build a vector when nothing else steers.
            if (get().steer.vector === null && !get().interventions.some((i) => i.op === 'feature' && i.enabled !== false)) await build();
            void generate(maxNewTokens);
          }}>
            {gen?.running ? 'generating…' : 'generate ⇉'}
          </button>
        </div>
        <div className="gen-cols">
          <div className="gen-col" data-testid="gen-steered" data-tokens={gen?.steered.length ?? 0}>
            <div className="gen-title" data-testid="gen-steered-title">{gen ? steerTitle(gen.steeredWith, enabled) : 'steered'}</div>
            {gen ? (
              <p><span className="gen-prompt">{gen.prompt}</span>{gen.steered.join('')}{gen.running && <span className="caret" />}<GenEnd gen={gen} tokens={gen.steered.length} /></p>
            ) : (
              <p className="muted">press generate: the same prompt with the session’s interventions…</p>
            )}
          </div>
          <div className="gen-col" data-testid="gen-baseline" data-tokens={gen?.baseline.length ?? 0}>
            <div className="gen-title">baseline</div>
            {gen ? (
              <p><span className="gen-prompt">{gen.prompt}</span>{gen.baseline.join('')}{gen.running && <span className="caret" />}<GenEnd gen={gen} tokens={gen.baseline.length} /></p>
            ) : (
              <p className="muted">…and without them, side by side, streaming.</p>
            )}
          </div>
        </div>
        {gen && !gen.running && gen.ms !== undefined && <div className="muted small-text">{gen.steered.length} + {gen.baseline.length} tokens in {(gen.ms / 1000).toFixed(1)} s</div>}
      </div>
    </Panel>
  );
}
