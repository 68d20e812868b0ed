import { scaleLinear } from 'd3';
import { useEffect, useMemo, useRef, useState } from 'react';
import { selectHead } from '../state/actions';
import { runDla } from '../state/analysisActions';
import { useLoupe } from '../state/store';
import { setupCanvas } from '../viz/heatmap';
import { showToken } from '../viz/scales';
import { useSize } from './useSize';

/** Props of the direct-logit-attribution chart. */
export interface DlaChartProps {
  /** Height of one bar in CSS px. */
  barHeight?: number;
}

const LABEL_W = 64;

/**
 * Direct logit attribution: each head's, MLP's and the embeddings' direct contribution to
 * logit(answer) − logit(wrong) at the last position or a chosen one (final-norm scale frozen), largest first.
 */
export function DlaChart({ barHeight = 15 }: DlaChartProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const { width } = useSize(wrap);
  const dla = useLoupe((s) => s.analysis.dla);
  const busy = useLoupe((s) => s.analysis.busy === 'dla');
  const open = useLoupe((s) => s.conn === 'open');
  const answer = useLoupe((s) => s.answer);
  const wrong = useLoupe((s) => s.wrong);
  const selected = useLoupe((s) => s.selected);
  const runTokens = useLoupe((s) => s.run?.strTokens);
  const [count, setCount] = useState(14);
  /** The position attributed: −1 = the last token (the next-token prediction), else a token of the run. */
  const [at, setAt] = useState(-1);
  const choices = runTokens ?? dla?.tokens ?? [];
  const bars = useMemo(() => (dla ? dla.bars.slice(0, count) : []), [dla, count]);

  useEffect(() => {
    if (!dla || !canvas.current || width <= 0) return;
    const h = bars.length * barHeight + 4;
    const ctx = setupCanvas(canvas.current, width, h);
    ctx.clearRect(0, 0, width, h);
    const m = Math.max(1e-6, ...bars.map((b) => Math.abs(b.value)));
    const x = scaleLinear().domain([-m, m]).range([LABEL_W, width - 40]);
    ctx.font = '10px ui-monospace, monospace';
    ctx.textBaseline = 'middle';
    const sel = selected && `L${selected.layer}H${selected.head}`;
    bars.forEach((b, i) => {
      const y = 2 + i * barHeight;
      if (b.label === sel) {
        ctx.fillStyle = 'rgba(255,212,121,0.12)';
        ctx.fillRect(0, y, width, barHeight);
      }
      ctx.fillStyle = b.value >= 0 ? (b.kind === 'mlp' ? '#e0826f' : '#d9577a') : (b.kind === 'mlp' ? '#7fb0e8' : '#4f8fe0');
      const x0 = x(Math.min(0, b.value));
      ctx.fillRect(x0, y + 2, Math.max(1, Math.abs(x(b.value) - x(0))), barHeight - 4);
      ctx.fillStyle = '#c9d1e0';
      ctx.textAlign = 'right';
      ctx.fillText(b.label, LABEL_W - 6, y + barHeight / 2);
      ctx.textAlign = b.value >= 0 ? 'left' : 'right';
      ctx.fillStyle = '#8b93a7';
      ctx.fillText(`${b.value >= 0 ? '+' : ''}${b.value.toFixed(2)}`, b.value >= 0 ? x(b.value) + 4 : x(b.value) - 4, y + barHeight / 2);
    });
    ctx.strokeStyle = '#3a4152';
    ctx.beginPath();
    ctx.moveTo(x(0) + 0.5, 0);
    ctx.lineTo(x(0) + 0.5, h);
    ctx.stroke();
  }, [dla, bars, width, barHeight, selected]);

  /** Click a head's bar to select that head. */
  const pick = (e: React.MouseEvent<HTMLCanvasElement>) => {
    const b = bars[Math.floor((e.nativeEvent.offsetY - 2) / barHeight)];
    const m = b && /^L(\d+)H(\d+)$/.exec(b.label);
    if (m) selectHead(Number(m[1]), Number(m[2]));
  };

  return (
    <div className="analysis-body" data-testid="dla-view">
      <div className="row">
        <span className="muted small-text grow">direct effect on logit({JSON.stringify(answer)}) − logit({JSON.stringify(wrong)}) predicted after the token{' '}
          <select aria-label="Attribute at position" value={at} data-testid="dla-position" disabled={!open || busy}
            onChange={(e) => {
              const p = Number(e.target.value);
              setAt(p);
              if (dla) void runDla(p); // bars already shown: attribute at the new position at once
            }}>
            <option value={-1}>last</option>
            {choices.map((t, i) => <option key={i} value={i}>{i}: {showToken(t)}</option>)}
          </select>, per head / MLP / embedding</span>
        <button type="button" className="primary" disabled={!open || busy} onClick={() => void runDla(at)} data-testid="dla-run">{busy ? 'attributing…' : 'attribute'}</button>
      </div>
      {dla && (
        <div className="muted small-text" data-testid="dla-total">
          at {dla.position}: <b data-testid="dla-at">{showToken(dla.tokens[dla.position] ?? '')}</b> · components sum to {dla.total >= 0 ? '+' : ''}{dla.total.toFixed(2)} (the run: {dla.actual >= 0 ? '+' : ''}{dla.actual.toFixed(2)}) · largest{' '}
          <select aria-label="Bars shown" value={count} onChange={(e) => setCount(Number(e.target.value))}>
            {[14, 40, dla.bars.length].map((n) => <option key={n} value={n}>{n === dla.bars.length ? `all ${n}` : n}</option>)}
          </select>{' '}
          of {dla.bars.length} · click a head’s bar to select it
        </div>
      )}
      <div ref={wrap} className="canvas-wrap">
        {dla ? <canvas ref={canvas} role="img" aria-label="Direct logit attribution" data-testid="dla-canvas" style={{ cursor: 'pointer' }} onClick={pick} /> : <p className="muted">Which components write the answer directly? Press attribute.</p>}
      </div>
    </div>
  );
}
