import { expect, test, type Locator, type Page } from '@playwright/test';
import { openWorkbench, waitForRun } from './helpers';

let L = 30;

/** Hover the bottom-right corner of what is visible of `canvas` inside its scrolling panel. */
async function hoverVisibleCorner(page: Page, canvas: Locator, scroller: Locator, inset = 6): Promise<void> {
  const c = (await canvas.boundingBox())!;
  const s = (await scroller.boundingBox())!;
  const right = Math.min(c.x + c.width, s.x + s.width, 1280) - inset;
  const bottom = Math.min(c.y + c.height, s.y + s.height, 800) - 20;
  await page.mouse.move(right, bottom);
}

test('tooltips at the bottom-right edge of a panel stay whole on screen', async ({ page }) => {
  L = await openWorkbench(page, { width: 1280, height: 800 });
  const grid = page.getByTestId('attention-grid');
  await hoverVisibleCorner(page, grid.locator('canvas').first(), grid, 16);
  await expect(page.getByTestId('attentiongrid-tip')).toBeInViewport({ ratio: 1 });
  await page.getByTestId('tab-lens').click();
  const lens = page.getByTestId('logit-lens');
  await hoverVisibleCorner(page, lens.locator('canvas').first(), page.locator('.tab-body:visible').first());
  await expect(page.getByTestId('logitlens-tip')).toBeInViewport({ ratio: 1 });
});

test('an intervention description is shown whole, position included, and a long prompt keeps every token chip reachable', async ({ page }) => {
  L = await openWorkbench(page, { width: 1280, height: 800 });
  await page.getByTestId('save-source').click();
  await expect(page.getByTestId('intervention-panel')).toContainText('saved “corrupt”: 14 tokens');
  await page.getByTestId('token-strip').getByRole('option').nth(9).click();
  await page.getByLabel('Patch layer').fill('8');
  await page.getByTestId('add-patch').click();
  const desc = page.getByTestId('intervention-list').locator('.desc').first();
  await expect(desc).toHaveText('patch L8 resid_post from “corrupt” @pos 9');
  expect(await desc.evaluate((e) => e.scrollWidth <= e.clientWidth + 1)).toBe(true);
  await desc.scrollIntoViewIfNeeded();
  await expect(desc).toBeInViewport({ ratio: 1 });
  const box = page.getByTestId('prompt-input');
  await box.fill('one two three four five six seven eight nine ten '.repeat(8).trim());
  await box.press('Enter');
  await waitForRun(page, L);
  const chips = page.getByTestId('token-strip').getByRole('option');
  await expect(chips).toHaveCount(80);
  await chips.last().scrollIntoViewIfNeeded();
  await expect(chips.last()).toBeInViewport({ ratio: 1 });
  await expect(page.getByTestId('prompt-input')).toBeInViewport(); // the strip scrolls, not the page
});

test('the grid has a colour legend, and the head pattern offers a √ scale that brightens small weights', async ({ page }) => {
  L = await openWorkbench(page, { width: 1280, height: 800 });
  await expect(page.getByTestId('grid-legend')).toContainText('attention');
  const box = page.getByTestId('prompt-input');
  await box.fill('The quick brown fox jumps over the lazy dog. '.repeat(8).trim());
  await box.press('Enter');
  await waitForRun(page, L);
  await page.getByTestId('tab-head').click();
  await expect(page.getByTestId('attention-detail').locator('canvas')).toBeVisible();
  const brightness = () => page.getByTestId('attention-detail').locator('canvas').evaluate((c: HTMLCanvasElement) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += d[i] + d[i + 1] + d[i + 2];
    return sum / (d.length / 4);
  });
  await expect.poll(brightness).toBeGreaterThan(0);
  const linear = await brightness();
  await page.getByLabel('Attention colour scale').selectOption('sqrt');
  await expect.poll(brightness).toBeGreaterThan(linear * 1.2);
});

test('attention on the text: the focused token’s row coloured onto the prompt, weights summing to 1', async ({ page }) => {
  L = await openWorkbench(page, { width: 1280, height: 800 });
  await page.getByTestId('tab-head').click();
  const text = page.getByTestId('attention-text');
  await expect(text.locator('.attn-tok')).toHaveCount(14);
  const weights = async () => (await text.locator('.attn-tok').evaluateAll((els) => els.map((e) => e.getAttribute('data-weight') ?? '')))
    .filter((w) => w !== '').map(Number);
  // From the last token: a softmax row over all 14 positions.
  await expect.poll(async () => (await weights()).length).toBe(14);
  expect((await weights()).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 1);
  await text.locator('.attn-tok').nth(9).click();
  await expect(text.locator('.attn-tok.at')).toHaveText(' John');
  await expect.poll(async () => (await weights()).length).toBe(10); // from position 9: keys 0..9, the rest masked
  await page.getByLabel('Attention direction').selectOption('to');
  await expect.poll(async () => (await weights()).length).toBe(5); // to position 9: queries 9..13
});
