import type { SearchBy } from '../../api/wire';
import { runSearch } from '../../state/featureActions';
import type { FeatureState } from '../../state/featureState';
import { set, useLoupe } from '../../state/store';
import { showToken } from '../../viz/scales';
import { FeatureChip } from './FeatureChip';

/** Props: none; searches the selected SAE through the store. */
export type FeatureSearchProps = Record<string, never>;

const BY: { id: SearchBy | 'contrast'; label: string }[] = [
  { id: 'token', label: 'by token' },
  { id: 'text', label: 'by text' },
  { id: 'span', label: 'by span of the prompt' },
  { id: 'contrast', label: 'by contrast' },
];

const edit = (patch: Partial<FeatureState>) => set((s) => ({ features: { ...s.features, ...patch } }));

/**
 * Find features: whose decoder promotes a token, whose top contexts contain a text, most active
 * on the focused token of the prompt, or more active on one list of prompts than another.
 * Results are feature chips that open the card.
 */
export function FeatureSearch(_props: FeatureSearchProps) {
  const f = useLoupe((s) => s.features);
  const focus = useLoupe((s) => s.focusPos);
  const tokens = useLoupe((s) => s.run?.strTokens);
  const open = useLoupe((s) => s.conn === 'open');
  const res = f.search;
  return (
    <div className="fsearch" data-testid="feature-search">
      <form className="row" onSubmit={(e) => { e.preventDefault(); void runSearch(); }}>
        <select aria-label="Search features" data-testid="feature-search-by" value={f.searchBy} onChange={(e) => edit({ searchBy: e.target.value as FeatureState['searchBy'] })}>
          {BY.map((b) => <option key={b.id} value={b.id}>{b.label}</option>)}
        </select>
        {(f.searchBy === 'token' || f.searchBy === 'text') && (
          <input className="grow" aria-label="Search query" data-testid="feature-query" value={f.query}
            placeholder={f.searchBy === 'token' ? 'one token, e.g. " Paris" (mind the leading space)' : 'text in the top contexts'}
            onChange={(e) => edit({ query: e.target.value })} />
        )}
        {f.searchBy === 'span' && (
          <span className="grow muted">{focus !== null && tokens ? `features most active on “${showToken(tokens[focus] ?? '')}” (${focus})` : 'features most active over the prompt (click a token to narrow)'}</span>
        )}
        {f.searchBy === 'contrast' && <span className="grow muted">features more active on A than on B (one prompt per line)</span>}
        <button type="submit" className="primary" data-testid="feature-search-go" disabled={!open || f.searching}>{f.searching ? 'searching…' : 'search'}</button>
      </form>
      {f.searchBy === 'contrast' && (
        <div className="fcontrast">
          <textarea aria-label="Prompts A" data-testid="contrast-a" rows={3} value={f.contrastA} onChange={(e) => edit({ contrastA: e.target.value })} />
          <textarea aria-label="Prompts B" data-testid="contrast-b" rows={3} value={f.contrastB} onChange={(e) => edit({ contrastB: e.target.value })} />
        </div>
      )}
      {res && (
        <div className="fresults" data-testid="feature-results" data-count={res.results.length}>
          <div className="muted small-text">{res.results.length} features {res.by === 'contrast' ? `(mean A − mean B of the per-prompt max)` : `by ${res.by}${res.query ? ` “${showToken(res.query)}”` : ''}`}</div>
          <div className="chips">
            {res.results.map((h) => (
              <FeatureChip key={h.index} feature={{ sae: f.sae ?? '', index: h.index }} value={h.score}
                title={'mean_a' in h ? `mean A ${h.mean_a.toFixed(2)} · mean B ${h.mean_b.toFixed(2)}` : undefined} />
            ))}
          </div>
        </div>
      )}
    </div>
  );
}
