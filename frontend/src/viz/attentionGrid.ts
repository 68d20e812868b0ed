/**
 * The attention small-multiples grid: one thumbnail per (layer, head), rows = layers,
 * columns = heads, drawn on a single canvas. Pure drawing (no React) so the benchmark can
 * time exactly what the view does.
 */
import { ATTENTION_LUT } from './colour';
import { paintWords } from './heatmap';

/** Pooled patterns for one layer: `data` is [n_heads, size, size] row-major. */
export interface LayerThumbs { size: number; data: Float32Array }

/** A highlighted head (known role, e.g. "name mover"); a later issue fills these from head scores. */
export interface HeadMark { layer: number; head: number; color: string; label?: string }

export interface GridLayout {
  nLayers: number; nHeads: number; cell: number; gap: number; left: number; top: number;
}

export interface GridDrawState {
  thumbs: (LayerThumbs | undefined)[];
  /** Layers ≥ this are drawn as not-yet-computed (the animation / scrubber). */
  visibleLayers: number;
  selected?: { layer: number; head: number } | null;
  ablated?: ReadonlySet<string>;
  marks?: readonly HeadMark[];
  /** Focused query position in thumbnail coordinates, as a fraction of the sequence (0..1). */
  focusFrac?: number | null;
  currentLayer?: number;
}

/** Choose a cell size that fits `width` (CSS px), clamped to [14, 64]. */
export function gridLayout(nLayers: number, nHeads: number, width: number): GridLayout {
  const left = 30, top = 16, gap = 2;
  const cell = Math.max(14, Math.min(64, Math.floor((width - left - 4) / nHeads) - gap));
  return { nLayers, nHeads, cell, gap, left, top };
}

export function gridSize(l: GridLayout): { w: number; h: number } {
  return { w: l.left + l.nHeads * (l.cell + l.gap) + 2, h: l.top + l.nLayers * (l.cell + l.gap) + 2 };
}

/** (layer, head) under a CSS-pixel point, or null. */
export function gridHit(l: GridLayout, x: number, y: number): { layer: number; head: number } | null {
  const head = Math.floor((x - l.left) / (l.cell + l.gap));
  const layer = Math.floor((y - l.top) / (l.cell + l.gap));
  if (head < 0 || head >= l.nHeads || layer < 0 || layer >= l.nLayers) return null;
  return { layer, head };
}

/**
 * Thumbnail atlas: every layer's heads painted side by side at data resolution
 * ([layers·P] × [heads·P] pixels). A layer is repainted only when its data object changes,
 * so redraws for hover/selection/scrub cost one drawImage per cell.
 */
interface Atlas { canvas: HTMLCanvasElement | OffscreenCanvas; P: number; heads: number; painted: (Float32Array | undefined)[] }
let atlas: Atlas | null = null;

function ensureAtlas(P: number, heads: number, layers: number): Atlas {
  const w = P * heads, h = P * layers;
  if (!atlas || atlas.P !== P || atlas.heads !== heads || atlas.canvas.height < h) {
    const canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(w, h) : document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    atlas = { canvas, P, heads, painted: [] };
  }
  return atlas;
}

function paintAtlasRow(a: Atlas, layer: number, th: LayerThumbs): void {
  if (a.painted[layer] === th.data) return;
  const ctx = a.canvas.getContext('2d') as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;
  const P = a.P;
  const img = ctx.createImageData(P * a.heads, P);
  const words = new Uint32Array(img.data.buffer);
  const block = new Uint32Array(P * P);
  for (let hd = 0; hd < a.heads; hd++) {
    paintWords(block, th.data, hd * P * P, P, P, ATTENTION_LUT, 0, 1);
    for (let r = 0; r < P; r++) words.set(block.subarray(r * P, r * P + P), r * P * a.heads + hd * P);
  }
  ctx.putImageData(img, 0, layer * P);
  a.painted[layer] = th.data;
}

