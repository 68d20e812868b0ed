import { expect, test } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { layerCount, waitForRun } from './helpers';

/**
 * A model without an SAE: a second `loupe serve --no-sae` (the embedded model, no SAE attached) on the
 * port after the suite's. The Features panel says so plainly and the rest of the app works as before.
 */
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PORT = Number(process.env.LOUPE_E2E_PORT ?? 8777) + 1;
const URL_ = `http://127.0.0.1:${PORT}`;
let server: ChildProcess | null = null;

test.beforeAll(async () => {
  test.setTimeout(600_000);
  server = spawn(join(REPO, '.venv', 'bin', 'loupe'), ['serve', '--port', String(PORT), '--host', '127.0.0.1', '--no-sae'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  server.stderr?.on('data', (d: Buffer) => { log = (log + d.toString()).slice(-2000); });
  const deadline = Date.now() + 540_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`loupe serve --no-sae exited (${server.exitCode}): ${log}`);
    const ok = await fetch(`${URL_}/api/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`loupe serve --no-sae did not come up on ${PORT}: ${log}`);
    await new Promise((r) => setTimeout(r, 500));
  }
});

test.afterAll(() => {
  server?.kill();
});

test('without an SAE the Features panel says so and the rest works', async ({ page }) => {
  page.on('pageerror', (e) => {
    throw e;
  });
  // A shared card link to a server without that SAE: a plain notice, not a broken page.
  await page.goto(`${URL_}/?feature=res10:5`);
  await expect(page.getByTestId('connection')).toHaveText(/connected/);
  const L = await layerCount(page);
  await waitForRun(page, L);
  await expect(page.getByTestId('top-clean').locator('.pred').first()).toBeVisible();
  await page.getByTestId('tab-features').click();
  await expect(page.getByTestId('features-none')).toContainText('has no sparse autoencoder attached');
  await expect(page.getByTestId('features-panel')).toContainText('no SAE attached');
  await expect(page.getByTestId('notices')).toContainText('has no SAE "res10"');
  // The rest as before: an ablation re-runs and changes the prediction shown.
  await page.getByTestId('ablate-zero').click();
  await expect(page.getByTestId('intervention-list').locator('li')).toHaveCount(1);
  await waitForRun(page, L);
  await expect(page.getByTestId('logit-diff').locator('.ld-values')).not.toContainText('Δ +0.00');
});
