import { useEffect, useMemo } from 'react';
import { loadCleanLens } from '../state/analysisActions';
import { runLens, changedCells, type LensShow } from '../state/lensCompare';
import { visibleLayers } from '../state/runData';
import { set, useLoupe } from '../state/store';
import { LensCanvas } from './LensCanvas';
import { Panel } from './Panel';
import { RunBadge } from './RunBadge';

/** Props of the logit-lens tab. */
export interface LogitLensProps {
  rowHeight?: number;
}

const SHOW: { id: LensShow; label: string }[] = [
  { id: 'intervened', label: 'intervened run' },
  { id: 'clean', label: 'clean run' },
  { id: 'side', label: 'clean | intervened' },
  { id: 'diff', label: 'difference' },
];

/**
 * Logit lens: the top next-token guess per layer × position of the run. With interventions active it can
 * also show the clean run's lens (fetched once per prompt, only when asked: one more forward pass), both
 * side by side, or their difference.
 */
export function LogitLens({ rowHeight = 17 }: LogitLensProps) {
  const run = useLoupe((s) => s.run);
  const scrub = useLoupe((s) => s.scrub);
  const active = useLoupe((s) => s.interventions.filter((i) => i.enabled !== false).length);
  const cleanLens = useLoupe((s) => s.analysis.cleanLens);
  const busy = useLoupe((s) => s.analysis.busy === 'lens');
  const open = useLoupe((s) => s.conn === 'open');
  const show = useLoupe((s) => s.lensShow);
  const T = run?.strTokens.length ?? 0;
  const intervened = !!run && (run.status === 'running' ? active > 0 : run.intervened);
  const mode: LensShow = intervened ? show : 'intervened';
  const prompt = run?.prompt;
  useEffect(() => {
    if (mode !== 'intervened' && prompt && open) void loadCleanLens(prompt);
  }, [mode, prompt, open]);
  const table = useMemo(() => (run ? runLens(run) : null), [run]);
  const clean = cleanLens && cleanLens.prompt === prompt && cleanLens.table.top1[0]?.length === T ? cleanLens.table : null;
  const L = run?.nLayers ?? 0;
  const vis = run ? visibleLayers(run, scrub) : 0;
  const top5 = (l: number) => run?.layers[l]?.lensTop5;
  const changed = useMemo(() => (table && clean && mode === 'diff' ? changedCells(table, clean) : 0), [table, clean, mode]);

  const badge = mode === 'intervened' ? <RunBadge /> : (
    <span className={`run-badge ${mode === 'clean' ? 'clean' : 'iv'}`} data-testid="run-badge">
      {mode === 'clean' ? 'clean run' : mode === 'side' ? 'clean | intervened' : 'intervened − clean'}
    </span>
  );
  const picker = intervened ? (
    <select aria-label="Lens shown" data-testid="lens-show" value={mode} title="compare with the clean run (one more forward pass, only when asked)"
      onChange={(e) => set({ lensShow: e.target.value as LensShow })}>
      {SHOW.map((s) => <option key={s.id} value={s.id}>{s.label}</option>)}
    </select>
  ) : (
    <select aria-label="Lens shown" data-testid="lens-show" value="none" disabled title="no interventions active: the run shown is the clean run">
      <option value="none">nothing to compare</option>
    </select>
  );
  let body: React.ReactNode;
  if (!T || !table) body = <div className="empty">waiting for the first layer…</div>;
  else if (mode === 'intervened') body = <LensCanvas table={table} kind={intervened ? 'intervened' : 'clean'} visible={vis} top5={top5} rowHeight={rowHeight} />;
  else if (!clean) body = <div className="empty" data-testid="lens-clean-wait">{busy || open ? 'computing the clean run’s lens…' : 'not connected'}</div>;
  else if (mode === 'clean') body = <LensCanvas table={clean} kind="clean" visible={L} rowHeight={rowHeight} />;
  else if (mode === 'side') {
    body = (
      <div className="lens-pair">
        <div><div className="muted small-text">clean run</div><LensCanvas table={clean} kind="clean" visible={L} rowHeight={rowHeight} /></div>
        <div><div className="muted small-text">intervened run</div><LensCanvas table={table} kind="intervened" visible={vis} top5={top5} rowHeight={rowHeight} /></div>
      </div>
    );
  } else {
    body = (
      <>
        <div className="muted small-text" data-testid="lens-changed">the top token changed in {changed} of {L * T} cells</div>
        <LensCanvas table={table} clean={clean} kind="diff" visible={vis} rowHeight={rowHeight} />
      </>
    );
  }
  return (
    <Panel title="Logit lens" hint={<>{badge} top next-token guess per layer × position</>} actions={picker} testId="logit-lens" className="lens-panel">
      {body}
    </Panel>
  );
}
