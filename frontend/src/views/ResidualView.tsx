import { useEffect, useMemo, useRef } from 'react';
import { currentLayer, stackLayers, visibleLayers } from '../state/runData';
import { drawColLabels, drawLegend, drawRowLabels } from '../viz/axes';
import { NORM_LUT } from '../viz/colour';
import { drawHeatmap, setupCanvas } from '../viz/heatmap';
import { bandIndexAt, robustExtent, showToken } from '../viz/scales';
import { Panel } from './Panel';
import { RunBadge } from './RunBadge';
import { Tooltip } from './Tooltip';
import { GRID_LEFT } from './useLayerGrid';
import { useLayerGridView } from './useLayerGridView';

/** Props of the residual-norm heatmap. */
export interface ResidualViewProps {
  /** Row height in CSS px. */
  rowHeight?: number;
}

const LEFT = GRID_LEFT;

/** ‖resid_post‖ per layer (rows) × position (columns), log colour scale, filling in live. */
export function ResidualView({ rowHeight = 8 }: ResidualViewProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const { run, scrub, focus, hover, setHover, T, L, geom } = useLayerGridView(wrap, rowHeight);
  const norms = useMemo(() => (run && T ? stackLayers(run, (d) => d.residNorm) : null), [run, T]);

  useEffect(() => {
    if (!geom || !norms || !run || !canvas.current) return;
    const top = geom.top;
    const vis = visibleLayers(run, scrub);
    const logs = norms.map((v, i) => (Math.floor(i / T) < vis ? Math.log10(Math.max(v, 1e-6)) : NaN));
    const ext = robustExtent(logs.filter((_, i) => i % T !== 0 || T === 1), 0.0);
    const ctx = setupCanvas(canvas.current, LEFT + geom.w + 8, top + geom.h + 26);
    ctx.clearRect(0, 0, LEFT + geom.w + 8, top + geom.h + 26);
    ctx.fillStyle = '#161a23';
    ctx.fillRect(LEFT, top, geom.w, geom.h);
    if (vis > 0) drawHeatmap(ctx, logs, vis, T, { x: LEFT, y: top, w: geom.w, h: vis * rowHeight }, NORM_LUT, ext);
    ctx.save();
    ctx.translate(LEFT, 0);
    drawColLabels(ctx, run.strTokens, geom.x, top, top, focus);
    ctx.restore();
    ctx.save();
    ctx.translate(0, top);
    drawRowLabels(ctx, Array.from({ length: L }, (_, l) => `L${l}`), geom.y, LEFT, LEFT, currentLayer(run, scrub), true);
    ctx.restore();
    if (focus !== null && focus < T) {
      ctx.strokeStyle = 'rgba(255,212,121,0.9)';
      ctx.strokeRect(LEFT + (geom.x(focus) ?? 0) + 0.5, top + 0.5, geom.x.bandwidth() - 1, geom.h - 1);
    }
    drawLegend(ctx, NORM_LUT.css, LEFT + 30, top + geom.h + 10, 90, 8, (10 ** ext[0]).toFixed(0), (10 ** ext[1]).toFixed(0), '‖resid‖, log scale (pos 0 off-scale)');
  }, [geom, norms, run, scrub, focus, T, L, rowHeight]);

  return (
    <Panel title="Residual stream" hint={<><RunBadge /> L2 norm of resid_post, layer × token</>} testId="residual-view" className="resid-panel">
      <div ref={wrap} className="canvas-wrap">
        {!T && <div className="empty">waiting for the first layer…</div>}
        <canvas
          ref={canvas}
          role="img"
          aria-label="Residual stream norm per layer and position"
          onMouseMove={(e) => {
            if (!geom) return;
            const p = bandIndexAt(geom.x, e.nativeEvent.offsetX - LEFT);
            const l = bandIndexAt(geom.y, e.nativeEvent.offsetY - geom.top);
            setHover(p >= 0 && l >= 0 ? { l, p, x: e.nativeEvent.offsetX, y: e.nativeEvent.offsetY } : null);
          }}
          onMouseLeave={() => setHover(null)}
        />
        {hover && norms && run && Number.isFinite(norms[hover.l * T + hover.p]) && (
          <Tooltip x={hover.x} y={hover.y} testId="residualview-tip">
            L{hover.l} · <b>{showToken(run.strTokens[hover.p])}</b> · ‖x‖ = {norms[hover.l * T + hover.p].toFixed(1)}
          </Tooltip>
        )}
      </div>
    </Panel>
  );
}
