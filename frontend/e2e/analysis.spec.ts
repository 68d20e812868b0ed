import { expect, test } from '@playwright/test';
import { inkFraction, layerCount, waitForRun } from './helpers';
import { screenshotPath } from './shots';

test('a patching sweep from the UI fills the heatmap in live', async ({ page }) => {
  page.on('pageerror', (e) => {
    throw e;
  });
  await page.goto('/');
  await expect(page.getByTestId('connection')).toHaveText(/connected/);
  const L = await layerCount(page);
  await waitForRun(page, L);
  // Head roles first, so the grid shows its outlines in the screenshot.
  await page.getByTestId('tab-roles').click();
  await expect(page.getByTestId('roles-view')).toContainText('L18H6');
  await page.getByTestId('tab-patch').click();
  await expect(page.getByTestId('corrupt-input')).toHaveValue(/store, Mary gave/);
  await page.getByTestId('patch-run').click();
  // Rows arrive while the sweep is still running...
  await page.waitForFunction(() => {
    const el = document.querySelector('[data-testid="patch-status"]');
    return el?.getAttribute('data-status') === 'running' && Number(el.getAttribute('data-rows')) > 0;
  }, undefined, { timeout: 90_000 });
  // ...and the sweep ends with the full heatmap and the IOI head on top.
  await expect(page.getByTestId('patch-status')).toHaveAttribute('data-status', 'done', { timeout: 150_000 });
  await expect(page.getByTestId('patch-status')).toHaveAttribute('data-rows', String(L));
  await expect(page.getByTestId('patch-top')).toContainText('L23 H3');
  expect(await inkFraction(page, 'patch-view')).toBeGreaterThan(0.05);
  await page.screenshot({ path: screenshotPath('screenshot-analysis.png'), fullPage: true });
});
