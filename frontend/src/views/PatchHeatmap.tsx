import { useEffect, useMemo, useRef, useState } from 'react';
import { selectHead } from '../state/actions';
import { topCells, type PatchOver } from '../state/analysis';
import { cancelPatch, runPatch } from '../state/analysisActions';
import { set, useLoupe } from '../state/store';
import { DIVERGING_LUT } from '../viz/diverging';
import { drawHeatmap, setupCanvas } from '../viz/heatmap';
import { tipStyle } from './tip';
import { useSize } from './useSize';

/** Props of the patching heatmap. */
export interface PatchHeatmapProps {
  /** Colour domain is [-range, range] of the normalized effect (1 = the corrupt prompt's behaviour); default: the largest |effect| so far. */
  range?: number;
  /** Height of a heatmap row in CSS px. */
  rowHeight?: number;
}

const LEFT = 34;
const TOP = 16;

/**
 * Activation patching: the clean prompt (prompt box) vs a corrupt prompt of the same length,
 * metric = logit(answer) − logit(wrong). Rows (layers) fill in as the server streams them;
 * click a cell of the heads sweep to select that head.
 */
export function PatchHeatmap({ range, rowHeight = 9 }: PatchHeatmapProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const { width } = useSize(wrap);
  const patch = useLoupe((s) => s.analysis.patch);
  const over = useLoupe((s) => s.analysis.over);
  const corrupt = useLoupe((s) => s.corruptPrompt);
  const answer = useLoupe((s) => s.answer);
  const wrong = useLoupe((s) => s.wrong);
  const open = useLoupe((s) => s.conn === 'open');
  const [hover, setHover] = useState<{ r: number; c: number; x: number; y: number } | null>(null);
  const running = patch?.status === 'running';
  const w = Math.max(120, width);
  const h = patch ? TOP + patch.rows * rowHeight + 2 : 0;
  const cellW = patch ? (w - LEFT - 4) / patch.cols : 0;

  useEffect(() => {
    if (!patch || !canvas.current || width <= 0) return;
    const ctx = setupCanvas(canvas.current, w, h);
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = '#0e1118';
    ctx.fillRect(LEFT, TOP, w - LEFT - 4, patch.rows * rowHeight);
    let m = range ?? 0.1;
    if (range === undefined) for (let i = 0; i < patch.rowsDone * patch.cols; i++) m = Math.max(m, Math.abs(patch.effect[i]) || 0);
    drawHeatmap(ctx, patch.effect, patch.rowsDone, patch.cols, { x: LEFT, y: TOP, w: w - LEFT - 4, h: patch.rowsDone * rowHeight }, DIVERGING_LUT, [-m, m]);
    ctx.fillStyle = '#8b93a7';
    ctx.font = '9px ui-monospace, monospace';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    const every = Math.max(1, Math.ceil(11 / rowHeight));
    for (let r = 0; r < patch.rows; r += every) ctx.fillText(patch.rowLabels[r], LEFT - 3, TOP + (r + 0.5) * rowHeight);
    ctx.textAlign = 'center';
    const cEvery = Math.max(1, Math.ceil(34 / cellW));
    for (let c = 0; c < patch.cols; c += cEvery) ctx.fillText(patch.colLabels[c].replace('pos ', ''), LEFT + (c + 0.5) * cellW, TOP / 2);
    if (running && patch.rowsDone < patch.rows) {
      ctx.fillStyle = '#ffb454';
      ctx.fillRect(LEFT, TOP + patch.rowsDone * rowHeight, w - LEFT - 4, 1.5);
    }
  }, [patch, w, h, width, rowHeight, range, cellW, running]);

  const top = useMemo(() => (patch ? (patch.top.length ? patch.top.slice(0, 6) : topCells(patch, 6)) : []), [patch]);
  const cell = (e: React.MouseEvent<HTMLCanvasElement>) => {
    if (!patch) return null;
    const r = Math.floor((e.nativeEvent.offsetY - TOP) / rowHeight);
    const c = Math.floor((e.nativeEvent.offsetX - LEFT) / cellW);
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
        <span className="muted small-text grow">metric: logit({JSON.stringify(answer)}) − logit({JSON.stringify(wrong)})</span>
        {running
          ? <button type="button" onClick={cancelPatch} data-testid="patch-cancel">cancel</button>
          : <button type="button" className="primary" disabled={!open} onClick={() => void runPatch()} data-testid="patch-run">run sweep</button>}
      </div>
      {patch && (
        <div className="muted small-text" data-testid="patch-status" data-rows={patch.rowsDone} data-status={patch.status}>
          {patch.status === 'running' ? `rows ${patch.rowsDone}/${patch.rows}…` : patch.status === 'done'
            ? `${patch.rows}×${patch.cols} cells in ${((patch.ms ?? 0) / 1000).toFixed(1)} s · clean ${patch.cleanMetric?.toFixed(2)} · corrupt ${patch.corruptMetric?.toFixed(2)} · effect 0 = clean, 1 = corrupt`
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
          <div className="tooltip" style={tipStyle(hover.x, hover.y, w)}>
            <b>{patch.rowLabels[hover.r]} {patch.colLabels[hover.c]}</b>{' '}
            {hover.r < patch.rowsDone ? `effect ${patch.effect[hover.r * patch.cols + hover.c].toFixed(3)}` : 'pending'}
          </div>
        )}
      </div>
      {top.length > 0 && (
        <div className="chips" data-testid="patch-top">
          {top.map((t) => <span key={t.label} className={`chip ${t.value >= 0 ? 'pos' : 'neg'}`}>{t.label} {t.value.toFixed(2)}</span>)}
        </div>
      )}
    </div>
  );
}
