import { useState } from 'react';
import { set, useLoupe } from '../state/store';
import { showToken } from '../viz/scales';

/**
 * The selected head's attention coloured onto the prompt itself (as CircuitsVis shows it): from the
 * focused token to every earlier one, or to the focused token from every later one. Click a token to
 * focus it. Without a focus, the last token's row is shown.
 */
export function AttentionText() {
  const detail = useLoupe((s) => s.detail);
  const focus = useLoupe((s) => s.focusPos);
  const [dir, setDir] = useState<'from' | 'to'>('from');
  if (!detail) return null;
  const T = detail.strTokens.length;
  const at = focus !== null && focus < T ? focus : T - 1;
  const p = detail.pattern.data;
  const weight = (i: number) => (dir === 'from' ? (i <= at ? p[at * T + i] : NaN) : (i >= at ? p[i * T + at] : NaN));
  return (
    <div className="attn-text" data-testid="attention-text">
      <div className="row small-text muted">
        <select aria-label="Attention direction" value={dir} onChange={(e) => setDir(e.target.value as 'from' | 'to')}>
          <option value="from">attention from</option>
          <option value="to">attention to</option>
        </select>
        <span>“{showToken(detail.strTokens[at])}” ({at}) · L{detail.layer}H{detail.head} · click a token to move</span>
      </div>
      <p>
        {detail.strTokens.map((t, i) => {
          const w = weight(i);
          return (
            <span key={i} className={`attn-tok${i === at ? ' at' : ''}`} data-weight={Number.isNaN(w) ? '' : w.toFixed(3)}
              style={Number.isNaN(w) ? { opacity: 0.35 } : { background: `rgba(255, 166, 77, ${Math.min(1, w).toFixed(3)})` }}
              title={Number.isNaN(w) ? 'masked (causal)' : `${w.toFixed(3)}`} onClick={() => set({ focusPos: i })}>
              {t}
            </span>
          );
        })}
      </p>
    </div>
  );
}
