import { expect, test } from '@playwright/test';
import { layerCount, waitForRun } from './helpers';

test.beforeEach(async ({ page }) => {
  page.on('pageerror', (e) => {
    throw e;
  });
  await page.goto('/');
  await waitForRun(page, await layerCount(page));
});

test('attribution patching estimates the heads heatmap in one pass, on the same scale', async ({ page }) => {
  await page.getByTestId('tab-patch').click();
  await page.getByLabel('Patching method').selectOption('attribution');
  await page.getByTestId('patch-run').click();
  const status = page.getByTestId('patch-status');
  await expect(status).toHaveAttribute('data-status', 'done', { timeout: 150_000 });
  await expect(status).toContainText(/attribution estimate · 30×9 cells .* clean 6\.12 · corrupt −?-?5\.49/);
  await expect(page.getByTestId('patch-legend')).toBeVisible();
  await expect(page.getByTestId('patch-top').locator('.chip, button').first()).toBeVisible();
});

test('composition scores list the strongest head pairs and the links of the selected head', async ({ page }) => {
  test.setTimeout(300_000);
  await page.getByTestId('tab-comp').click();
  await page.getByLabel('Composition kind').selectOption('v');
  await page.getByTestId('composition-run').click();
  const top = page.getByTestId('composition-top').locator('.link-row');
  await expect(top).toHaveCount(10, { timeout: 200_000 });
  const first = await top.first().locator('.tok').innerText();
  const dst = /→ (L\d+H\d+)/.exec(first)?.[1] ?? '';
  await top.first().click(); // selects the head that reads
  await expect(page.getByTestId('composition-view')).toContainText(`into ${dst}`);
  await expect(page.getByTestId('composition-in').locator('.link-row').first()).toContainText(first.split(' → ')[0]);
});

test('attribution bars: more than 14 on request, and clicking a head’s bar selects it', async ({ page }) => {
  await page.getByTestId('tab-dla').click();
  await page.getByTestId('dla-run').click();
  await expect(page.getByTestId('dla-total')).toContainText('of 301');
  await page.getByLabel('Bars shown').selectOption('40');
  const canvas = page.getByTestId('dla-canvas');
  await expect.poll(async () => (await canvas.boundingBox())?.height ?? 0).toBeGreaterThan(40 * 15);
  await canvas.click({ position: { x: 30, y: 2 + 7 } }); // the largest bar: L23H3
  await page.getByTestId('tab-head').click();
  await expect(page.getByTestId('attention-detail').locator('.panel-hint')).toContainText('L23 H3');
});
