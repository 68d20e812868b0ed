/**
 * Canvas heatmaps. Values are painted at data resolution into an ImageData through a colour
 * LUT, then scaled onto the target rectangle with smoothing off (crisp cells, O(cells) work).
 */
import { lutIndex, type Lut } from './colour';

export interface Rect { x: number; y: number; w: number; h: number }

let scratch: HTMLCanvasElement | OffscreenCanvas | null = null;

function scratchCanvas(w: number, h: number): HTMLCanvasElement | OffscreenCanvas {
  if (!scratch) scratch = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(w, h) : document.createElement('canvas');
  if (scratch.width < w) scratch.width = w;
  if (scratch.height < h) scratch.height = h;
  return scratch;
}

/**
 * Fill `pixels` (rows×cols RGBA words) from `values[offset + r*cols + c]`.
 * `mask(r, c)` → false paints `maskWord` (e.g. the causal upper triangle).
 */
export function paintWords(
  pixels: Uint32Array, values: ArrayLike<number>, offset: number, rows: number, cols: number,
  lut: Lut, lo: number, hi: number, causal = false, maskWord = 0,
): void {
  const words = lut.words;
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  for (let r = 0; r < rows; r++) {
    const row = offset + r * cols;
    const out = r * cols;
    // causal: query r attends keys ≤ r (scaled for pooled thumbnails where rows == cols)
    const lim = causal ? Math.min(cols, Math.floor(((r + 1) * cols) / rows + 1e-9)) : cols;
    for (let c = 0; c < cols; c++) {
      if (c >= lim) { pixels[out + c] = maskWord; continue; }
      const v = values[row + c];
      let i = (v - lo) * scale;
      i = i <= 0 || !(i === i) ? 0 : i >= 255 ? 255 : i | 0;
      pixels[out + c] = words[i];
    }
  }
}

/** Draw a rows×cols block of `values` (row-major from `offset`) into `rect` of ctx. */
export function drawHeatmap(
  ctx: CanvasRenderingContext2D, values: ArrayLike<number>, rows: number, cols: number,
  rect: Rect, lut: Lut, domain: [number, number], opts: { offset?: number; causal?: boolean; maskWord?: number } = {},
): void {
  if (rows <= 0 || cols <= 0) return;
  const sc = scratchCanvas(cols, rows);
  const sctx = sc.getContext('2d') as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;
  const img = sctx.createImageData(cols, rows);
  paintWords(new Uint32Array(img.data.buffer), values, opts.offset ?? 0, rows, cols, lut, domain[0], domain[1],
    opts.causal ?? false, opts.maskWord ?? 0);
  sctx.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(sc, 0, 0, cols, rows, rect.x, rect.y, rect.w, rect.h);
}

/** Colour index for a single value (for per-cell text/contrast decisions). */
export { lutIndex };

/**
 * Size a canvas for crisp drawing at devicePixelRatio and return its 2d context scaled so
 * drawing uses CSS pixels.
 */
export function setupCanvas(canvas: HTMLCanvasElement, cssW: number, cssH: number): CanvasRenderingContext2D {
  const dpr = Math.min(2, window.devicePixelRatio || 1);
  const w = Math.max(1, Math.round(cssW * dpr));
  const h = Math.max(1, Math.round(cssH * dpr));
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  canvas.style.width = `${cssW}px`;
  canvas.style.height = `${cssH}px`;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('2d canvas unavailable');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}
