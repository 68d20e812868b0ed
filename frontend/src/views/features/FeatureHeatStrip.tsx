import { useEffect, useMemo, useRef, useState } from 'react';
import { openFeature } from '../../state/featureActions';
import { labelOf, stripFeatures, stripMatrix } from '../../state/features';
import { set, useLoupe } from '../../state/store';
import { colLabelHeight, drawColLabels, drawLegend, drawRowLabels, measureCtx } from '../../viz/axes';
import { makeLut } from '../../viz/colour';
import { drawHeatmap, setupCanvas } from '../../viz/heatmap';
import { bandIndexAt, bandScale, showToken } from '../../viz/scales';
import { Tooltip } from '../Tooltip';
import { useSize } from '../useSize';
import { featureInterp } from './colours';

/** Props of the features × tokens heat strip. */
export interface FeatureHeatStripProps {
  /** Rows (features) shown besides the pinned ones. */
  rows?: number;
  /** Row height in CSS px. */
  rowHeight?: number;
}

const LEFT = 58;
const LUT = makeLut(featureInterp);

/**
 * Activations of the chosen features (pinned ones, then the focused token's, or the prompt's
 * strongest) across every token of the prompt; drawn when the SAE's layer of the run arrives.
 * Click a cell to focus its token, a row label to open the feature's card.
 */
export function FeatureHeatStrip({ rows = 8, rowHeight = 16 }: FeatureHeatStripProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const { width } = useSize(wrap);
  const tf = useLoupe((s) => s.run?.features);
  const tokens = useLoupe((s) => s.run?.strTokens);
  const focus = useLoupe((s) => s.focusPos);
  const pinned = useLoupe((s) => s.features.pinned);
  const labels = useLoupe((s) => s.features.labels);
  const card = useLoupe((s) => s.features.card);
  const [hover, setHover] = useState<{ r: number; t: number; x: number; y: number } | null>(null);
  const feats = useMemo(() => (tf ? stripFeatures(tf, focus, pinned, rows) : []), [tf, focus, pinned, rows]);
  const matrix = useMemo(() => (tf ? stripMatrix(tf, feats) : null), [tf, feats]);
  const T = tf && tokens ? Math.min(tf.T, tokens.length) : 0;
  const geom = useMemo(() => {
    if (!width || !T || !tokens || !feats.length) return null;
    const w = Math.max(T * 2, Math.min(width - LEFT - 8, T * 80));
    const x = bandScale(T, w);
    const m = measureCtx();
    return { x, y: bandScale(feats.length, feats.length * rowHeight, 0.12), w, h: feats.length * rowHeight, top: m ? colLabelHeight(m, tokens, x.bandwidth()) : 70 };
  }, [width, T, tokens, feats.length, rowHeight]);
  const hi = useMemo(() => (matrix ? Math.max(1e-6, ...matrix) : 1), [matrix]);

  useEffect(() => {
    if (!geom || !matrix || !tokens || !canvas.current) return;
    const { top } = geom;
    const ctx = setupCanvas(canvas.current, LEFT + geom.w + 8, top + geom.h + 26);
    ctx.clearRect(0, 0, LEFT + geom.w + 8, top + geom.h + 26);
    for (let r = 0; r < feats.length; r++) {
      const y = top + (geom.y(r) ?? 0);
      drawHeatmap(ctx, matrix, 1, T, { x: LEFT, y, w: geom.w, h: geom.y.bandwidth() }, LUT, [0, hi], { offset: r * (tf?.T ?? T) });
    }
    ctx.save();
    ctx.translate(LEFT, 0);
    drawColLabels(ctx, tokens.slice(0, T), geom.x, top, top, focus);
    ctx.restore();
    ctx.save();
    ctx.translate(0, top);
    drawRowLabels(ctx, feats.map((f) => `#${f}`), geom.y, LEFT, LEFT, null, true);
    ctx.restore();
    if (focus !== null && focus < T) {
      ctx.strokeStyle = 'rgba(255,212,121,0.9)';
      ctx.strokeRect(LEFT + (geom.x(focus) ?? 0) + 0.5, top + 0.5, geom.x.bandwidth() - 1, geom.h - 1);
    }
    const open = card && card.sae === tf?.sae ? feats.indexOf(card.index) : -1;
    if (open >= 0) {
      ctx.strokeStyle = 'rgba(124,156,255,0.95)';
      ctx.strokeRect(LEFT - 0.5, top + (geom.y(open) ?? 0) - 0.5, geom.w + 1, geom.y.bandwidth() + 1);
    }
    drawLegend(ctx, LUT.css, LEFT + 30, top + geom.h + 10, 90, 8, '0', hi.toFixed(1), 'feature activation (top-k per token)');
  }, [geom, matrix, tokens, feats, focus, hi, T, tf, card]);

  const at = (e: React.MouseEvent) => {
    if (!geom) return null;
    const t = bandIndexAt(geom.x, e.nativeEvent.offsetX - LEFT);
    const r = bandIndexAt(geom.y, e.nativeEvent.offsetY - geom.top);
    return { t, r, x: e.nativeEvent.offsetX, y: e.nativeEvent.offsetY, inLabels: e.nativeEvent.offsetX < LEFT };
  };
  return (
    <div ref={wrap} className="canvas-wrap feature-strip" data-testid="feature-strip" data-rows={feats.length}>
      {!tf && <div className="empty">the heat strip fills in when the SAE’s layer of the run arrives…</div>}
      <canvas
        ref={canvas}
        role="img"
        aria-label="Feature activations per token"
        style={{ cursor: 'pointer' }}
        onMouseMove={(e) => {
          const p = at(e);
          setHover(p && p.r >= 0 && (p.t >= 0 || p.inLabels) ? { r: p.r, t: p.t, x: p.x, y: p.y } : null);
        }}
        onMouseLeave={() => setHover(null)}
        onClick={(e) => {
          const p = at(e);
          if (!p || p.r < 0 || !tf) return;
          if (p.inLabels) void openFeature({ sae: tf.sae, index: feats[p.r] });
          else if (p.t >= 0) set({ focusPos: p.t });
        }}
      />
      {hover && tf && matrix && tokens && (
        <Tooltip x={hover.x} y={hover.y}>
          <b>#{feats[hover.r]}</b> {labelOf(labels, { sae: tf.sae, index: feats[hover.r] })}
          {hover.t >= 0 ? <> · “{showToken(tokens[hover.t])}” = {matrix[hover.r * tf.T + hover.t].toFixed(2)}</> : <> · click to open its card</>}
        </Tooltip>
      )}
    </div>
  );
}
