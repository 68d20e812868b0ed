import { expect, type Page } from '@playwright/test';

/** Wait until the page's current run has finished (every layer in, timing shown). */
export async function waitForRun(page: Page, nLayers = 30): Promise<void> {
  await expect(page.getByTestId('layer-readout')).toHaveText(`${nLayers - 1}/${nLayers - 1}`);
  await expect(page.getByTestId('run-progress')).toContainText('ms');
}

/** Fraction of a panel canvas's pixels that differ from its corner (i.e. something was drawn). */
export async function inkFraction(page: Page, testId: string): Promise<number> {
  return page.getByTestId(testId).locator('canvas').first().evaluate((c: HTMLCanvasElement) => {
    const ctx = c.getContext('2d');
    if (!ctx || c.width < 2) return 0;
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && d[i] + d[i + 1] + d[i + 2] > 60) ink++;
    return ink / (d.length / 4);
  });
}

/** The model's layer count from the header ("30 layers × 9 heads"). */
export async function layerCount(page: Page): Promise<number> {
  await expect(page.locator('.model')).toContainText(/\d+ layers/); // the welcome may not have arrived yet
  const text = await page.locator('.model').innerText();
  return Number(/(\d+) layers/.exec(text)?.[1] ?? 0);
}

/** Open the workbench (at `viewport` if given), fail on any page error, wait for the default run; the layer count. */
export async function openWorkbench(page: Page, viewport?: { width: number; height: number }): Promise<number> {
  page.on('pageerror', (e) => {
    throw e;
  });
  if (viewport) await page.setViewportSize(viewport);
  await page.goto('/');
  await expect(page.getByTestId('connection')).toHaveText(/connected/);
  const layers = await layerCount(page);
  await waitForRun(page, layers);
  return layers;
}

/** Save the Example's corrupt prompt and patch the second " John" (position 9) at layer 8 from it; no wait. */
export async function patchSecondJohn(page: Page): Promise<void> {
  await page.getByTestId('save-source').click();
  await expect(page.getByTestId('intervention-panel')).toContainText('saved “corrupt”: 14 tokens');
  await page.getByTestId('token-strip').getByRole('option').nth(9).click();
  await page.getByLabel('Patch layer').fill('8');
  await page.getByTestId('add-patch').click();
}
