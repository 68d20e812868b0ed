import { useEffect, useMemo } from 'react';
import { ensureLabels, openFeature, togglePin } from '../../state/featureActions';
import { featureToken, labelOf, tokenTop } from '../../state/features';
import { set, useLoupe } from '../../state/store';
import { showToken } from '../../viz/scales';

/** Props of the token → features list. */
export interface TokenFeaturesProps {
  /** How many features to list. */
  rows?: number;
}

/**
 * The most active features at the focused token (the last token when none is focused): an
 * activation bar, the feature's label (top promoted tokens · a top context) and a pin for the strip.
 */
export function TokenFeatures({ rows = 10 }: TokenFeaturesProps) {
  const tf = useLoupe((s) => s.run?.features);
  const tokens = useLoupe((s) => s.run?.strTokens);
  const focus = useLoupe((s) => s.focusPos);
  const labels = useLoupe((s) => s.features.labels);
  const pinned = useLoupe((s) => s.features.pinned);
  const pos = tf ? featureToken(tf, focus) : -1;
  const acts = useMemo(() => (tf ? tokenTop(tf, pos, rows) : []), [tf, pos, rows]);
  useEffect(() => {
    if (tf) ensureLabels(acts.map((a) => ({ sae: tf.sae, index: a.index })));
  }, [tf, acts]);
  if (!tf) return <div className="empty">features arrive with the SAE’s layer as the run streams in…</div>;
  const max = Math.max(1e-9, ...acts.map((a) => a.value));
  return (
    <div className="token-features" data-testid="token-features">
      <div className="row small-text">
        <span className="muted">features at</span>
        <select aria-label="Token" data-testid="feature-token" value={pos} onChange={(e) => set({ focusPos: Number(e.target.value) })}>
          {(tokens ?? []).map((t, i) => <option key={i} value={i}>{i} “{showToken(t)}”</option>)}
        </select>
        <span className="muted">L{tf.layer} · top {tf.k} per token</span>
      </div>
      {acts.length === 0 && <div className="muted">no feature fires at this token</div>}
      <ul className="fbars">
        {acts.map((a) => {
          const ref = { sae: tf.sae, index: a.index };
          return (
            <li key={a.index} className="fbar-row">
              <button type="button" className="link-row fbar" data-testid="token-feature" data-sae={tf.sae} data-index={a.index} onClick={() => void openFeature(ref)}
                title={`open feature ${tf.sae}:${a.index}`}>
                <span className="fchip-id">#{a.index}</span>
                <span className="fbar-track"><span style={{ width: `${(100 * a.value) / max}%` }} /></span>
                <span className="num">{a.value.toFixed(2)}</span>
                <span className="fbar-label">{labelOf(labels, ref)}</span>
              </button>
              <button type="button" className={`icon small${pinned.includes(a.index) ? ' pinned' : ''}`} aria-label={`pin feature ${a.index} in the strip`}
                title="pin in the heat strip" onClick={() => togglePin(a.index)}>{pinned.includes(a.index) ? 'unpin' : 'pin'}</button>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
