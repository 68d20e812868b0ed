import { expect, test } from '@playwright/test';
import { openWorkbench, patchSecondJohn, waitForRun } from './helpers';

let L = 30;

test('a server restart reads in words, clears the banner, and restores the saved source and patch', async ({ page }) => {
  const sockets: import('@playwright/test').WebSocketRoute[] = [];
  await page.routeWebSocket(/\/ws/, (ws) => {
    ws.connectToServer();
    sockets.push(ws);
  });
  L = await openWorkbench(page);
  await patchSecondJohn(page);
  await waitForRun(page, L);
  await expect(page.getByTestId('logit-diff-value')).toHaveText(/^−/);
  // The server restarts: the page says so in words (no bare close code) and reconnects.
  await sockets[sockets.length - 1].close({ code: 1012 });
  await expect(page.getByTestId('connection')).toContainText('the server is restarting');
  await expect(page.getByTestId('connection')).not.toContainText('1012');
  await expect(page.getByTestId('connection')).toHaveText('connected');
  await waitForRun(page, L);
  await expect(page.getByTestId('notices')).toHaveCount(0);
  // The new session got the source and the patch again: the patched answer is still there.
  await expect(page.getByTestId('intervention-panel')).toContainText('saved “corrupt”: 14 tokens');
  await expect(page.getByTestId('intervention-list')).toContainText('patch L8 resid_post from “corrupt” @pos 9');
  await expect(page.getByTestId('logit-diff-value')).toHaveText(/^−/);
});

test('a cleared answer box drops the old logit difference and says why', async ({ page }) => {
  L = await openWorkbench(page);
  await expect(page.getByTestId('logit-diff')).toContainText('clean +6');
  await page.getByLabel('Answer token').fill('');
  await page.getByLabel('Answer token').blur();
  await expect(page.getByTestId('logit-diff-missing')).toBeVisible();
  await expect(page.getByTestId('logit-diff')).not.toContainText('clean +6');
});

test('the views say whether they show the clean or the intervened run', async ({ page }) => {
  L = await openWorkbench(page);
  await page.getByTestId('tab-lens').click();
  await expect(page.getByTestId('logit-lens').getByTestId('run-badge')).toHaveText('clean run');
  await expect(page.getByTestId('attention-grid').getByTestId('run-badge')).toHaveText('clean run');
  await page.getByTestId('ablate-zero').click();
  await waitForRun(page, L);
  await expect(page.getByTestId('logit-lens').getByTestId('run-badge')).toHaveText('intervened run');
  await expect(page.getByTestId('attention-grid').getByTestId('run-badge')).toHaveText('intervened run');
  await page.getByTestId('tab-resid').click();
  await expect(page.getByTestId('residual-view').getByTestId('run-badge')).toHaveText('intervened run');
});

test('Stop leaves a cancelled label and a head view that says what happened', async ({ page }) => {
  L = await openWorkbench(page);
  const box = page.getByTestId('prompt-input');
  await box.fill('The quick brown fox jumps over the lazy dog. '.repeat(40));
  await box.press('Enter');
  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(page.getByTestId('run-cancelled')).toContainText('cancelled at layer');
  await expect(page.getByTestId('attention-detail')).toContainText('stopped before the end');
});

test('the patching heatmap has a fixed colour scale with a legend', async ({ page }) => {
  L = await openWorkbench(page);
  await page.getByTestId('tab-patch').click();
  await page.getByLabel('What to patch').selectOption('layers');
  await page.getByTestId('patch-run').click();
  await expect(page.getByTestId('patch-status')).toHaveAttribute('data-status', 'done', { timeout: 150_000 });
  const legend = page.getByTestId('patch-legend');
  await expect(legend).toContainText('−1');
  await expect(legend).toContainText('+1');
  await expect(legend).toContainText('0 = clean');
});

test('the steered column says when steering was removed after it ran', async ({ page }) => {
  test.setTimeout(240_000);
  L = await openWorkbench(page);
  await page.getByTestId('generate').click();
  await expect(page.getByTestId('steering-panel')).toContainText(/tokens in/, { timeout: 150_000 });
  await expect(page.getByTestId('gen-steered-title')).toHaveText('steered');
  const steer = page.getByTestId('intervention-list').locator('li', { hasText: 'steer' });
  await steer.getByRole('button', { name: 'Remove' }).click();
  await expect(page.getByTestId('gen-steered-title')).toContainText('steering off now');
});

test('a long prompt: the lens scrolls sideways with readable cells, the head pattern fills the panel', async ({ page }) => {
  L = await openWorkbench(page);
  const box = page.getByTestId('prompt-input');
  await box.fill('The quick brown fox jumps over the lazy dog. '.repeat(10));
  await box.press('Enter');
  await waitForRun(page, L);
  const T = await page.getByTestId('token-strip').getByRole('option').count();
  expect(T).toBeGreaterThan(90);
  const detail = page.getByTestId('attention-detail');
  await expect(detail.locator('canvas')).toBeVisible();
  await expect.poll(async () => ((await detail.locator('canvas').boundingBox())?.width ?? 0) / ((await detail.boundingBox())?.width ?? 1)).toBeGreaterThan(0.8);
  await page.getByTestId('tab-lens').click();
  const canvas = page.getByTestId('logit-lens').locator('canvas');
  await expect.poll(async () => (await canvas.boundingBox())?.width ?? 0).toBeGreaterThan(T * 44);
  const body = page.getByTestId('tab-area-0').locator('.tab-body:not([hidden])');
  const { scroll, client } = await body.evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
  expect(scroll).toBeGreaterThan(client);
  await body.evaluate((el) => el.scrollTo({ left: el.scrollWidth }));
  expect(await body.evaluate((el) => el.scrollLeft + el.clientWidth >= el.scrollWidth - 1)).toBe(true);
});
