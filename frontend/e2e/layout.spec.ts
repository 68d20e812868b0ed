import { expect, test, type Page } from '@playwright/test';
import { openWorkbench } from './helpers';
import { screenshotPath } from './shots';

/** True when the element's box lies inside the viewport. */
async function inView(page: Page, testId: string): Promise<boolean> {
  const box = await page.getByTestId(testId).boundingBox();
  const vp = page.viewportSize();
  return !!box && !!vp && box.y >= 0 && box.x >= 0 && box.y + Math.min(box.height, 40) <= vp.height && box.x + box.width <= vp.width + 1;
}

test('at 1280×800 every panel and every analysis is reachable without scrolling the page', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  await openWorkbench(page);
  const scroll = await page.evaluate(() => document.documentElement.scrollHeight - window.innerHeight);
  expect(scroll, 'the page itself does not scroll').toBeLessThanOrEqual(1);
  for (const id of ['attention-grid', 'prediction', 'tab-head', 'tab-lens', 'tab-resid', 'tab-patch', 'tab-dla', 'tab-roles', 'tab-qkov']) {
    expect(await inView(page, id), `${id} is on screen`).toBe(true);
  }
  await page.getByTestId('tab-patch').click();
  await expect(page.getByTestId('patch-run')).toBeInViewport();
  await page.getByTestId('tab-dla').click();
  await expect(page.getByTestId('dla-run')).toBeInViewport();
  await page.getByTestId('tab-lens').click();
  await page.mouse.move(0, 0);
  await page.screenshot({ path: screenshotPath('screenshot-1280.png') });
});

test('at 1920×1080 two tab areas share the width, and picking a shown tab swaps them', async ({ page }) => {
  await page.setViewportSize({ width: 1920, height: 1080 });
  await openWorkbench(page);
  await expect(page.getByTestId('tab-area-1')).toBeVisible();
  await expect(page.getByTestId('attention-detail')).toBeInViewport();
  await expect(page.getByTestId('logit-lens')).toBeInViewport();
  const a = await page.getByTestId('tab-area-0').boundingBox();
  const b = await page.getByTestId('tab-area-1').boundingBox();
  expect(a && b && b.x > a.x + a.width - 1).toBe(true);
  expect(a && a.width > 420).toBe(true);
  // The lens is in area 1; asking for it in area 0 swaps the two areas' tabs.
  await page.getByTestId('tab-lens').click();
  await expect(page.getByTestId('tab-area-0').getByTestId('logit-lens')).toBeVisible();
  await expect(page.getByTestId('tab-area-1').getByTestId('attention-detail')).toBeVisible();
  await page.mouse.move(0, 0);
  await page.screenshot({ path: screenshotPath('screenshot-1920.png') });
});
