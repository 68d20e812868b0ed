import { useState } from 'react';
import { selectHead } from '../state/actions';
import { loadComposition } from '../state/analysisActions';
import { COMP_KINDS, headLinks, type CompKind, type HeadPair } from '../state/composition';
import { useLoupe } from '../state/store';

const KIND_NAMES: Record<CompKind, string> = { q: 'Q-composition', k: 'K-composition', v: 'V-composition' };

function Pairs({ pairs, pick, testId }: { pairs: HeadPair[]; pick: 'src' | 'dst'; testId: string }) {
  if (!pairs.length) return <p className="muted small-text">none</p>;
  return (
    <div data-testid={testId}>
      {pairs.map((p) => {
        const [, l, h] = /L(\d+)H(\d+)/.exec(p[pick]) ?? [];
        return (
          <button type="button" key={`${p.src}-${p.dst}`} className="link-row" title={`select ${p[pick]}`} onClick={() => selectHead(Number(l), Number(h))}>
            <span className="tok">{p.src} → {p.dst}</span> <span className="num">{p.value.toFixed(3)}</span>
          </button>
        );
      })}
    </div>
  );
}

/**
 * Composition scores (Elhage et al. 2021): how strongly one head's output is read by a later head's
 * queries, keys or values, from the weights. The strongest pairs of the model, and the links into and
 * out of the selected head; click a head to select it.
 */
export function CompositionView() {
  const comp = useLoupe((s) => s.analysis.composition);
  const busy = useLoupe((s) => s.analysis.busy === 'composition');
  const open = useLoupe((s) => s.conn === 'open');
  const sel = useLoupe((s) => s.selected);
  const [kind, setKind] = useState<CompKind>('k');
  return (
    <div className="analysis-body" data-testid="composition-view">
      <div className="row">
        <select aria-label="Composition kind" value={kind} onChange={(e) => setKind(e.target.value as CompKind)}>
          {COMP_KINDS.map((k) => <option key={k} value={k}>{KIND_NAMES[k]}</option>)}
        </select>
        <span className="muted small-text grow">how much a head’s output is read by a later head’s Q / K / V: the normalized Frobenius norm of the weight product; once per server</span>
        {!comp && <button type="button" className="primary" disabled={!open || busy} onClick={() => void loadComposition()} data-testid="composition-run">{busy ? 'computing…' : 'compute'}</button>}
      </div>
      {comp && (
        <div className="role-cols">
          <div className="role-col">
            <div className="gen-title">strongest {kind.toUpperCase()} pairs</div>
            <Pairs pairs={comp.top[kind]} pick="dst" testId="composition-top" />
          </div>
          {sel && (
            <>
              <div className="role-col">
                <div className="gen-title">into L{sel.layer}H{sel.head}</div>
                <Pairs pairs={headLinks(comp, kind, sel.layer, sel.head, 'in')} pick="src" testId="composition-in" />
              </div>
              <div className="role-col">
                <div className="gen-title">out of L{sel.layer}H{sel.head}</div>
                <Pairs pairs={headLinks(comp, kind, sel.layer, sel.head, 'out')} pick="dst" testId="composition-out" />
              </div>
            </>
          )}
        </div>
      )}
    </div>
  );
}
