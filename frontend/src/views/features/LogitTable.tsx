import type { TokenLogit } from '../../api/wire';
import { showToken } from '../../viz/scales';

/** Props of a promoted / suppressed tokens table. */
export interface LogitTableProps {
  title: string;
  rows: TokenLogit[];
  /** Bar colour: promoted tokens green, suppressed red. */
  tone: 'up' | 'down';
  testId: string;
}

/** Tokens whose logits the feature's decoder direction raises (or lowers) most, with the logit value. */
export function LogitTable({ title, rows, tone, testId }: LogitTableProps) {
  const max = Math.max(1e-9, ...rows.map((r) => Math.abs(r.logit)));
  return (
    <div className="flogits" data-testid={testId}>
      <div className="fcard-title">{title}</div>
      {rows.length === 0 && <div className="muted">—</div>}
      {rows.map((r, i) => (
        <div key={i} className="flogit-row">
          <span className="tok">{showToken(r.token)}</span>
          <span className={`fbar-track ${tone}`}><span style={{ width: `${(100 * Math.abs(r.logit)) / max}%` }} /></span>
          <span className={`num ${tone}`}>{r.logit >= 0 ? '+' : ''}{r.logit.toFixed(2)}</span>
        </div>
      ))}
    </div>
  );
}
