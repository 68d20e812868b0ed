import { expect, test } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inkFraction, layerCount, waitForRun } from './helpers';

const DOCS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs');

test.beforeEach(async ({ page }) => {
  page.on('pageerror', (e) => {
    throw e;
  });
  await page.goto('/');
  await expect(page.getByTestId('connection')).toHaveText(/connected/);
});

test('the default IOI prompt renders every view', async ({ page }) => {
  const L = await layerCount(page);
  expect(L).toBeGreaterThan(0);
  await waitForRun(page, L);
  for (const id of ['prompt-input', 'token-strip', 'layer-scrubber', 'attention-grid', 'attention-detail', 'residual-view', 'logit-lens', 'intervention-panel', 'steering-panel']) {
    await expect(page.getByTestId(id)).toBeVisible();
  }
  await expect(page.getByTestId('prompt-input')).toHaveValue(/When Mary and John went to the store/);
  await expect(page.getByTestId('token-strip').getByRole('option')).toHaveCount(14);
  // The head detail is filled on its own (a head is picked after the first run).
  await expect(page.getByTestId('attention-detail').locator('canvas')).toBeVisible();
  for (const id of ['attention-grid', 'attention-detail', 'logit-lens', 'residual-view']) {
    expect(await inkFraction(page, id), `${id} canvas is drawn`).toBeGreaterThan(0.05);
  }
  await expect(page.getByTestId('top-clean')).toContainText('Mary');
  await expect(page.getByTestId('logit-diff')).toContainText('clean +');
  mkdirSync(DOCS, { recursive: true });
  await page.screenshot({ path: join(DOCS, 'screenshot.png') });

  // Scrub back: the views show fewer layers, the readout follows the keyboard.
  await page.locator('body').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('Home');
  await expect(page.getByTestId('layer-readout')).toHaveText(`0/${L - 1}`);
  await page.keyboard.press('ArrowRight');
  await expect(page.getByTestId('layer-readout')).toHaveText(`1/${L - 1}`);
  await page.keyboard.press('Space'); // replay to the end
  await expect(page.getByTestId('layer-readout')).toHaveText(`${L - 1}/${L - 1}`, { timeout: 15_000 });
});

test('a new prompt renders', async ({ page }) => {
  const L = await layerCount(page);
  await waitForRun(page, L);
  const box = page.getByTestId('prompt-input');
  await box.fill('The Eiffel Tower is in the city of');
  await box.press('Enter');
  await expect(page.getByTestId('token-strip')).toContainText('Tower');
  await waitForRun(page, L);
  await expect(page.getByTestId('token-strip').getByRole('option')).toHaveCount(9);
  await expect(page.getByTestId('top-clean').locator('.pred')).toHaveCount(6);
  expect(await inkFraction(page, 'logit-lens')).toBeGreaterThan(0.05);
});

test('ablating a head changes the prediction shown', async ({ page }) => {
  const L = await layerCount(page);
  await waitForRun(page, L);
  await expect(page.getByTestId('ablate-zero')).toBeVisible();
  const clean = await page.getByTestId('logit-diff').locator('.ld-values').innerText();
  expect(clean).toContain('Δ +0.00');
  await page.getByTestId('ablate-zero').click();
  await expect(page.getByTestId('intervention-list').locator('li')).toHaveCount(1);
  await waitForRun(page, L);
  await expect(page.getByTestId('top-intervened').locator('.pred').first()).toBeVisible();
  await expect(page.getByTestId('logit-diff').locator('.ld-values')).not.toContainText('Δ +0.00');
  // Alt-click a head in the grid toggles its ablation too.
  const grid = page.getByTestId('attention-grid').locator('canvas');
  await grid.click({ modifiers: ['Alt'], position: { x: 48, y: 24 } });
  await expect(page.getByTestId('intervention-list').locator('li')).toHaveCount(2);
  await waitForRun(page, L);
});

test('the steering demo streams two generations side by side', async ({ page }) => {
  const L = await layerCount(page);
  await waitForRun(page, L);
  await page.getByTestId('generate').click();
  const steered = page.getByTestId('gen-steered').locator('p');
  const baseline = page.getByTestId('gen-baseline').locator('p');
  await expect(page.getByTestId('intervention-list')).toContainText('steer');
  // Streaming: text appears while the caret still blinks, then both branches finish.
  await expect(page.getByTestId('steering-panel').locator('.caret').first()).toBeVisible();
  await expect(page.getByTestId('steering-panel')).toContainText(/tokens in/, { timeout: 90_000 });
  const counts = /(\d+) \+ (\d+) tokens/.exec(await page.getByTestId('steering-panel').innerText());
  expect(Number(counts?.[1])).toBeGreaterThanOrEqual(8);
  expect(Number(counts?.[2])).toBeGreaterThanOrEqual(8);
  const s = (await steered.innerText()).replace('I hate you because', '').trim();
  const b = (await baseline.innerText()).replace('I hate you because', '').trim();
  expect(b.length).toBeGreaterThan(10);
  expect(s).not.toEqual(b);
  await page.screenshot({ path: join(DOCS, 'screenshot-steering.png'), fullPage: true });
});

test('a server error is shown plainly and the page keeps working', async ({ page }) => {
  const L = await layerCount(page);
  await waitForRun(page, L);
  const box = page.getByTestId('prompt-input');
  await box.fill('word '.repeat(800));
  await box.press('Enter');
  await expect(page.getByTestId('error-message')).toContainText('too_long');
  await expect(page.getByTestId('connection')).toHaveText(/connected/);
  await box.fill('Once upon a time');
  await box.press('Enter');
  await expect(page.getByTestId('token-strip')).toContainText('Once');
  await waitForRun(page, L);
});
