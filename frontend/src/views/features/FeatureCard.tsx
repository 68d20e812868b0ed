import { closeFeature, togglePin } from '../../state/featureActions';
import { featureKey, runMax } from '../../state/features';
import { useLoupe } from '../../state/store';
import { ActivationHistogram } from './ActivationHistogram';
import { ContextList } from './ContextList';
import { FeatureSteer } from './FeatureSteer';
import { LogitTable } from './LogitTable';

/** Props: none; shows the store's open card (`features.card`). */
export type FeatureCardProps = Record<string, never>;

/**
 * A feature's dashboard, Neuronpedia style: label, density and max; steering; the activation
 * histogram; promoted and suppressed tokens with their logits; the top-activating contexts.
 * Its URL (`?feature=SAE:INDEX`) opens it directly.
 */
export function FeatureCard(_props: FeatureCardProps) {
  const card = useLoupe((s) => s.features.card);
  const info = useLoupe((s) => (s.features.card ? s.features.info[featureKey(s.features.card)] : undefined));
  const loading = useLoupe((s) => s.features.loading);
  const pinned = useLoupe((s) => s.features.pinned);
  const tf = useLoupe((s) => s.run?.features);
  const urlLink = useLoupe((s) => s.features.urlLink);
  if (!card) return <div className="empty">open a feature from a token, the heat strip or a search</div>;
  const key = featureKey(card);
  // The slider's scale: the dashboard's max, else the largest activation in this run.
  const max = info?.max ?? (runMax(tf, card.index) || 1);
  return (
    <article className="fcard" data-testid="feature-card" data-feature={key} data-ready={info ? 'yes' : 'no'}>
      <header className="fcard-head">
        <h3>feature <span className="mono">{key}</span></h3>
        {info && <span className="fcard-label" data-testid="feature-label">{info.label}</span>}
        <span className="spacer" />
        {info && <span className="muted small-text" data-testid="feature-ms">{info.max !== null ? `max ${info.max.toFixed(2)} · ` : ''}loaded in {info.ms.toFixed(0)} ms</span>}
        <button type="button" className="small" onClick={() => togglePin(card.index)}>{pinned.includes(card.index) ? 'unpin' : 'pin in strip'}</button>
        {urlLink && <button type="button" className="small" title="copy a link to this card" onClick={() => void navigator.clipboard?.writeText(window.location.href)}>link</button>}
        <button type="button" className="icon small" aria-label="Close the card" onClick={closeFeature}>×</button>
      </header>
      {!info && loading === key && <div className="empty">loading the dashboard…</div>}
      {!info && loading !== key && <div className="empty">no dashboard for this feature (see the notice above)</div>}
      {info && (
        <>
          <FeatureSteer feature={card} max={max} />
          <div className="fcard-grid">
            {info.histogram && info.density !== null ? <ActivationHistogram histogram={info.histogram} density={info.density} />
              : <div className="muted" data-testid="feature-no-dashboard">This SAE has no dashboard: no activation statistics or contexts, only its logit effects.</div>}
            <LogitTable title="promoted tokens" rows={info.promoted} tone="up" testId="feature-promoted" />
            <LogitTable title="suppressed tokens" rows={info.suppressed} tone="down" testId="feature-suppressed" />
          </div>
          {info.contexts.length > 0 && <ContextList contexts={info.contexts} max={max} />}
        </>
      )}
    </article>
  );
}
