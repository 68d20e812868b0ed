import type { FeatureContext } from '../../api/wire';
import { contextCells } from '../../state/features';
import { shadeCss } from './colours';

/** Props of the top-activating contexts. */
export interface ContextListProps {
  contexts: FeatureContext[];
  /** The feature's overall max activation (the colour scale's top). */
  max: number;
}

/** The contexts the feature fires most on, each token shaded by its activation (value on hover). */
export function ContextList({ contexts, max }: ContextListProps) {
  return (
    <div className="fcontexts" data-testid="feature-contexts">
      <div className="fcard-title">top activations <span className="muted">· {contexts.length} contexts · hover a token for its value</span></div>
      <ol>
        {contexts.map((c, i) => (
          <li key={i} className="fcontext" data-testid="feature-context">
            <span className="fcontext-max num">{c.max.toFixed(2)}</span>
            <span className="fcontext-text">
              {contextCells(c, max).map((cell, j) => (
                <span key={j} className={`ftok${cell.shade > 0 ? ' on' : ''}`} style={{ background: shadeCss(cell.shade) }} title={`${JSON.stringify(cell.text)}: ${cell.value.toFixed(3)}`}
                  data-value={cell.value}>{cell.text.replace(/\n/g, '↵')}</span>
              ))}
            </span>
          </li>
        ))}
      </ol>
    </div>
  );
}
