import { useEffect } from 'react';
import type { TokenPair } from '../state/analysis';
import { loadQkOv } from '../state/analysisActions';
import { useLoupe } from '../state/store';
import { showToken } from '../viz/scales';

/** Props of the QK/OV tables. */
export interface QkOvTablesProps {
  /** Rows per table. */
  rows?: number;
}

function Table({ title, pairs, arrow, testId }: { title: string; pairs: TokenPair[]; arrow: string; testId: string }) {
  return (
    <table className="pairs" data-testid={testId}>
      <caption>{title}</caption>
      <tbody>
        {pairs.map((p, i) => (
          <tr key={i}><td className="tok">{showToken(p.src)}</td><td className="muted">{arrow}</td><td className="tok">{showToken(p.dst)}</td><td className="num">{p.value >= 0 ? '+' : ''}{p.value.toFixed(2)}</td></tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * The selected head's circuits through the embeddings, over 2000 common words: OV (attending to
 * a token raises / lowers which logits) and QK (which query token attends to which key), with the
 * eigenvalue copying score. Reloads when the selected head changes.
 */
export function QkOvTables({ rows = 8 }: QkOvTablesProps) {
  const selected = useLoupe((s) => s.selected);
  const qkov = useLoupe((s) => s.analysis.qkov);
  const busy = useLoupe((s) => s.analysis.busy === 'qkov');
  const open = useLoupe((s) => s.conn === 'open');
  useEffect(() => {
    if (open && selected) void loadQkOv(selected.layer, selected.head);
  }, [open, selected]);

  return (
    <div className="analysis-body" data-testid="qkov-view">
      <div className="muted small-text">
        {selected ? `L${selected.layer}H${selected.head}` : 'select a head in the grid'}{busy ? ' · computing…' : ''}
        {qkov && ` · OV copying score ${qkov.copying >= 0 ? '+' : ''}${qkov.copying.toFixed(2)} (+1 copies, −1 suppresses) · own token in OV top-5: ${(100 * qkov.selfTop5).toFixed(1)}%`}
      </div>
      {qkov && (
        <div className="pair-cols">
          <Table title="OV: attending to → raises" pairs={qkov.ovTop.slice(0, rows)} arrow="→" testId="ov-top" />
          <Table title="OV: attending to → lowers" pairs={qkov.ovBottom.slice(0, rows)} arrow="→" testId="ov-bottom" />
          <Table title="QK: query attends to key" pairs={qkov.qkTop.slice(0, rows)} arrow="⇢" testId="qk-top" />
        </div>
      )}
    </div>
  );
}
