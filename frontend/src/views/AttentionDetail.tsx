import { useEffect, useMemo, useRef, useState } from 'react';
import { useLoupe } from '../state/store';
import { colLabelHeight, drawColLabels, drawLegend, drawRowLabels, labelWidth, measureCtx } from '../viz/axes';
import { ATTENTION_LUT } from '../viz/colour';
import { drawHeatmap, setupCanvas } from '../viz/heatmap';
import { bandIndexAt, bandScale, showToken } from '../viz/scales';
import { Panel } from './Panel';
import { AttentionText } from './AttentionText';
import { RunBadge } from './RunBadge';
import { Tooltip } from './Tooltip';
import { useSize } from './useSize';

/** Props of the enlarged head view. */
export interface AttentionDetailProps {
  /** Largest cell size in CSS px. */
  maxCell?: number;
}

/** The selected head's full T×T pattern (requested on demand), token labels, hover values. */
export function AttentionDetail({ maxCell = 30 }: AttentionDetailProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const { width } = useSize(wrap);
  const detail = useLoupe((s) => s.detail);
  const selected = useLoupe((s) => s.selected);
  const loading = useLoupe((s) => s.detailLoading);
  const focus = useLoupe((s) => s.focusPos);
  const status = useLoupe((s) => s.run?.status);
  const [hover, setHover] = useState<{ q: number; k: number; x: number; y: number } | null>(null);
  // A power scale (√) brightens the small weights a long prompt spreads attention into.
  const [sqrt, setSqrt] = useState(false);
  const shown = useMemo(() => (detail && sqrt ? detail.pattern.data.map((v) => Math.sqrt(Math.max(0, v))) : detail?.pattern.data), [detail, sqrt]);

  const geom = useMemo(() => {
    if (!detail || !width) return null;
    const T = detail.strTokens.length;
    const probe = measureCtx();
    const left = probe ? labelWidth(probe, detail.strTokens) : 80;
    const cell = Math.min(maxCell, Math.max(1, width - left - 8) / T);
    const top = probe ? colLabelHeight(probe, detail.strTokens, cell) : 80;
    const size = cell * T;
    return { T, left, top, size, x: bandScale(T, size), bottom: 28 };
  }, [detail, width, maxCell]);

  useEffect(() => {
    if (!geom || !detail || !shown || !canvas.current) return;
    const { T, left, top, size, x } = geom;
    const ctx = setupCanvas(canvas.current, left + size + 8, top + size + geom.bottom);
    ctx.clearRect(0, 0, left + size + 8, top + size + geom.bottom);
    ctx.fillStyle = '#0e1016';
    ctx.fillRect(left, top, size, size);
    drawHeatmap(ctx, shown, T, T, { x: left, y: top, w: size, h: size }, ATTENTION_LUT, [0, 1], { causal: true, maskWord: 0xff1a1510 });
    ctx.save();
    ctx.translate(0, top);
    drawRowLabels(ctx, detail.strTokens, x, left, left, focus);
    ctx.restore();
    ctx.save();
    ctx.translate(left, 0);
    drawColLabels(ctx, detail.strTokens, x, top, top, focus);
    ctx.restore();
    if (focus !== null && focus < T) {
      ctx.strokeStyle = 'rgba(255,212,121,0.9)';
      ctx.lineWidth = 1.5;
      ctx.strokeRect(left + 0.5, top + (x(focus) ?? 0) + 0.5, size - 1, x.bandwidth() - 1);
    }
    drawLegend(ctx, ATTENTION_LUT.css, left + 24, top + size + 10, 120, 8, '0', '1', sqrt ? 'attention, √ scale (0.25 is half-bright)' : 'attention');
  }, [geom, detail, shown, focus, sqrt]);

  const hint = selected ? <>L{selected.layer} H{selected.head} <RunBadge />{loading ? ' · loading…' : ''}</> : 'click a head in the grid';
  const waiting = status === 'cancelled' || status === 'error' ? 'the run was stopped before the end: press Run to see the pattern' : 'the full pattern loads when the pass is done…';
  const v = hover && detail ? detail.pattern.data[hover.q * geom!.T + hover.k] : 0;
  return (
    <Panel title="Head pattern" hint={hint} testId="attention-detail" className="detail-panel"
      actions={<select aria-label="Attention colour scale" value={sqrt ? 'sqrt' : 'linear'} onChange={(e) => setSqrt(e.target.value === 'sqrt')}
        title="√ brightens the small weights of long prompts">
        <option value="linear">linear</option>
        <option value="sqrt">√ scale</option>
      </select>}>
      <div ref={wrap} className="canvas-wrap">
        {!detail && <div className="empty">{selected ? waiting : 'Select a head to see its full pattern, query rows × key columns.'}</div>}
        <canvas
          ref={canvas}
          role="img"
          aria-label={detail ? `Attention pattern of layer ${detail.layer} head ${detail.head}` : 'No head selected'}
          style={{ display: detail ? 'block' : 'none' }}
          onMouseMove={(e) => {
            if (!geom) return;
            const px = e.nativeEvent.offsetX - geom.left;
            const py = e.nativeEvent.offsetY - geom.top;
            const q = bandIndexAt(geom.x, py);
            const k = bandIndexAt(geom.x, px);
            setHover(q >= 0 && k >= 0 ? { q, k, x: e.nativeEvent.offsetX, y: e.nativeEvent.offsetY } : null);
          }}
          onMouseLeave={() => setHover(null)}
        />
        {hover && detail && (
          <Tooltip x={hover.x} y={hover.y} testId="attention-hover">
            <b>{showToken(detail.strTokens[hover.q])}</b> → <b>{showToken(detail.strTokens[hover.k])}</b>: {hover.k > hover.q ? 'masked' : v.toFixed(3)}
          </Tooltip>
        )}
      </div>
      <AttentionText />
    </Panel>
  );
}
