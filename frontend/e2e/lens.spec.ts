import { expect, test, type Page } from '@playwright/test';
import { openWorkbench, patchSecondJohn, waitForRun } from './helpers';
import { screenshotPath } from './shots';

test('lens cells at 1280 px: long tokens are cut at the measured width, leading-space marks dropped first (no "·t…")', async ({ page }) => {
  await openWorkbench(page, { width: 1280, height: 800 });
  await page.getByTestId('tab-lens').click();
  const canvas = page.getByTestId('logit-lens').locator('canvas');
  await expect(canvas).toHaveAttribute('data-cut', /…/); // the default prompt has tokens too long for a cell
  const cut = ((await canvas.getAttribute('data-cut')) ?? '').split('\u001f');
  for (const label of cut) {
    expect(label, label).toMatch(/^[^·].{2,}…$/); // at least three characters of the word before the "…"
  }
});

/** Hover the last layer's last cell of the lens canvas showing `run`; the tooltip's text. */
async function lastCellTip(page: Page, run: string): Promise<string> {
  const canvas = page.getByTestId('logit-lens').locator(`canvas[data-run="${run}"]`);
  await canvas.scrollIntoViewIfNeeded();
  const box = (await canvas.boundingBox())!;
  // The grid ends 8 px before the right edge; the legend takes the last 26 px; rows are 17 px.
  await canvas.hover({ position: { x: box.width - 8 - 6, y: box.height - 26 - 8 } });
  const tip = page.getByTestId('logitlens-tip');
  await expect(tip).toBeVisible();
  return tip.innerText();
}

test('clean vs intervened lens: the clean table on request, side by side, and the difference', async ({ page }) => {
  // Count the clean-lens requests the page sends (msgpack keeps strings as UTF-8 bytes).
  let cleanLensAsks = 0;
  page.on('websocket', (ws) => ws.on('framesent', (f) => {
    const text = typeof f.payload === 'string' ? f.payload : f.payload.toString('latin1');
    if (text.includes('logit_lens') && text.includes('grid')) cleanLensAsks++;
  }));
  const L = await openWorkbench(page);
  await page.getByTestId('tab-lens').click();
  await expect(page.getByTestId('lens-show')).toBeDisabled(); // no interventions: the run is the clean run
  // Patch the second " John" at layer 8 from the corrupt prompt: the prediction flips to " John".
  await patchSecondJohn(page);
  await waitForRun(page, L);
  const cleanTop = (await page.getByTestId('top-clean').locator('.tok').first().innerText()).trim();
  const ivTop = (await page.getByTestId('top-intervened').locator('.tok').first().innerText()).trim();
  expect(cleanTop).not.toBe(ivTop);
  // The default lens is the intervened run's: its last layer's last cell is the intervened prediction.
  expect(await lastCellTip(page, 'intervened')).toContain(`${ivTop} `);
  expect(cleanLensAsks).toBe(0); // the default run costs nothing extra
  // The clean run's lens, fetched only now: its last cell is the clean prediction (an independent view of it).
  await page.getByTestId('lens-show').selectOption('clean');
  expect(await lastCellTip(page, 'clean')).toContain(`${cleanTop} `);
  await expect(page.getByTestId('logit-lens').getByTestId('run-badge')).toHaveText('clean run');
  // Side by side: both tables.
  await page.getByTestId('lens-show').selectOption('side');
  await expect(page.getByTestId('logit-lens').locator('canvas[data-run="clean"]')).toBeVisible();
  await expect(page.getByTestId('logit-lens').locator('canvas[data-run="intervened"]')).toBeVisible();
  expect(cleanLensAsks).toBe(1); // fetched once for this prompt, then kept
  // The difference: changed cells counted and outlined; the last cell reads clean → intervened.
  await page.getByTestId('lens-show').selectOption('diff');
  const diff = page.getByTestId('logit-lens').locator('canvas[data-run="diff"]');
  await expect(diff).toHaveAttribute('data-changed', /^[1-9]\d*$/);
  await expect(page.getByTestId('lens-changed')).toContainText(`changed in ${await diff.getAttribute('data-changed')} of`);
  expect(await lastCellTip(page, 'diff')).toMatch(new RegExp(`clean ${cleanTop} .*→ intervened ${ivTop} `));
  // The comparison is part of the session in the address: a reload shows the difference again.
  await page.reload();
  await expect(page.getByTestId('lens-show')).toHaveValue('diff');
  await expect(page.getByTestId('logit-lens').locator('canvas[data-run="diff"]')).toHaveAttribute('data-changed', /^[1-9]/);
});

test('at 1920×1080: the lens difference beside per-position attribution (docs/screenshot-compare-1920.png)', async ({ page }) => {
  const L = await openWorkbench(page, { width: 1920, height: 1080 });
  await patchSecondJohn(page);
  await waitForRun(page, L);
  await page.getByTestId('tab-lens').click();
  await page.getByTestId('lens-show').selectOption('diff');
  await expect(page.getByTestId('logit-lens').locator('canvas[data-run="diff"]')).toHaveAttribute('data-changed', /^[1-9]/);
  await page.getByTestId('tab2-dla').click();
  await page.getByTestId('dla-run').click();
  await expect(page.getByTestId('dla-total')).toContainText('of 301');
  await expect(page.getByTestId('tab-area-0').getByTestId('logit-lens')).toBeInViewport();
  await expect(page.getByTestId('tab-area-1').getByTestId('dla-view')).toBeInViewport();
  await page.mouse.move(0, 0);
  await page.screenshot({ path: screenshotPath('screenshot-compare-1920.png') });
});
