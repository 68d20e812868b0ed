import { showToken } from '../viz/scales';
import { set, useLoupe } from '../state/store';

const NO_TOKENS: string[] = [];

/** Props: none; shows the last run's tokens and the focused position. */
export type TokenStripProps = Record<string, never>;

/** The prompt's tokens as chips; click one to focus the views on it (click again to unfocus). */
export function TokenStrip(_props: TokenStripProps) {
  const tokens = useLoupe((s) => s.run?.strTokens ?? NO_TOKENS);
  const focus = useLoupe((s) => s.focusPos);
  return (
    <div className="token-strip" data-testid="token-strip" role="listbox" aria-label="Tokens">
      <span className="label">tokens</span>
      {tokens.length === 0 && <span className="muted">—</span>}
      {tokens.map((t, i) => (
        <button
          key={i}
          type="button"
          role="option"
          aria-selected={focus === i}
          className={`chip${focus === i ? ' on' : ''}`}
          title={`position ${i}`}
          onClick={() => set({ focusPos: focus === i ? null : i })}
        >
          <span className="pos">{i}</span>
          {showToken(t)}
        </button>
      ))}
    </div>
  );
}
