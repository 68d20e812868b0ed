import { useEffect, useRef, useState } from 'react';
import { currentLayer, visibleLayers } from '../state/runData';
import { useLoupe } from '../state/store';
import { drawColLabels, drawLegend, drawRowLabels, fitCell } from '../viz/axes';
import { PROB_LUT, lutIndex, textOn } from '../viz/colour';
import { setupCanvas } from '../viz/heatmap';
import { bandIndexAt, fmtProb, showToken } from '../viz/scales';
import { Panel } from './Panel';
import { RunBadge } from './RunBadge';
import { Tooltip } from './Tooltip';
import { GRID_LEFT, useLayerGrid } from './useLayerGrid';
import { useSize } from './useSize';

/** Props of the logit-lens table. */
export interface LogitLensProps {
  rowHeight?: number;
}

const LEFT = GRID_LEFT;
const LENS_PADDING = { x: 0.06, y: 0.12 };
/** Narrowest lens column (px): enough for a short token; long prompts scroll sideways. */
const MIN_CELL = 44;

/**
 * Logit lens: at each layer (row) and position (column) the most likely next token if the
 * residual stream were decoded there, shaded by its probability. Green outline: it equals the
 * actual next token of the prompt.
 */
export function LogitLens({ rowHeight = 17 }: LogitLensProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const { width } = useSize(wrap);
  const run = useLoupe((s) => s.run);
  const strTokens = run?.strTokens;
  const scrub = useLoupe((s) => s.scrub);
  const focus = useLoupe((s) => s.focusPos);
  const [hover, setHover] = useState<{ l: number; p: number; x: number; y: number } | null>(null);
  const T = run?.strTokens.length ?? 0;
  const L = run?.nLayers ?? 0;
  const geom = useLayerGrid(width, strTokens, L, rowHeight, LENS_PADDING, MIN_CELL);

  useEffect(() => {
    if (!geom || !run || !canvas.current) return;
    const TOP = geom.top;
    const vis = visibleLayers(run, scrub);
    const H = TOP + geom.h + 26;
    const ctx = setupCanvas(canvas.current, LEFT + geom.w + 8, H);
    ctx.clearRect(0, 0, LEFT + geom.w + 8, H);
    const bw = geom.x.bandwidth();
    const bh = geom.y.bandwidth();
    ctx.font = `${Math.min(11, bh - 4)}px ui-monospace, SFMono-Regular, Menlo, monospace`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    const cut = new Set<string>();
    for (let l = 0; l < L; l++) {
      const d = run.layers[l];
      const y = TOP + (geom.y(l) ?? 0);
      for (let p = 0; p < T; p++) {
        const x = LEFT + (geom.x(p) ?? 0);
        if (l >= vis || !d?.lensTop1 || !d.lensProb) {
          ctx.fillStyle = '#161a23';
          ctx.fillRect(x, y, bw, bh);
          continue;
        }
        const prob = d.lensProb[p];
        const i = lutIndex(prob, 0, 1);
        ctx.fillStyle = PROB_LUT.css[i];
        ctx.fillRect(x, y, bw, bh);
        if (p + 1 < T && d.lensTop1[p] === run.strTokens[p + 1]) {
          ctx.strokeStyle = '#4fd1a5';
          ctx.lineWidth = 1;
          ctx.strokeRect(x + 0.5, y + 0.5, bw - 1, bh - 1);
        }
        if (bw >= 18) {
          ctx.fillStyle = textOn(i);
          const s = fitCell(ctx, d.lensTop1[p], bw - 4);
          if (s.endsWith('…')) cut.add(s);
          ctx.fillText(s, x + bw / 2, y + bh / 2 + 0.5);
        }
      }
    }
    ctx.save();
    ctx.translate(LEFT, 0);
    drawColLabels(ctx, run.strTokens, geom.x, TOP, TOP, focus);
    ctx.restore();
    const cur = currentLayer(run, scrub);
    ctx.save();
    ctx.translate(0, TOP);
    drawRowLabels(ctx, Array.from({ length: L }, (_, l) => `L${l}`), geom.y, LEFT, LEFT, cur, true);
    ctx.restore();
    if (cur >= 0 && run.status !== 'running') {
      ctx.strokeStyle = 'rgba(255,212,121,0.85)';
      ctx.lineWidth = 1;
      ctx.strokeRect(LEFT - 1.5, TOP + (geom.y(cur) ?? 0) - 1.5, geom.w + 3, bh + 3);
    }
    if (focus !== null && focus < T) {
      ctx.strokeStyle = 'rgba(255,212,121,0.9)';
      ctx.strokeRect(LEFT + (geom.x(focus) ?? 0) - 1.5, TOP - 1.5, bw + 3, geom.h + 3);
    }
    canvas.current.dataset.cut = [...cut].join('\u001f'); // the labels cut to fit (e2e checks they read cleanly)
    drawLegend(ctx, PROB_LUT.css, LEFT + 30, TOP + geom.h + 10, 110, 8, '0', '1', 'p(top token)   ▢ green = the actual next token');
  }, [geom, run, scrub, focus, T, L]);

  const hd = hover && run?.layers[hover.l];
  return (
    <Panel title="Logit lens" hint={<><RunBadge /> top next-token guess per layer × position</>} testId="logit-lens" className="lens-panel">
      <div ref={wrap} className="canvas-wrap">
        {!T && <div className="empty">waiting for the first layer…</div>}
        <canvas
          ref={canvas}
          role="img"
          aria-label="Logit lens: top token per layer and position"
          onMouseMove={(e) => {
            if (!geom) return;
            const p = bandIndexAt(geom.x, e.nativeEvent.offsetX - LEFT);
            const l = bandIndexAt(geom.y, e.nativeEvent.offsetY - geom.top);
            setHover(p >= 0 && l >= 0 ? { l, p, x: e.nativeEvent.offsetX, y: e.nativeEvent.offsetY } : null);
          }}
          onMouseLeave={() => setHover(null)}
        />
        {hover && hd && hd.lensTop1 && hd.lensProb && run && (
          <Tooltip x={hover.x} y={hover.y} testId="logitlens-tip">
            L{hover.l} after <b>{showToken(run.strTokens[hover.p])}</b>: <b>{showToken(hd.lensTop1[hover.p])}</b> {fmtProb(hd.lensProb[hover.p])}
            {hover.p === T - 1 && hd.lensTop5 && (
              <div className="muted">{hd.lensTop5.map((t) => `${showToken(t.str)} ${fmtProb(t.prob)}`).join('  ')}</div>
            )}
          </Tooltip>
        )}
      </div>
    </Panel>
  );
}
