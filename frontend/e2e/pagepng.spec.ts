import { expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { openWorkbench } from './helpers';

/** Width and height from a PNG's IHDR chunk. */
function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** Distinct colours (quantized) of the image inside each CSS-pixel box, decoded by the browser. */
async function coloursIn(page: Page, png: Buffer, boxes: { x: number; y: number; width: number; height: number }[], ratio: number): Promise<number[]> {
  return page.evaluate(async ({ b64, boxes, ratio }) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const ctx = c.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    return boxes.map((b) => {
      const d = ctx.getImageData(b.x * ratio, b.y * ratio, Math.max(1, b.width * ratio), Math.max(1, b.height * ratio)).data;
      const seen = new Set<number>();
      for (let i = 0; i < d.length; i += 4) seen.add(((d[i] >> 4) << 8) | ((d[i + 1] >> 4) << 4) | (d[i + 2] >> 4));
      return seen.size;
    });
  }, { b64: png.toString('base64'), boxes, ratio });
}

test('export ▾ page as PNG: the whole page at 2x, with Next token, Interventions, the tab area and the canvases drawn', async ({ page }) => {
  await openWorkbench(page, { width: 1280, height: 800 });
  await page.getByTestId('tab-lens').click();
  await expect(page.getByTestId('logit-lens').locator('canvas')).toBeVisible();
  const box = async (loc: ReturnType<Page['getByTestId']>) => (await loc.boundingBox())!;
  const boxes = [
    await box(page.getByTestId('prediction')),
    await box(page.getByTestId('intervention-panel')),
    await box(page.getByTestId('tab-area-0')),
    await box(page.getByTestId('attention-grid').locator('canvas').first()),
    await box(page.getByTestId('logit-lens').locator('canvas')),
  ];
  await page.getByTestId('export-menu').getByRole('button', { name: /export/ }).click();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-png').click()]);
  expect(download.suggestedFilename()).toMatch(/^loupe-.*\.png$/);
  const png = readFileSync(await download.path());
  const app = (await page.locator('.app').boundingBox())!;
  expect(pngSize(png)).toEqual({ width: Math.round(app.width) * 2, height: Math.round(app.height) * 2 });
  expect(png.length).toBeGreaterThan(100_000); // text and heatmaps, not a flat fill
  const colours = await coloursIn(page, png, boxes, 2);
  // Each panel shows text and colour, so many distinct colours; a blank area would have one or two.
  for (const n of colours) expect(n).toBeGreaterThan(20);
});
