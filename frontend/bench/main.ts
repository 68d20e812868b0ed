/**
 * Browser benchmark page: times exactly the attention-grid drawing the UI does
 * (viz/attentionGrid.ts) with the Performance API. Driven by grid.bench.ts.
 */
import { decodeTensor, encodeTensor } from '../src/api/codec';
import { drawAttentionGrid, gridLayout, gridSize, type LayerThumbs } from '../src/viz/attentionGrid';
import { setupCanvas } from '../src/viz/heatmap';

/** `fresh`: every frame gets new thumbnail arrays (a new run.layer for every layer), else only overlays change. */
export interface BenchCase { layers: number; heads: number; P: number; width: number; frames: number; fresh: boolean }
export interface BenchResult extends BenchCase {
  cell: number; canvas: string; drawMedianMs: number; drawP95Ms: number; drawMaxMs: number;
  frameMedianMs: number; decodeLayerMs: number;
}

function synthThumbs(layers: number, heads: number, P: number): LayerThumbs[] {
  const out: LayerThumbs[] = [];
  let seed = 1;
  const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (let l = 0; l < layers; l++) {
    const data = new Float32Array(heads * P * P);
    for (let h = 0; h < heads; h++) {
      for (let q = 0; q < P; q++) {
        let sum = 0;
        const row = h * P * P + q * P;
        for (let k = 0; k <= q; k++) sum += data[row + k] = rnd() ** 4 + (k === 0 ? 2 : 0) + (k === q - 1 ? 1 : 0);
        for (let k = 0; k <= q; k++) data[row + k] /= sum;
      }
    }
    out.push({ size: P, data });
  }
  return out;
}

const quant = (xs: number[], q: number) => xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const nextFrame = () => new Promise<number>((r) => requestAnimationFrame(r));

async function run(c: BenchCase): Promise<BenchResult> {
  const thumbs = synthThumbs(c.layers, c.heads, c.P);
  const layout = gridLayout(c.layers, c.heads, c.width);
  const { w, h } = gridSize(layout);
  const canvas = document.getElementById('grid') as HTMLCanvasElement;
  const ctx = setupCanvas(canvas, w, h);
  const state = { thumbs: thumbs as LayerThumbs[], visibleLayers: c.layers, selected: { layer: 3, head: 4 }, ablated: new Set(['5:2']), currentLayer: c.layers - 1, focusFrac: 0.5 };
  for (let i = 0; i < 5; i++) drawAttentionGrid(ctx, layout, state); // warm-up (JIT, scratch canvas)
  const draws: number[] = [];
  const frames: number[] = [];
  for (let i = 0; i < c.frames; i++) {
    await nextFrame();
    if (c.fresh) state.thumbs = thumbs.map((t) => ({ size: t.size, data: t.data.slice() }));
    state.selected = { layer: i % c.layers, head: i % c.heads };
    const t0 = performance.now();
    performance.mark('grid-draw-start');
    drawAttentionGrid(ctx, layout, state);
    performance.mark('grid-draw-end');
    draws.push(performance.measure('grid-draw', 'grid-draw-start', 'grid-draw-end').duration);
    // Until the next frame starts: includes the browser committing the canvas.
    frames.push((await nextFrame()) - t0);
  }
  // Decoding one run.layer frame's thumbnails (f16 wire tensor → Float32Array).
  const wire = encodeTensor(thumbs[0].data, [c.heads, c.P, c.P], 'f16');
  const dec: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    decodeTensor(wire);
    dec.push(performance.now() - t0);
  }
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    ...c, cell: layout.cell, canvas: `${canvas.width}x${canvas.height}`,
    drawMedianMs: r3(quant(draws, 0.5)), drawP95Ms: r3(quant(draws, 0.95)), drawMaxMs: r3(Math.max(...draws)),
    frameMedianMs: r3(quant(frames, 0.5)), decodeLayerMs: r3(quant(dec, 0.5)),
  };
}

declare global {
  interface Window { runBench: (cases: BenchCase[]) => Promise<BenchResult[]> }
}

window.runBench = async (cases) => {
  const out: BenchResult[] = [];
  for (const c of cases) out.push(await run(c));
  return out;
};
