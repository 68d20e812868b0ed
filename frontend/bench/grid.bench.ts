import { test } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchCase, BenchResult } from './main';

/**
 * Draw one frame of the attention grid (the UI's own drawing code) in headless Chromium and
 * report Performance API timings. Numbers are reported, not asserted.
 */
test('attention grid: one frame', async ({ page }) => {
  await page.goto('/index.html');
  await page.waitForFunction(() => typeof window.runBench === 'function');
  const cases: BenchCase[] = [
    // fresh: every thumbnail is new (a whole new run arrived); overlay: selection/hover/scrub redraws
    { layers: 12, heads: 12, P: 64, width: 420, frames: 60, fresh: true }, // GPT-2 small, T ≥ 64 (thumbnails at their cap)
    { layers: 12, heads: 12, P: 64, width: 420, frames: 60, fresh: false },
    { layers: 12, heads: 12, P: 16, width: 420, frames: 60, fresh: true }, // GPT-2 small, a 16-token prompt
    { layers: 12, heads: 12, P: 64, width: 900, frames: 60, fresh: true }, // big cells
    { layers: 30, heads: 9, P: 64, width: 340, frames: 60, fresh: true }, // SmolLM2-135M as laid out in the UI
  ];
  const results = (await page.evaluate((c) => window.runBench(c), cases)) as BenchResult[];
  const ua = await page.evaluate(() => navigator.userAgent);
  console.log(`\n${ua}\n`);
  console.table(results.map((r) => ({
    grid: `${r.layers}x${r.heads}`, data: r.fresh ? 'fresh' : 'overlay', P: r.P, cell: r.cell, canvas: r.canvas, 'draw median ms': r.drawMedianMs,
    'draw p95 ms': r.drawP95Ms, 'frame median ms': r.frameMedianMs, 'decode 1 layer ms': r.decodeLayerMs,
  })));
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results.json');
  writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), userAgent: ua, note: 'headless Chromium, --disable-gpu (software canvas)', results }, null, 2)}\n`);
  console.log(`wrote ${out}`);
});
