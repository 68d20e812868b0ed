import { useEffect, useMemo, useRef, useState } from 'react';
import { selectHead } from '../state/actions';
import { topCells, type PatchMethod, type PatchOver, type PatchView } from '../state/analysis';
import { cancelPatch, runPatch } from '../state/analysisActions';
import { sweepDifference, sweepLabel } from '../state/sweeps';
import { set, useLoupe } from '../state/store';
import { DIVERGING_LUT } from '../viz/diverging';
import { colLabelHeight, drawColLabels, measureCtx } from '../viz/axes';
import { drawHeatmap, setupCanvas } from '../viz/heatmap';
import { bandIndexAt, bandScale, showToken } from '../viz/scales';
import { Legend } from './Legend';
import { Tooltip } from './Tooltip';
import { useSize } from './useSize';

/** Props of the patching heatmap. */
export interface PatchHeatmapProps {
  /** Colour domain is [-range, range] of the normalized effect (0 = clean behaviour, 1 = the corrupt prompt's), the same for every sweep. */
  range?: number;
  /** Height of a heatmap row in CSS px (every row is labelled). */
  rowHeight?: number;
}

const LEFT = 34;

/** Pick the kept sweep shown and the one compared with. */
function pickSweep(p: { shown?: number | null; compare?: number | null }): void {
  set((s) => ({ analysis: { ...s.analysis, ...p } }));
}

/** Column labels of a sweep: the prompt's tokens for a residual sweep, else the server's labels. */
function columnLabels(p: PatchView): string[] {
  return p.over === 'resid' && p.tokens.length === p.cols ? p.tokens : p.colLabels;
}

/**
 * Activation patching: the clean prompt (prompt box) vs a corrupt prompt of the same length,
 * metric = logit(answer) − logit(wrong). Rows (layers) fill in as the server streams them;
 * click a cell of the heads sweep to select that head. One fixed colour scale for every sweep.
 */
