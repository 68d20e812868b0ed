import { useState } from 'react';
import type { Intervention } from '../api/wire';
import { putIntervention, saveSource, setInterventions } from '../state/actions';
import { currentLayer } from '../state/runData';
import { ablationMode, describe, get, set, setAblation, useLoupe } from '../state/store';
import { showToken } from '../viz/scales';
import { Panel } from './Panel';

/** Props: none; edits the session's interventions through the store. */
export type InterventionPanelProps = Record<string, never>;

type PatchSite = 'hook_resid_post' | 'hook_attn_out' | 'hook_mlp_out' | 'head';

/** The intervention list (toggle/remove), head ablation, and activation patching from a saved prompt. */
export function InterventionPanel(_props: InterventionPanelProps) {
  const items = useLoupe((s) => s.interventions);
  const selected = useLoupe((s) => s.selected);
  const model = useLoupe((s) => s.model);
  const corrupt = useLoupe((s) => s.corruptPrompt);
  const saved = useLoupe((s) => s.savedRuns);
  const focus = useLoupe((s) => s.focusPos);
  const run = useLoupe((s) => s.run);
  const scrub = useLoupe((s) => s.scrub);
  const [site, setSite] = useState<PatchSite>('hook_resid_post');
  const [layerInput, setLayerInput] = useState<number | null>(null);
  const [saving, setSaving] = useState(false);
  const source = saved.find((r) => r.name === 'corrupt');
  const nL = model?.n_layers ?? 1;
  const layer = layerInput ?? Math.max(0, currentLayer(run, scrub));
  const T = run?.strTokens.length ?? 0;
  const lengthMismatch = source && T && source.n_tokens !== T;

  const update = (i: number, patch: Partial<Intervention>) => {
    const next = items.slice();
    next[i] = { ...items[i], ...patch } as Intervention;
    setInterventions(next);
  };

  const addPatch = () => {
    const head = site === 'head' ? selected?.head : undefined;
    const L = site === 'head' && selected ? selected.layer : layer;
    const hook = site === 'head' ? `blocks.${L}.attn.hook_z` : `blocks.${L}.${site}`;
    const positions = focus !== null ? [focus] : null;
    const id = `patch-${hook}${head !== undefined ? `-h${head}` : ''}${positions ? `-p${positions[0]}` : ''}`;
    putIntervention({ id, op: 'patch', hook, source: 'corrupt', positions, ...(head !== undefined ? { head } : {}), enabled: true });
  };

  return (
    <Panel
      title="Interventions"
      hint={items.length ? `${items.filter((i) => i.enabled !== false).length} active` : 'none: the model runs clean'}
      testId="intervention-panel"
      className="iv-panel"
      actions={items.length > 0 && <button type="button" className="ghost small" onClick={() => setInterventions([])}>clear all</button>}
    >
      <ul className="iv-list" data-testid="intervention-list">
        {items.map((it, i) => (
          <li key={it.id ?? i} className={it.enabled === false ? 'off' : ''}>
            <label>
              <input type="checkbox" checked={it.enabled !== false} onChange={(e) => update(i, { enabled: e.target.checked })} />
              <span className={`op op-${it.op}`}>{it.op}</span>
              <span className="desc">{describe(it)}</span>
            </label>
            {it.op === 'ablate' && (
              <select aria-label="Ablation mode" value={it.mode ?? 'zero'} onChange={(e) => update(i, { mode: e.target.value as 'zero' | 'mean' })}>
                <option value="zero">zero</option>
                <option value="mean">mean</option>
              </select>
            )}
            <button type="button" className="icon small" aria-label="Remove" onClick={() => setInterventions(items.filter((_, j) => j !== i))}>×</button>
          </li>
        ))}
      </ul>

      <div className="iv-section">
        <div className="iv-title">Ablate a head</div>
        {selected ? (
          <div className="row">
            <span>L{selected.layer} H{selected.head}</span>
            {(['zero', 'mean'] as const).map((mode) => {
              const on = ablationMode(items, selected.layer, selected.head) === mode;
              return (
                <button key={mode} type="button" className={on ? 'active' : ''} data-testid={`ablate-${mode}`}
                  onClick={() => setInterventions(setAblation(get().interventions, selected.layer, selected.head, on ? null : mode))}>
                  {on ? `restore (${mode})` : `${mode}-ablate`}
                </button>
              );
            })}
          </div>
        ) : (
          <div className="muted">select a head in the grid (or ⌥/alt-click it to toggle its ablation)</div>
        )}
      </div>

      <div className="iv-section">
        <div className="iv-title">Patch from a second prompt</div>
        <div className="row">
          <input className="grow" aria-label="Source prompt" value={corrupt} onChange={(e) => set({ corruptPrompt: e.target.value })} />
          <button type="button" disabled={saving} data-testid="save-source" onClick={async () => { setSaving(true); await saveSource('corrupt'); setSaving(false); }}>
            {saving ? 'saving…' : source ? 're-save' : 'save'}
          </button>
        </div>
        {source && (
          <div className="muted small-text">
            saved “corrupt”: {source.n_tokens} tokens{lengthMismatch ? ` — the prompt has ${T}; positions must line up` : ''}
          </div>
        )}
        <div className="row">
          <select aria-label="Patch site" value={site} onChange={(e) => setSite(e.target.value as PatchSite)}>
            <option value="hook_resid_post">resid_post</option>
            <option value="hook_attn_out">attn_out</option>
            <option value="hook_mlp_out">mlp_out</option>
            <option value="head" disabled={!selected}>selected head’s z</option>
          </select>
          {site !== 'head' ? (
            <label className="inline">L<input type="number" min={0} max={nL - 1} value={layer} aria-label="Patch layer" onChange={(e) => setLayerInput(Math.max(0, Math.min(nL - 1, Number(e.target.value))))} /></label>
          ) : (
            <span>{selected ? `L${selected.layer}H${selected.head}` : ''}</span>
          )}
          <span className="muted">at {focus !== null && run ? `“${showToken(run.strTokens[focus] ?? '')}” (${focus})` : 'all positions'}</span>
          <button type="button" disabled={!source} onClick={addPatch} data-testid="add-patch">patch</button>
        </div>
      </div>
    </Panel>
  );
}
