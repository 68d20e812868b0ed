import { useState } from 'react';
import type { FeatureMode } from '../../api/wire';
import { generate, setInterventions } from '../../state/actions';
import { setSteerMode, steerFeature } from '../../state/featureActions';
import { featureInterventionId, sliderSpec, type FeatureRef } from '../../state/features';
import { get, useLoupe } from '../../state/store';

/** Props of the steer-by-feature control. */
export interface FeatureSteerProps {
  feature: FeatureRef;
  /** The feature's max activation (sets the slider's range). */
  max: number;
}

const MODES: { id: FeatureMode; label: string; hint: string }[] = [
  { id: 'add', label: 'add', hint: 'x += v · W_dec[f]' },
  { id: 'set', label: 'set', hint: 'activation set to v' },
  { id: 'scale', label: 'scale', hint: 'activation × v' },
  { id: 'ablate', label: 'ablate', hint: 'activation set to 0' },
];

/**
 * Steer by this feature at every position: set / add / scale / ablate with a slider. Every move
 * re-runs at once; the intervention joins the Interventions list and drives the side-by-side
 * generation of the steering demo.
 */
export function FeatureSteer({ feature, max }: FeatureSteerProps) {
  const id = featureInterventionId(feature);
  const item = useLoupe((s) => s.interventions.find((i) => i.id === id));
  const storedMode = useLoupe((s) => s.features.steerMode);
  const gen = useLoupe((s) => s.gen);
  const open = useLoupe((s) => s.conn === 'open');
  const current = item && item.op === 'feature' ? item : null;
  const mode = current?.mode ?? storedMode;
  const spec = sliderSpec(mode, max);
  const [draft, setDraft] = useState<Record<string, number>>({});
  const value = current?.value ?? draft[mode] ?? spec.initial;
  const apply = (m: FeatureMode, v: number) => {
    setDraft((d) => ({ ...d, [m]: v }));
    steerFeature(feature, m, v);
  };
  return (
    <div className="fsteer" data-testid="feature-steer">
      <div className="row">
        <span className="fcard-title">steer</span>
        <select aria-label="Feature steering mode" data-testid="feature-mode" value={mode}
          onChange={(e) => {
            const m = e.target.value as FeatureMode;
            if (current) apply(m, draft[m] ?? sliderSpec(m, max).initial);
            else setSteerMode(m);
          }}>
          {MODES.map((m) => <option key={m.id} value={m.id} title={m.hint}>{m.label}</option>)}
        </select>
        {mode !== 'ablate' && (
          <label className="inline grow">
            <b className="scale-readout" data-testid="feature-value">{value.toFixed(2)}</b>
            <input type="range" className="grow" aria-label="Feature steering value" data-testid="feature-slider"
              min={spec.min} max={spec.max} step={spec.step} value={value} onChange={(e) => apply(mode, Number(e.target.value))} />
          </label>
        )}
        {!current ? (
          <button type="button" className="primary" data-testid="feature-apply" disabled={!open} onClick={() => apply(mode, value)}>apply</button>
        ) : (
          <button type="button" data-testid="feature-remove" onClick={() => setInterventions(get().interventions.filter((i) => i.id !== id))}>remove</button>
        )}
        <button type="button" data-testid="feature-generate" disabled={!open || !current} title="generate from the steering demo's prompt with and without the interventions"
          onClick={() => void generate()}>{gen?.running ? 'generating…' : 'generate ⇉'}</button>
      </div>
    </div>
  );
}
