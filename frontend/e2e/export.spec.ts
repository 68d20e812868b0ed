import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { layerCount, waitForRun } from './helpers';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function sweep(page: Page): Promise<number> {
  await page.getByTestId('patch-run').click();
  const status = page.getByTestId('patch-status');
  await expect(status).toHaveAttribute('data-status', 'done', { timeout: 150_000 });
  return Number(/clean (−?-?[\d.]+)/.exec(await status.innerText())?.[1].replace('−', '-'));
}

test('sweeps are kept and compared, and the exported script replays each under its own interventions, and the head roles', async ({ page }) => {
  test.setTimeout(600_000);
  page.on('pageerror', (e) => {
    throw e;
  });
  await page.goto('/');
  const L = await layerCount(page);
  await waitForRun(page, L);
  await page.getByTestId('tab-patch').click();
  await page.getByLabel('What to patch').selectOption('layers');
  const clean1 = await sweep(page);
  await page.getByTestId('ablate-zero').click();
  await waitForRun(page, L);
  const clean2 = await sweep(page);
  expect(clean2).not.toBeCloseTo(clean1, 1); // the second sweep ran with the ablation
  // Both sweeps are kept: show the first again, then the difference of the two.
  await page.getByLabel('Sweep shown').selectOption({ index: 1 });
  await expect(page.getByTestId('patch-status')).toContainText(`clean ${clean1.toFixed(2)}`);
  await page.getByLabel('Sweep shown').selectOption({ index: 2 });
  await page.getByLabel('Compare with').selectOption({ index: 1 });
  await expect(page.getByTestId('patch-status')).toHaveAttribute('data-status', 'diff');
  await expect(page.getByTestId('patch-status')).toContainText('#2 layers · exact · 1 intervention');
  await expect(page.getByTestId('patch-top').locator('.chip').first()).toBeVisible();
  await page.getByLabel('Compare with').selectOption({ index: 0 });
  await page.getByTestId('tab-roles').click();
  await expect(page.getByTestId('roles-view').locator('.link-row').first()).toBeVisible();
  await page.getByTestId('export-menu').getByRole('button', { name: /export/ }).click();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-python').click()]);
  const script = readFileSync(await download.path(), 'utf8');
  const out = execFileSync(join(REPO, '.venv', 'bin', 'python'), ['-c', script], { encoding: 'utf8', timeout: 400_000 });
  const clean = (n: number) => Number(new RegExp(`sweep ${n} \\(layers\\): clean (-?[\\d.]+)`).exec(out)?.[1]);
  expect(clean(1)).toBeCloseTo(clean1, 1);
  expect(clean(2)).toBeCloseTo(clean2, 1);
  expect(out).toMatch(/induction \[\('L\d+H\d+', 0\.\d+\)/);
});
