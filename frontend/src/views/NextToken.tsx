import type { KeyboardEvent } from 'react';
import type { Pred } from '../api/wire';
import { rerun } from '../state/actions';
import { answerRefused, set, useLoupe } from '../state/store';
import { fmtProb, fmtSigned, showToken } from '../viz/scales';
import { Panel } from './Panel';

/** Props of the prediction comparison. */
export interface NextTokenProps {
  /** How many of the top-k rows to list. */
  rows?: number;
}

function PredList({ preds, title, testId, other }: { preds: Pred[]; title: string; testId: string; other?: Pred[] }) {
  const max = Math.max(1e-9, ...preds.map((p) => p.prob));
  return (
    <div className="predlist" data-testid={testId}>
      <div className="predlist-title">{title}</div>
      {preds.length === 0 && <div className="muted">—</div>}
      {preds.map((p) => {
        const before = other?.find((o) => o.token === p.token)?.prob;
        const delta = before === undefined ? null : p.prob - before;
        return (
          <div key={p.token} className="pred" title={`id ${p.token} · logit ${p.logit.toFixed(2)}`}>
            <span className="tok">{showToken(p.str)}</span>
            <span className="bar"><span style={{ width: `${(100 * p.prob) / max}%` }} /></span>
            <span className="num">{fmtProb(p.prob)}</span>
            {other && <span className={`delta ${delta === null ? 'new' : delta > 0.005 ? 'up' : delta < -0.005 ? 'down' : ''}`}>{delta === null ? 'new' : Math.abs(delta) < 0.005 ? '' : fmtSigned(delta)}</span>}
          </div>
        );
      })}
    </div>
  );
}

/** Next-token predictions, clean vs intervened side by side, and the answer−wrong logit difference. */
export function NextToken({ rows = 6 }: NextTokenProps) {
  const run = useLoupe((s) => s.run);
  const answer = useLoupe((s) => s.answer);
  const wrong = useLoupe((s) => s.wrong);
  const active = useLoupe((s) => s.interventions.some((i) => i.enabled !== false));
  const refused = useLoupe(answerRefused);
  const ld = run?.logitDiff;
  const stale = run?.status === 'running';
  // The answer/wrong pair the shown logit difference was computed for.
  const rerunIfChanged = () => {
    if ((!ld || ld.answer !== answer || ld.wrong !== wrong) && !refused) rerun();
  };
  // Two text boxes and no submit button: a form does not submit on Enter by itself.
  const onEnter = (e: KeyboardEvent) => {
    if (e.key === 'Enter') rerun();
  };
  return (
    <Panel title="Next token" hint={stale ? 'updating…' : run?.intervened ? 'clean vs intervened' : 'no interventions active'} testId="prediction" className="pred-panel">
      <div className={`predcols${stale ? ' stale' : ''}`}>
        <PredList preds={(run?.clean ?? []).slice(0, rows)} title="clean" testId="top-clean" />
        <PredList preds={(run?.intervened ? run.topK : active ? run?.topK ?? [] : []).slice(0, rows)} title="intervened" testId="top-intervened" other={run?.intervened ? run.clean : undefined} />
      </div>
      <form className="logitdiff" data-testid="logit-diff" onSubmit={(e) => { e.preventDefault(); rerun(); }}>
        <span className="muted">logit(</span>
        <input aria-label="Answer token" value={answer} onChange={(e) => set({ answer: e.target.value })} onBlur={rerunIfChanged} onKeyDown={onEnter} />
        <span className="muted">) − logit(</span>
        <input aria-label="Wrong token" value={wrong} onChange={(e) => set({ wrong: e.target.value })} onBlur={rerunIfChanged} onKeyDown={onEnter} />
        <span className="muted">)</span>
        {!answer.trim() || !wrong.trim() ? (
          <div className="ld-values muted" data-testid="logit-diff-missing">type a token in both boxes to see logit(answer) − logit(wrong)</div>
        ) : refused ? (
          <div className="ld-values ld-refused" role="alert" data-testid="logit-diff-refused">
            {refused.replace(/^run\.(answer|wrong): /, (_, f: string) => `${f === 'answer' ? 'answer' : 'wrong answer'}: `)} — the logit difference compares single next tokens
          </div>
        ) : ld && (ld.answer !== answer || ld.wrong !== wrong) ? (
          <div className="ld-values muted" data-testid="logit-diff-stale">press Enter to compute it for these tokens</div>
        ) : ld && (
          <div className="ld-values">
            <span>clean <b>{fmtSigned(ld.clean)}</b></span>
            <span>intervened <b data-testid="logit-diff-value">{fmtSigned(ld.value)}</b></span>
            <span className={ld.value - ld.clean < 0 ? 'down' : 'up'}>Δ {fmtSigned(ld.value - ld.clean)}</span>
            <span className="muted ld-tokens" data-testid="logit-diff-tokens">tokens {ld.answer_token} “{showToken(ld.answer)}” − {ld.wrong_token} “{showToken(ld.wrong)}”</span>
          </div>
        )}
      </form>
    </Panel>
  );
}
