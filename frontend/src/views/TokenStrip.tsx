import { showToken } from '../viz/scales';
import { set, useLoupe } from '../state/store';
import type { TokenGroup } from '../state/tokenText';
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

/**
 * The prompt's tokens as chips; click one to focus the views on it (click again to unfocus). A character
 * split into byte-level tokens (☕ is three) is one chip spanning them; clicking it focuses the last.
 */
export function TokenStrip({ tokens: given, values, label = 'tokens' }: TokenStripProps) {
  const runTokens = useLoupe((s) => s.run?.strTokens ?? NO_TOKENS);
  const runGroups = useLoupe((s) => s.run?.groups);
  const focus = useLoupe((s) => s.focusPos);
  const tokens = given ?? runTokens;
  const groups: TokenGroup[] = given === undefined && runGroups ? runGroups : tokens.map((text, i) => ({ start: i, end: i + 1, text }));
  let range = 0;
  for (let i = 0; values && i < values.length; i++) range = Math.max(range, Math.abs(values[i]));
  return (
    <div className="token-strip" data-testid="token-strip" role="listbox" aria-label={label}>
      <span className="label">{label}</span>
      {tokens.length === 0 && <span className="muted">—</span>}
      {groups.map(({ start, end, text }) => {
        const last = end - 1;
        const on = focus !== null && focus >= start && focus <= last;
        const v = end - start === 1 ? values?.[start] : undefined;
        const c = v === undefined ? -1 : lutIndex(v, -range, range);
        const style = c < 0 ? undefined : { background: DIVERGING_LUT.css[c], color: textOn(Math.abs(c - 128) * 2) };
        const merged = end - start > 1;
        return (
          <button
            key={start}
            type="button"
            role="option"
            aria-selected={on}
            className={`chip${on ? ' on' : ''}${merged ? ' merged' : ''}`}
            data-testid={merged ? 'chip-merged' : undefined}
            style={style}
            title={merged
              ? `positions ${start}–${last}: “${text}” is ${end - start} byte-level tokens (click focuses the last)`
              : `position ${start}${v === undefined ? '' : ` · ${v.toPrecision(4)}`}`}
            onClick={() => set({ focusPos: focus === last ? null : last })}
          >
            <span className="pos">{merged ? `${start}–${last}` : start}</span>
            {showToken(text)}
          </button>
        );
      })}
    </div>
  );
}
