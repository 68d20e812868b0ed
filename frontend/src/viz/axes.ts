/** Token/layer axis labels drawn on canvas, aligned with d3 band scales. */
import type { ScaleBand } from 'd3';
import { showToken } from './scales';

const FONT = '11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace';

/** Widest label in CSS px (for margins). */
export function labelWidth(ctx: CanvasRenderingContext2D, labels: string[], max = 110): number {
  ctx.font = FONT;
  let w = 0;
  for (const l of labels) w = Math.max(w, ctx.measureText(showToken(l)).width);
  return Math.min(max, Math.ceil(w) + 8);
}

/** Truncate a label to fit `w` px. */
function fit(ctx: CanvasRenderingContext2D, s: string, w: number): string {
  if (ctx.measureText(s).width <= w) return s;
  let t = s;
  while (t.length > 1 && ctx.measureText(`${t}…`).width > w) t = t.slice(0, -1);
  return `${t}…`;
}

/**
 * A token's text for a `w`-px cell: whole if it fits, else cut with "…" at the measured width, its
 * leading-space marks dropped first (so " other" shows "othe…", not "·ot…"; the tooltip has it whole).
 */
export function fitCell(ctx: CanvasRenderingContext2D, token: string, w: number): string {
  const s = showToken(token);
  if (ctx.measureText(s).width <= w) return s;
  const bare = s.replace(/^·+/, '');
  return fit(ctx, bare || s, w);
}

/** Right-aligned labels left of `x`, one per band of `y`. */
export function drawRowLabels(
  ctx: CanvasRenderingContext2D, labels: string[], y: ScaleBand<number>, x: number, width: number,
  highlight: number | null = null, raw = false,
): void {
  ctx.font = FONT;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  const step = y.bandwidth();
  const every = step < 12 ? Math.ceil(12 / Math.max(step, 0.1)) : 1;
  labels.forEach((l, i) => {
    const nearHighlight = highlight !== null && i !== highlight && Math.abs(i - highlight) < every;
    if ((i % every !== 0 || nearHighlight) && i !== highlight) return;
    ctx.fillStyle = i === highlight ? '#ffd479' : '#9aa3b5';
    ctx.fillText(fit(ctx, raw ? l : showToken(l), width - 6), x - 5, (y(i) ?? 0) + step / 2);
  });
}

/** Height (CSS px) the column labels need for bands of width `step`. */
export function colLabelHeight(ctx: CanvasRenderingContext2D, labels: string[], step: number, max = 90): number {
  ctx.font = FONT;
  let w = 0;
  for (const l of labels) w = Math.max(w, ctx.measureText(showToken(l)).width);
  if (w <= step - 4) return 20;
  return Math.min(max, Math.ceil(w * Math.sin(Math.PI / 3)) + 12);
}

let probeCtx: CanvasRenderingContext2D | null = null;
/** A throwaway 2d context for measuring text before a canvas is sized. */
export function measureCtx(): CanvasRenderingContext2D | null {
  if (!probeCtx) probeCtx = document.createElement('canvas').getContext('2d');
  return probeCtx;
}

/** Column labels above `yBottom`, rotated when bands are narrow. */
export function drawColLabels(
  ctx: CanvasRenderingContext2D, labels: string[], x: ScaleBand<number>, yBottom: number, height: number,
  highlight: number | null = null,
): void {
  ctx.font = FONT;
  const step = x.bandwidth();
  const rotate = labels.some((l) => ctx.measureText(showToken(l)).width > step - 4);
  const every = rotate && step < 12 ? Math.ceil(12 / Math.max(step, 0.1)) : 1;
  labels.forEach((l, i) => {
    if (i % every !== 0 && i !== highlight) return;
    const cx = (x(i) ?? 0) + step / 2;
    ctx.fillStyle = i === highlight ? '#ffd479' : '#9aa3b5';
    if (!rotate) {
      ctx.textAlign = 'center';
      ctx.textBaseline = 'bottom';
      ctx.fillText(showToken(l), cx, yBottom - 4);
      return;
    }
    ctx.save();
    ctx.translate(cx, yBottom - 4);
    ctx.rotate(-Math.PI / 3);
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    ctx.fillText(fit(ctx, showToken(l), height / Math.sin(Math.PI / 3) - 6), 0, 0);
    ctx.restore();
  });
}

/** A horizontal colour legend bar with min/max labels. */
export function drawLegend(
  ctx: CanvasRenderingContext2D, css: string[], x: number, y: number, w: number, h: number, lo: string, hi: string, title = '',
): void {
  for (let i = 0; i < w; i++) {
    ctx.fillStyle = css[Math.min(css.length - 1, Math.floor((i / w) * css.length))];
    ctx.fillRect(x + i, y, 1, h);
  }
  ctx.font = '10px system-ui, sans-serif';
  ctx.fillStyle = '#8a93a6';
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  ctx.fillText(lo, x - 4, y + h / 2);
  ctx.textAlign = 'left';
  ctx.fillText(`${hi}${title ? `  ${title}` : ''}`, x + w + 4, y + h / 2);
}
