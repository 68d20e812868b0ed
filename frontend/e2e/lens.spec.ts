import { expect, test } from '@playwright/test';
import { openWorkbench } from './helpers';

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
