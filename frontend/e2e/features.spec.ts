import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { layerCount, waitForRun } from './helpers';
import { screenshotPath } from './shots';

/** The features views against the real server with its SAE (see playwright.config.ts). */

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function ready(page: Page, url = '/'): Promise<number> {
  page.on('pageerror', (e) => {
    throw e;
  });
  await page.goto(url);
  await expect(page.getByTestId('connection')).toHaveText(/connected/);
  const L = await layerCount(page);
  await waitForRun(page, L);
  await page.getByTestId('tab-features').click();
  // The run that carries features (asked once the SAE list is in) fills the strip.
  await expect(page.getByTestId('feature-strip')).toHaveAttribute('data-rows', /^[1-9]/);
  return L;
}

test('a token opens a feature whose card shows its top contexts in colour', async ({ page }) => {
  await ready(page);
  await page.getByTestId('token-strip').getByRole('option').nth(9).click(); // the second " John"
  const first = page.getByTestId('token-feature').first();
  await expect(first).toBeVisible();
  const index = await first.getAttribute('data-index');
  await first.click();
  const card = page.getByTestId('feature-card');
  await expect(card).toHaveAttribute('data-ready', 'yes');
  await expect(card).toHaveAttribute('data-feature', new RegExp(`:${index}$`));
  expect(await page.getByTestId('feature-context').count()).toBeGreaterThanOrEqual(10);
  // Tokens are shaded by activation and carry their value on hover.
  const lit = page.getByTestId('feature-context').first().locator('.ftok.on');
  expect(await lit.count()).toBeGreaterThan(0);
  const bg = await lit.first().evaluate((el) => getComputedStyle(el).backgroundColor);
  expect(bg).toMatch(/rgba?\(240, 140, 46/);
  await expect(lit.first()).toHaveAttribute('title', /: \d+\.\d{3}$/);
  await expect(page.getByTestId('feature-promoted').locator('.flogit-row')).toHaveCount(10);
  await expect(page.getByTestId('feature-suppressed').locator('.flogit-row')).toHaveCount(10);
  // The card's URL opens it directly in a fresh page.
  expect(new URL(page.url()).searchParams.get('feature')).toMatch(new RegExp(`:${index}$`));
  const again = await page.context().newPage();
  await again.goto(page.url());
  await expect(again.getByTestId('feature-card')).toHaveAttribute('data-ready', 'yes');
  await expect(again.getByTestId('feature-card')).toHaveAttribute('data-feature', new RegExp(`:${index}$`));
  await again.close();
});

test('an SAE without a dashboard: its card says so and still shows its logit effects', async ({ page }) => {
  await ready(page);
  await page.getByLabel('Sparse autoencoder').selectOption('bare');
  await expect(page.getByTestId('features-panel')).toContainText('bare: 1024 features');
  // The re-run that reads the new SAE's features replaces the token list.
  await expect(page.getByTestId('token-feature').first()).toHaveAttribute('data-sae', 'bare');
  await page.getByTestId('token-feature').first().click();
  const card = page.getByTestId('feature-card');
  await expect(card).toHaveAttribute('data-ready', 'yes');
  await expect(card).toHaveAttribute('data-feature', /^bare:/);
  await expect(page.getByTestId('feature-no-dashboard')).toContainText('This SAE has no dashboard');
  await expect(page.getByTestId('feature-promoted').locator('.flogit-row')).toHaveCount(10);
  await expect(page.getByTestId('feature-context')).toHaveCount(0);
  await expect(page.getByTestId('feature-label')).toContainText('→ ');
});

test('search by token returns features', async ({ page }) => {
  await ready(page);
  await page.getByTestId('ftab-search').click();
  await page.getByTestId('feature-search-by').selectOption('token');
  await page.getByTestId('feature-query').fill(' Paris');
  await page.getByTestId('feature-search-go').click();
  await expect(page.getByTestId('feature-results')).toHaveAttribute('data-count', /^[1-9]/);
  await page.getByTestId('feature-chip').first().click();
  await expect(page.getByTestId('feature-card')).toHaveAttribute('data-ready', 'yes');
});

test('contrast search returns features, and the exported script reproduces it', async ({ page }) => {
  await ready(page);
  // Steer by a feature first: contrast runs carry the session's interventions, in the UI and in the script.
  await page.getByTestId('token-feature').first().click();
  await expect(page.getByTestId('feature-card')).toHaveAttribute('data-ready', 'yes');
  const steered = (await page.getByTestId('feature-card').getAttribute('data-feature'))?.split(':')[1];
  await page.getByTestId('feature-mode').selectOption('add');
  await page.getByTestId('feature-apply').click();
  await expect(page.getByTestId('intervention-list')).toContainText(`#${steered} add`);
  await page.getByTestId('ftab-search').click();
  await page.getByTestId('feature-search-by').selectOption('contrast');
  await page.getByTestId('contrast-a').fill('I love this film\nWhat a wonderful day');
  await page.getByTestId('contrast-b').fill('I hate this film\nWhat an awful day');
  await page.getByTestId('feature-search-go').click();
  await expect(page.getByTestId('feature-results')).toHaveAttribute('data-count', /^[1-9]/);
  const chip = page.getByTestId('feature-chip').first();
  const index = await chip.getAttribute('data-index');
  await chip.click();
  await expect(page.getByTestId('feature-card')).toHaveAttribute('data-ready', 'yes');
  // The search, the open card and the feature edit go into the exported script, which reproduces
  // them through loupe.client against the same server.
  await page.getByTestId('export-menu').getByRole('button', { name: /export/ }).click();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-python').click()]);
  const script = readFileSync(await download.path(), 'utf8');
  expect(script).toContain(`"op": "feature", "sae": "e2e", "index": ${steered}, "mode": "add"`);
  expect(script).toContain('lo.call("features.contrast", sae="e2e", a=["I love this film", "What a wonderful day"]');
  const out = execFileSync(join(REPO, '.venv', 'bin', 'python'), ['-c', script], { encoding: 'utf8', timeout: 120_000 });
  expect(out).toMatch(new RegExp(`contrast A - B: \\[\\(${index}, `));
  expect(out).toContain(`feature ${index} `);
  expect(out).toContain('(interventions applied)');
});

test('setting a feature changes the next token and the side-by-side generation', async ({ page }) => {
  test.setTimeout(300_000);
  const L = await ready(page);
  await page.getByTestId('token-feature').first().click();
  await expect(page.getByTestId('feature-card')).toHaveAttribute('data-ready', 'yes');
  await page.getByTestId('feature-mode').selectOption('add');
  await page.getByTestId('feature-apply').click();
  await page.getByTestId('feature-slider').focus();
  await page.keyboard.press('End'); // the strongest push the slider offers; each move re-runs at once
  await expect(page.getByTestId('intervention-list')).toContainText(/feature \S+#\d+ add \+/);
  await waitForRun(page, L);
  await expect(page.getByTestId('top-intervened').locator('.pred').first()).toBeVisible();
  // Some probability moved by at least .005 (or a new token entered the top list).
  expect(await page.getByTestId('top-intervened').locator('.delta.up, .delta.down, .delta.new').count()).toBeGreaterThan(0);
  await page.getByTestId('feature-generate').click();
  const count = async (id: string) => Number(await page.getByTestId(id).getAttribute('data-tokens'));
  await expect.poll(() => count('gen-steered'), { timeout: 200_000 }).toBeGreaterThanOrEqual(8);
  await expect.poll(() => count('gen-baseline'), { timeout: 200_000 }).toBeGreaterThanOrEqual(8);
  await expect(page.getByTestId('steering-panel')).toContainText(/tokens in/, { timeout: 200_000 });
  const prompt = (await page.getByLabel('Generation prompt').inputValue()).trim();
  const s = (await page.getByTestId('gen-steered').locator('p').innerText()).replace(prompt, '').trim();
  const b = (await page.getByTestId('gen-baseline').locator('p').innerText()).replace(prompt, '').trim();
  expect(s).not.toEqual(b);
});

test('the features view at 1280x800 and 1920x1080', async ({ page }) => {
  for (const [width, height] of [[1280, 800], [1920, 1080]]) {
    await page.setViewportSize({ width, height });
    await ready(page);
    await page.getByTestId('token-strip').getByRole('option').nth(9).click();
    await page.getByTestId('token-feature').first().click();
    await expect(page.getByTestId('feature-card')).toHaveAttribute('data-ready', 'yes');
    await page.getByTestId('features-panel').scrollIntoViewIfNeeded();
    await page.mouse.move(0, 0);
    await page.screenshot({ path: screenshotPath(`screenshot-features-${width}x${height}.png`) });
    await page.getByTestId('features-panel').screenshot({ path: screenshotPath(`screenshot-feature-card-${width}.png`) });
  }
});