/** Draw the whole grid. `ctx` is already scaled to CSS pixels. */
export function drawAttentionGrid(ctx: CanvasRenderingContext2D, l: GridLayout, s: GridDrawState): void {
  const { w, h } = gridSize(l);
  ctx.clearRect(0, 0, w, h);
  ctx.font = '10px ui-monospace, SFMono-Regular, Menlo, monospace';
  ctx.textBaseline = 'middle';
  ctx.fillStyle = '#7d8799';
  ctx.textAlign = 'center';
  for (let hd = 0; hd < l.nHeads; hd++) ctx.fillText(`H${hd}`, l.left + hd * (l.cell + l.gap) + l.cell / 2, l.top / 2);
  ctx.textAlign = 'right';
  const labelEvery = l.cell < 18 ? 2 : 1;
  ctx.imageSmoothingEnabled = false;
  const P = s.thumbs.find((t) => t)?.size ?? 0;
  const a = P > 0 ? ensureAtlas(P, l.nHeads, l.nLayers) : null;
  const ready = (ly: number) => !!a && ly < s.visibleLayers && s.thumbs[ly]?.size === P;
  // Paint every changed layer into the atlas before sampling it: interleaving writes and reads
  // makes the browser snapshot the whole atlas once per write.
  for (let ly = 0; ly < l.nLayers; ly++) if (ready(ly)) paintAtlasRow(a as Atlas, ly, s.thumbs[ly] as LayerThumbs);
  for (let ly = 0; ly < l.nLayers; ly++) {
    const y = l.top + ly * (l.cell + l.gap);
    if (ly % labelEvery === 0 || ly === s.currentLayer) {
      ctx.fillStyle = ly === s.currentLayer ? '#ffd479' : '#7d8799';
      ctx.fillText(`L${ly}`, l.left - 5, y + l.cell / 2);
    }
    const ok = ready(ly);
    for (let hd = 0; hd < l.nHeads; hd++) {
      const x = l.left + hd * (l.cell + l.gap);
      if (!ok) {
        ctx.fillStyle = '#1a1e27';
        ctx.fillRect(x, y, l.cell, l.cell);
      } else {
        ctx.drawImage((a as Atlas).canvas as CanvasImageSource, hd * P, ly * P, P, P, x, y, l.cell, l.cell);
      }
    }
  }
  drawOverlays(ctx, l, s);
}

function cellXY(l: GridLayout, layer: number, head: number): [number, number] {
  return [l.left + head * (l.cell + l.gap), l.top + layer * (l.cell + l.gap)];
}

function drawOverlays(ctx: CanvasRenderingContext2D, l: GridLayout, s: GridDrawState): void {
  if (s.focusFrac != null && s.focusFrac >= 0) {
    ctx.fillStyle = 'rgba(255,212,121,0.22)';
    for (let ly = 0; ly < Math.min(l.nLayers, s.visibleLayers); ly++) {
      for (let hd = 0; hd < l.nHeads; hd++) {
        const [x, y] = cellXY(l, ly, hd);
        const row = Math.min(l.cell - 1, Math.floor(s.focusFrac * l.cell));
        ctx.fillRect(x, y + row, l.cell, Math.max(1, l.cell / 24));
      }
    }
  }
  for (const m of s.marks ?? []) {
    const [x, y] = cellXY(l, m.layer, m.head);
    ctx.strokeStyle = m.color;
    ctx.lineWidth = 2;
    ctx.strokeRect(x + 1, y + 1, l.cell - 2, l.cell - 2);
  }
  for (const k of s.ablated ?? []) {
    const [layer, head] = k.split(':').map(Number);
    if (layer >= l.nLayers || head >= l.nHeads) continue;
    const [x, y] = cellXY(l, layer, head);
    ctx.fillStyle = 'rgba(12,14,20,0.6)';
    ctx.fillRect(x, y, l.cell, l.cell);
    ctx.strokeStyle = '#ff5d73';
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(x + 3, y + 3); ctx.lineTo(x + l.cell - 3, y + l.cell - 3);
    ctx.moveTo(x + l.cell - 3, y + 3); ctx.lineTo(x + 3, y + l.cell - 3);
    ctx.stroke();
  }
  if (s.selected) {
    const [x, y] = cellXY(l, s.selected.layer, s.selected.head);
    ctx.strokeStyle = '#ffffff';
    ctx.lineWidth = 2;
    ctx.strokeRect(x - 1, y - 1, l.cell + 2, l.cell + 2);
  }
  if (s.currentLayer != null && s.currentLayer >= 0 && s.currentLayer < l.nLayers) {
    const [, y] = cellXY(l, s.currentLayer, 0);
    ctx.strokeStyle = 'rgba(255,212,121,0.8)';
    ctx.lineWidth = 1;
    ctx.strokeRect(l.left - 1.5, y - 1.5, l.nHeads * (l.cell + l.gap) + 1, l.cell + 3);
  }
}
