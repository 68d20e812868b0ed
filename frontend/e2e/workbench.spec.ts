import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inkFraction, layerCount, waitForRun } from './helpers';
import { screenshotPath } from './shots';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

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
  for (const id of ['prompt-input', 'token-strip', 'layer-scrubber', 'attention-grid', 'attention-detail', 'intervention-panel', 'steering-panel']) {
    await expect(page.getByTestId(id)).toBeVisible();
  }
  await expect(page.getByTestId('prompt-input')).toHaveValue(/When Mary and John went to the store/);
  await expect(page.getByTestId('token-strip').getByRole('option')).toHaveCount(14);
  // The head detail is filled on its own (a head is picked after the first run).
  await expect(page.getByTestId('attention-detail').locator('canvas')).toBeVisible();
  expect(await inkFraction(page, 'attention-grid'), 'the grid is drawn').toBeGreaterThan(0.05);
  // The head pattern, the logit lens and the residual view share the tab area.
  for (const [tab, id] of [['head', 'attention-detail'], ['lens', 'logit-lens'], ['resid', 'residual-view']]) {
    await page.getByTestId(`tab-${tab}`).click();
    await expect(page.getByTestId(id)).toBeVisible();
    await expect.poll(() => inkFraction(page, id), { message: `${id} canvas is drawn` }).toBeGreaterThan(0.05);
  }
  await page.getByTestId('tab-head').click();
  await expect(page.getByTestId('top-clean')).toContainText('Mary');
  await expect(page.getByTestId('logit-diff')).toContainText('clean +');
  await page.screenshot({ path: screenshotPath('screenshot-default.png'), fullPage: true });

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
  await page.getByTestId('tab-lens').click();
  await expect.poll(() => inkFraction(page, 'logit-lens')).toBeGreaterThan(0.05);
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
  // The session exported as a Python script reproduces the numbers through loupe.client.
  const shown = await page.getByTestId('logit-diff-value').innerText();
  await page.getByTestId('export-menu').getByRole('button', { name: /export/ }).click();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-python').click()]);
  const script = readFileSync(await download.path(), 'utf8');
  expect(script).toContain('"op": "ablate"');
  const out = execFileSync(join(REPO, '.venv', 'bin', 'python'), ['-c', script], { encoding: 'utf8', timeout: 60_000 });
  expect(out).toContain(`intervened ${shown.replace('−', '-')}`);
  // Alt-click a head in the grid toggles its ablation too.
  const grid = page.getByTestId('attention-grid').locator('canvas');
  await grid.click({ modifiers: ['Alt'], position: { x: 48, y: 24 } });
  await expect(page.getByTestId('intervention-list').locator('li')).toHaveCount(2);
  await waitForRun(page, L);
});

test('patching an activation from a saved second prompt changes the answer', async ({ page }) => {
  const L = await layerCount(page);
  await waitForRun(page, L);
  await page.getByTestId('save-source').click();
  await expect(page.getByTestId('intervention-panel')).toContainText('saved “corrupt”: 14 tokens');
  await page.getByTestId('token-strip').getByRole('option').nth(9).click(); // the second " John"
  await page.getByLabel('Patch layer').fill('8');
  await page.getByTestId('add-patch').click();
  await expect(page.getByTestId('intervention-list')).toContainText('patch L8 resid_post from “corrupt” @pos 9');
  await waitForRun(page, L);
  await expect(page.getByTestId('logit-diff-value')).toHaveText(/^−/);
  await expect(page.getByTestId('top-intervened').locator('.tok').first()).toHaveText('·John');
});

test('the steering demo streams two generations side by side', async ({ page }) => {
  test.setTimeout(240_000);
  const L = await layerCount(page);
  await waitForRun(page, L);
  // Record every token count the steered column shows: streaming means many distinct values.
  await page.evaluate(() => {
    const el = document.querySelector('[data-testid="gen-steered"]') as HTMLElement;
    const seen: string[] = ((window as unknown as { seen: string[] }).seen = []);
    new MutationObserver(() => seen.push(el.dataset.tokens ?? '')).observe(el, { attributes: true, attributeFilter: ['data-tokens'] });
  });
  await page.getByTestId('generate').click();
  const steered = page.getByTestId('gen-steered').locator('p');
  const baseline = page.getByTestId('gen-baseline').locator('p');
  await expect(page.getByTestId('intervention-list')).toContainText('steer');
  const count = async (id: string) => Number(await page.getByTestId(id).getAttribute('data-tokens'));
  await expect.poll(() => count('gen-steered'), { timeout: 150_000 }).toBeGreaterThanOrEqual(8);
  await expect.poll(() => count('gen-baseline'), { timeout: 150_000 }).toBeGreaterThanOrEqual(8);
  const seen = await page.evaluate(() => new Set((window as unknown as { seen: string[] }).seen).size);
  expect(seen, 'the steered column filled in token by token').toBeGreaterThan(4);
  const s = (await steered.innerText()).replace('I hate you because', '').trim();
  const b = (await baseline.innerText()).replace('I hate you because', '').trim();
  expect(b.length).toBeGreaterThan(10);
  expect(s).not.toEqual(b);
  await expect(page.getByTestId('steering-panel')).toContainText(/tokens in/, { timeout: 150_000 });
  await page.mouse.move(0, 0);
  await page.setViewportSize({ width: 1600, height: 1240 });
  await page.screenshot({ path: screenshotPath('screenshot.png') });
});

test('a server error is shown plainly and the page keeps working', async ({ page }) => {
  const L = await layerCount(page);
  await waitForRun(page, L);
  const box = page.getByTestId('prompt-input');
  await box.fill('word '.repeat(800));
  await box.press('Enter');
  await expect(page.getByTestId('error-message')).toContainText('too_long');
  await expect(page.getByTestId('connection')).toHaveText(/connected/);
  // The last good run stays on screen.
  await expect(page.getByTestId('token-strip').getByRole('option')).toHaveCount(14);
  await page.getByTestId('tab-lens').click();
  await expect.poll(() => inkFraction(page, 'logit-lens')).toBeGreaterThan(0.05);
  await box.fill('Once upon a time');
  await box.press('Enter');
  await expect(page.getByTestId('token-strip')).toContainText('Once');
  await waitForRun(page, L);
});