export function PatchHeatmap({ range = 1, rowHeight = 12 }: PatchHeatmapProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const { width } = useSize(wrap);
  const live = useLoupe((s) => s.analysis.patch);
  const sweeps = useLoupe((s) => s.analysis.sweeps);
  const shown = useLoupe((s) => s.analysis.shown);
  const compare = useLoupe((s) => s.analysis.compare);
  // The latest sweep, a kept one, or the difference of two kept ones.
  const base = shown !== null ? sweeps[shown]?.view ?? live : live;
  const diff = useMemo(() => (base && compare !== null && sweeps[compare] ? sweepDifference(base, sweeps[compare].view) : null), [base, compare, sweeps]);
  const patch = diff && typeof diff !== 'string' ? diff : base;
  const over = useLoupe((s) => s.analysis.over);
  const method = useLoupe((s) => s.analysis.method);
  const corrupt = useLoupe((s) => s.corruptPrompt);
  const answer = useLoupe((s) => s.answer);
  const wrong = useLoupe((s) => s.wrong);
  const open = useLoupe((s) => s.conn === 'open');
  const [hover, setHover] = useState<{ r: number; c: number; x: number; y: number } | null>(null);
  const running = patch?.status === 'running';
  const w = Math.max(120, width);
  const labels = useMemo(() => (patch ? columnLabels(patch) : []), [patch]);
  const x = useMemo(() => bandScale(labels.length || 1, w - LEFT - 4), [labels, w]);
  const top = useMemo(() => {
    const m = measureCtx();
    return patch && m ? colLabelHeight(m, labels, x.bandwidth(), 70) : 20;
  }, [patch, labels, x]);
  const h = patch ? top + patch.rows * rowHeight + 2 : 0;

  useEffect(() => {
    if (!patch || !canvas.current || width <= 0) return;
    const ctx = setupCanvas(canvas.current, w, h);
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = '#0e1118';
    ctx.fillRect(LEFT, top, w - LEFT - 4, patch.rows * rowHeight);
    drawHeatmap(ctx, patch.effect, patch.rowsDone, patch.cols, { x: LEFT, y: top, w: w - LEFT - 4, h: patch.rowsDone * rowHeight }, DIVERGING_LUT, [-range, range]);
    ctx.fillStyle = '#8b93a7';
    ctx.font = `${Math.min(10, rowHeight - 1)}px ui-monospace, monospace`;
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    for (let r = 0; r < patch.rows; r++) ctx.fillText(patch.rowLabels[r], LEFT - 3, top + (r + 0.5) * rowHeight);
    ctx.save();
    ctx.translate(LEFT, 0);
    drawColLabels(ctx, labels, x, top, top);
    ctx.restore();
    if (running && patch.rowsDone < patch.rows) {
      ctx.fillStyle = '#ffb454';
      ctx.fillRect(LEFT, top + patch.rowsDone * rowHeight, w - LEFT - 4, 1.5);
    }
  }, [patch, w, h, width, rowHeight, range, running, labels, x, top]);

  const best = useMemo(() => (patch ? (patch.top.length ? patch.top.slice(0, 6) : topCells(patch, 6)) : []), [patch]);
  const cell = (e: React.MouseEvent<HTMLCanvasElement>) => {
    if (!patch) return null;
    const r = Math.floor((e.nativeEvent.offsetY - top) / rowHeight);
    const c = bandIndexAt(x, e.nativeEvent.offsetX - LEFT);
    return r >= 0 && r < patch.rows && c >= 0 && c < patch.cols ? { r, c } : null;
  };

  return (
    <div className="analysis-body" data-testid="patch-view">
      <div className="row">
        <input className="grow" aria-label="Corrupt prompt" data-testid="corrupt-input" value={corrupt}
          title="Same number of tokens as the prompt; e.g. swap which name is repeated"
          onChange={(e) => set({ corruptPrompt: e.target.value })} />
      </div>
      <div className="row">
        <select aria-label="What to patch" value={over} onChange={(e) => set((s) => ({ analysis: { ...s.analysis, over: e.target.value as PatchOver } }))}>
          <option value="heads">heads (layer × head)</option>
          <option value="layers">layer outputs (attn / mlp)</option>
          <option value="resid">residual (layer × position)</option>
        </select>
        <select aria-label="Patching method" value={method} title="exact: one patched run per cell · estimate: attribution patching, the gradient's first-order estimate of every cell from one forward and one backward pass"
          onChange={(e) => set((s) => ({ analysis: { ...s.analysis, method: e.target.value as PatchMethod } }))}>
          <option value="exact">exact (activation patching)</option>
          <option value="attribution">estimate (attribution patching)</option>
        </select>
        <span className="muted small-text grow">metric: logit({JSON.stringify(answer)}) − logit({JSON.stringify(wrong)})</span>
        {running
          ? <button type="button" onClick={cancelPatch} data-testid="patch-cancel">cancel</button>
          : <button type="button" className="primary" disabled={!open} onClick={() => void runPatch()} data-testid="patch-run">run sweep</button>}
      </div>
      {sweeps.length > 1 && (
        <div className="row" data-testid="sweep-picker">
          <select aria-label="Sweep shown" value={shown ?? -1} onChange={(e) => pickSweep({ shown: Number(e.target.value) < 0 ? null : Number(e.target.value) })}>
            <option value={-1}>latest sweep</option>
            {sweeps.map((k, i) => <option key={k.view.id} value={i}>{sweepLabel(k, i)}</option>)}
          </select>
          <span className="muted small-text">−</span>
          <select aria-label="Compare with" value={compare ?? -1} onChange={(e) => pickSweep({ compare: Number(e.target.value) < 0 ? null : Number(e.target.value) })}>
            <option value={-1}>nothing (show it)</option>
            {sweeps.map((k, i) => <option key={k.view.id} value={i}>{sweepLabel(k, i)}</option>)}
          </select>
        </div>
      )}
      {typeof diff === 'string' && <div className="muted small-text" data-testid="sweep-diff-error">{diff}</div>}
      {patch && diff && typeof diff !== 'string' && (
        <div className="muted small-text" data-testid="patch-status" data-status="diff">
          difference, cell by cell: {sweepLabel(sweeps[shown ?? sweeps.length - 1] ?? sweeps[sweeps.length - 1], shown ?? sweeps.length - 1)} − {sweepLabel(sweeps[compare!], compare!)} (red = larger in the first)
        </div>
      )}
      {patch && !(diff && typeof diff !== 'string') && (
        <div className="muted small-text" data-testid="patch-status" data-rows={patch.rowsDone} data-status={patch.status}>
          {patch.status === 'running' ? `rows ${patch.rowsDone}/${patch.rows}…` : patch.status === 'done'
            ? `${patch.method === 'attribution' ? 'attribution estimate · ' : ''}${patch.rows}×${patch.cols} cells in ${((patch.ms ?? 0) / 1000).toFixed(1)} s · clean ${patch.cleanMetric?.toFixed(2)} · corrupt ${patch.corruptMetric?.toFixed(2)} · effect 0 = clean, 1 = corrupt`
            : patch.status === 'cancelled' ? `cancelled after ${patch.rowsDone} rows` : patch.error}
        </div>
      )}
      <div ref={wrap} className="canvas-wrap">
        {patch ? (
          <canvas ref={canvas} role="img" aria-label="Patching effects" data-testid="patch-canvas"
            onMouseMove={(e) => {
              const c = cell(e);
              setHover(c ? { ...c, x: e.nativeEvent.offsetX, y: e.nativeEvent.offsetY } : null);
            }}
            onMouseLeave={() => setHover(null)}
            onClick={(e) => {
              const c = cell(e);
              if (c && patch.over === 'heads') selectHead(c.r, c.c);
            }} />
        ) : (
          <p className="muted">Which components carry the difference between the two prompts? Run the sweep: each cell patches one component’s
            activation from the corrupt run into the clean run.</p>
        )}
        {hover && patch && (
          <Tooltip x={hover.x} y={hover.y} testId="patchheatmap-tip">
            <b>{patch.rowLabels[hover.r]} {patch.colLabels[hover.c]}{patch.over === 'resid' ? ` ${showToken(labels[hover.c] ?? '')}` : ''}</b>{' '}
            {hover.r < patch.rowsDone ? `effect ${patch.effect[hover.r * patch.cols + hover.c].toFixed(3)}` : 'pending'}
          </Tooltip>
        )}
      </div>
      {patch && <Legend css={DIVERGING_LUT.css} lo={`−${range}`} mid="0" hi={`+${range}`} title="effect: 0 = clean behaviour, 1 = the corrupt prompt’s (same scale for every sweep)" testId="patch-legend" />}
      {best.length > 0 && (
        <div className="chips" data-testid="patch-top">
          {best.map((t) => <span key={t.label} className={`chip ${t.value >= 0 ? 'pos' : 'neg'}`}>{t.label} {t.value.toFixed(2)}</span>)}
        </div>
      )}
    </div>
  );
}
