import { showToken } from '../viz/scales';
import { set, useLoupe } from '../state/store';
import { DIVERGING_LUT } from '../viz/diverging';
import { lutIndex, textOn } from '../viz/colour';

const NO_TOKENS: string[] = [];

/** Props: none for the last run's tokens; `tokens` + `values` for a static strip of values per token. */
export interface TokenStripProps {
  /** Tokens to show instead of the last run's. */
  tokens?: string[];
  /** A value per token: colours the chips (blue < 0 < red, symmetric scale) and shows in each chip's tooltip. */
  values?: ArrayLike<number>;
  /** The strip's label. */
  label?: string;
}

/** The prompt's tokens as chips; click one to focus the views on it (click again to unfocus). */
export function TokenStrip({ tokens: given, values, label = 'tokens' }: TokenStripProps) {
  const runTokens = useLoupe((s) => s.run?.strTokens ?? NO_TOKENS);
  const focus = useLoupe((s) => s.focusPos);
  const tokens = given ?? runTokens;
  let range = 0;
  for (let i = 0; values && i < values.length; i++) range = Math.max(range, Math.abs(values[i]));
  return (
    <div className="token-strip" data-testid="token-strip" role="listbox" aria-label={label}>
      <span className="label">{label}</span>
      {tokens.length === 0 && <span className="muted">—</span>}
      {tokens.map((t, i) => {
        const v = values?.[i];
        const c = v === undefined ? -1 : lutIndex(v, -range, range);
        const style = c < 0 ? undefined : { background: DIVERGING_LUT.css[c], color: textOn(Math.abs(c - 128) * 2) };
        return (
          <button
            key={i}
            type="button"
            role="option"
            aria-selected={focus === i}
            className={`chip${focus === i ? ' on' : ''}`}
            style={style}
            title={`position ${i}${v === undefined ? '' : ` · ${v.toPrecision(4)}`}`}
            onClick={() => set({ focusPos: focus === i ? null : i })}
          >
            <span className="pos">{i}</span>
            {showToken(t)}
          </button>
        );
      })}
    </div>
  );
}
