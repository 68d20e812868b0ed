import { useEffect, useRef } from 'react';
import { currentLayer } from '../state/runData';
import { diffCell, type LensTable } from '../state/lensCompare';
import { drawColLabels, drawLegend, drawRowLabels, fitCell } from '../viz/axes';
import { PROB_LUT, lutIndex, textOn } from '../viz/colour';
import { DIVERGING_LUT } from '../viz/diverging';
import { setupCanvas } from '../viz/heatmap';
import { bandIndexAt, fmtProb, fmtSigned, showToken } from '../viz/scales';
import { Tooltip } from './Tooltip';
import { GRID_LEFT } from './useLayerGrid';
import { useLayerGridView } from './useLayerGridView';

/** Props of one lens table on a canvas. */
export interface LensCanvasProps {
  /** The table drawn: the run's or the clean run's; with `clean`, the intervened one of a difference. */
  table: LensTable;
  /** Draw the difference `table` − `clean` instead of `table`. */
  clean?: LensTable;
  /** Which run the canvas shows (its `data-run`, and the tooltip's words). */
  kind: 'intervened' | 'clean' | 'diff';
  /** Layers drawn (the rest are placeholders while the run streams). */
  visible: number;
  /** Top-5 at the last position of a layer, for the tooltip (the run's own table only). */
  top5?: (layer: number) => { str: string; prob: number }[] | undefined;
  rowHeight?: number;
}

const LEFT = GRID_LEFT;
const LENS_PADDING = { x: 0.06, y: 0.12 };
/** Narrowest lens column (px): enough for a short token; long prompts scroll sideways. */
const MIN_CELL = 44;
const CHANGED = '#ffb454';

/**
 * One logit-lens table: at each layer (row) and position (column) the most likely next token if the residual
 * stream were decoded there, shaded by its probability (green outline: the actual next token); or, with
 * `clean`, the intervened minus the clean probability on a diverging scale (orange outline: the top token changed).
 */
export function LensCanvas({ table, clean, kind, visible, top5, rowHeight = 17 }: LensCanvasProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const { run, scrub, focus, hover, setHover, T, L, geom } = useLayerGridView(wrap, rowHeight, LENS_PADDING, MIN_CELL);

  useEffect(() => {
    if (!geom || !run || !canvas.current) return;
    const TOP = geom.top;
    const H = TOP + geom.h + 26;
    const ctx = setupCanvas(canvas.current, LEFT + geom.w + 8, H);
    ctx.clearRect(0, 0, LEFT + geom.w + 8, H);
    const bw = geom.x.bandwidth();
    const bh = geom.y.bandwidth();
    ctx.font = `${Math.min(11, bh - 4)}px ui-monospace, SFMono-Regular, Menlo, monospace`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    const cut = new Set<string>();
    const fitted = new Map<string, string>(); // tokens repeat (·the, ·and): measure each once per drawing
    let changed = 0;
    for (let l = 0; l < L; l++) {
      const top1 = table.top1[l];
      const prob = table.prob[l];
      const y = TOP + (geom.y(l) ?? 0);
      for (let p = 0; p < T; p++) {
        const x = LEFT + (geom.x(p) ?? 0);
        const d = clean ? diffCell(table, clean, l, p) : null;
        if (l >= visible || !top1 || !prob || (clean && !d)) {
          ctx.fillStyle = '#161a23';
          ctx.fillRect(x, y, bw, bh);
          continue;
        }
        let ink: string;
        if (d) {
          const i = lutIndex(d.delta, -1, 1);
          ctx.fillStyle = DIVERGING_LUT.css[i];
          ink = Math.abs(d.delta) > 0.6 ? '#0b0d12' : '#e6e9ef';
        } else {
          const i = lutIndex(prob[p], 0, 1);
          ctx.fillStyle = PROB_LUT.css[i];
          ink = textOn(i);
        }
        ctx.fillRect(x, y, bw, bh);
        if (d?.changed) {
          changed++;
          ctx.strokeStyle = CHANGED;
          ctx.lineWidth = 1.5;
          ctx.strokeRect(x + 0.75, y + 0.75, bw - 1.5, bh - 1.5);
        } else if (!d && p + 1 < T && top1[p] === run.strTokens[p + 1]) {
          ctx.strokeStyle = '#4fd1a5';
          ctx.lineWidth = 1;
          ctx.strokeRect(x + 0.5, y + 0.5, bw - 1, bh - 1);
        }
        if (bw >= 18) {
          ctx.fillStyle = ink;
          let s = fitted.get(top1[p]);
          if (s === undefined) fitted.set(top1[p], (s = fitCell(ctx, top1[p], bw - 4)));
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
    if (clean) {
      canvas.current.dataset.changed = String(changed);
      drawLegend(ctx, DIVERGING_LUT.css, LEFT + 30, TOP + geom.h + 10, 110, 8, '−1', '+1', 'Δ p(top token), intervened − clean   ▢ orange = the top token changed');
    } else {
      drawLegend(ctx, PROB_LUT.css, LEFT + 30, TOP + geom.h + 10, 110, 8, '0', '1', 'p(top token)   ▢ green = the actual next token');
    }
  }, [geom, run, table, clean, visible, scrub, focus, T, L]);

  const tip = hover && tipText(table, clean, kind, hover.l, hover.p);
  const five = hover && hover.p === T - 1 ? top5?.(hover.l) : undefined;
  return (
    <div ref={wrap} className="canvas-wrap">
      <canvas
        ref={canvas}
        role="img"
        data-run={kind}
        aria-label={kind === 'diff' ? 'Logit lens: intervened minus clean, per layer and position' : `Logit lens of the ${kind} run: top token per layer and position`}
        onMouseMove={(e) => {
          if (!geom) return;
          const p = bandIndexAt(geom.x, e.nativeEvent.offsetX - LEFT);
          const l = bandIndexAt(geom.y, e.nativeEvent.offsetY - geom.top);
          setHover(p >= 0 && l >= 0 && l < visible ? { l, p, x: e.nativeEvent.offsetX, y: e.nativeEvent.offsetY } : null);
        }}
        onMouseLeave={() => setHover(null)}
      />
      {hover && tip && run && (
        <Tooltip x={hover.x} y={hover.y} testId="logitlens-tip">
          L{hover.l} after <b>{showToken(run.strTokens[hover.p])}</b>: {tip}
          {five && <div className="muted">{five.map((t) => `${showToken(t.str)} ${fmtProb(t.prob)}`).join('  ')}</div>}
        </Tooltip>
      )}
    </div>
  );
}

/** The tooltip's words for a cell: the run's token and probability, or clean → intervened with the change. */
function tipText(table: LensTable, clean: LensTable | undefined, kind: LensCanvasProps['kind'], l: number, p: number): React.ReactNode {
  const top = table.top1[l]?.[p];
  const prob = table.prob[l]?.[p];
  if (top === undefined || prob === undefined) return null;
  if (!clean) return <><b>{showToken(top)}</b> {fmtProb(prob)} <span className="muted">({kind} run)</span></>;
  const ct = clean.top1[l]?.[p];
  const cp = clean.prob[l]?.[p];
  if (ct === undefined || cp === undefined) return null;
  return <>clean <b>{showToken(ct)}</b> {fmtProb(cp)} → intervened <b>{showToken(top)}</b> {fmtProb(prob)} (Δ {fmtSigned(prob - cp)})</>;
}
