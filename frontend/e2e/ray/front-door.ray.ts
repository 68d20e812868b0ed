import { expect, test } from '@playwright/test';
import { layerCount, waitForRun } from '../helpers';
import { screenshotPath } from '../shots';

test('the web UI works through the Ray Serve front door', async ({ page, request }) => {
  page.on('pageerror', (e) => {
    throw e;
  });
  await page.goto('/');
  await expect(page.getByTestId('connection')).toHaveText(/connected/);
  const L = await layerCount(page);
  expect(L).toBeGreaterThan(0);
  await waitForRun(page, L);
  await page.getByTestId('tab-head').click();
  await expect(page.getByTestId('top-clean')).toContainText('Mary');
  const health = await (await request.get('/api/health')).json();
  expect(health.status).toBe('ok');
  expect(health.replicas).toHaveLength(1);
  expect(health.replicas[0].sessions).toBeGreaterThanOrEqual(1); // the page's session, held by the replica
  await page.screenshot({ path: screenshotPath('screenshot-ray.png'), fullPage: true });
});
