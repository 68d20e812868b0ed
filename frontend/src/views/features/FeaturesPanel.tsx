import { useEffect, useRef } from 'react';
import { chooseSae, loadSaes } from '../../state/featureActions';
import type { FeaturesTab } from '../../state/featureState';
import { set, useLoupe } from '../../state/store';
import { showTab } from '../../state/tabs';
import { Panel } from '../Panel';
import { FeatureCard } from './FeatureCard';
import { FeatureHeatStrip } from './FeatureHeatStrip';
import { FeatureSearch } from './FeatureSearch';
import { TokenFeatures } from './TokenFeatures';

/** Props of the Features panel. */
export interface FeaturesPanelProps {
  /** Rows of the token list and of the heat strip. */
  rows?: number;
}

const TABS: { id: FeaturesTab; label: string }[] = [
  { id: 'token', label: 'Token' },
  { id: 'search', label: 'Search' },
  { id: 'card', label: 'Card' },
];

/**
 * The sparse-autoencoder features of the run: the heat strip (features × tokens) on top, then a
 * tab for the focused token's features, search, and the open feature's card. Asks the server
 * for its SAEs after every welcome; says so plainly when the model has none. Lives in the
 * workspace's "features" tab (views/tabs.tsx), kept mounted so links and runs reach it while hidden.
 */
export function FeaturesPanel({ rows = 8 }: FeaturesPanelProps) {
  const session = useLoupe((s) => s.session);
  const conn = useLoupe((s) => s.conn);
  const saes = useLoupe((s) => s.features.saes);
  const saeId = useLoupe((s) => s.features.sae);
  const tab = useLoupe((s) => s.features.tab);
  const modelName = useLoupe((s) => s.model?.name ?? 'this model');
  const card = useLoupe((s) => s.features.card);
  const body = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (conn === 'open' && session) void loadSaes();
  }, [session, conn]);
  // A card opened while this tab is hidden (e.g. from a ?feature= link) brings the tab to the front.
  useEffect(() => {
    if (card && body.current && body.current.offsetParent === null) showTab('features');
  }, [card]);
  const sae = saes?.find((s) => s.id === saeId);
  const pick = (t: FeaturesTab) => set((s) => ({ features: { ...s.features, tab: t } }));
  const hint = sae ? `${sae.id}: ${sae.d_sae} features at ${sae.hook} (${sae.architecture}${sae.k ? `, k=${sae.k}` : ''})` : saes === null ? 'asking the server…' : 'no SAE attached';
  return (
    <Panel
      title="Features"
      hint={hint}
      testId="features-panel"
      className="features-panel"
      actions={sae && (
        <>
          {saes && saes.length > 1 && (
            <select aria-label="Sparse autoencoder" value={sae.id} onChange={(e) => chooseSae(e.target.value)}>
              {saes.map((s) => <option key={s.id} value={s.id}>{s.id} (L{s.layer})</option>)}
            </select>
          )}
          <div className="tabs" role="tablist">
            {TABS.map((t) => (
              <button key={t.id} type="button" role="tab" aria-selected={tab === t.id} className={tab === t.id ? 'tab active' : 'tab'}
                data-testid={`ftab-${t.id}`} onClick={() => pick(t.id)}>{t.label}</button>
            ))}
          </div>
        </>
      )}
    >
      {saes !== null && !sae && (
        <div className="empty" data-testid="features-none">
          {modelName} has no sparse autoencoder attached, so there are no features to show. Everything else works as before;
          start the server with <code>--sae PATH</code> (in a notebook: <code>model.add_sae(loupe.SAE.load(PATH))</code>) to add one.
        </div>
      )}
      {sae && (
        <div className="features-body" ref={body}>
          <FeatureHeatStrip rows={rows} />
          {tab === 'token' && <TokenFeatures rows={rows + 2} />}
          {tab === 'search' && <FeatureSearch />}
          {tab === 'card' && <FeatureCard />}
        </div>
      )}
    </Panel>
  );
}
