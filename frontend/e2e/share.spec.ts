import { expect, test, type Page } from '@playwright/test';
import { layerCount, waitForRun } from './helpers';

async function ready(page: Page): Promise<number> {
  page.on('pageerror', (e) => {
    throw e;
  });
  await expect(page.getByTestId('connection')).toHaveText(/connected/);
  const L = await layerCount(page);
  await waitForRun(page, L);
  return L;
}

/** What the session shows: the things a reload or a link must bring back. */
async function shown(page: Page, L: number) {
  await waitForRun(page, L);
  await expect(page.getByTestId('intervention-list').locator('li')).toHaveCount(2);
  const lensShown = await page.getByTestId('logit-lens').isVisible();
  await page.getByTestId('tab-head').click();
  return {
    prompt: await page.getByTestId('prompt-input').inputValue(),
    items: await page.getByTestId('intervention-list').locator('.desc').allInnerTexts(),
    diff: await page.getByTestId('logit-diff-value').innerText(),
    head: (await page.getByTestId('attention-detail').locator('.panel-hint').innerText()).split(' ').slice(0, 2).join(' '),
    focus: (await page.getByTestId('token-strip').getByRole('option', { selected: true }).innerText()).replace(/\s+/g, ''),
    lensShown,
  };
}

test('a reload and the page address (a link) restore prompt, interventions, head, focus and tab', async ({ page, browser }) => {
  await page.goto('/');
  const L = await ready(page);
  const box = page.getByTestId('prompt-input');
  await box.fill('When Mary and John went to the park, John gave a ball to');
  await box.press('Enter');
  await waitForRun(page, L);
  await page.getByTestId('attention-grid').locator('canvas').click({ position: { x: 150, y: 120 } });
  await expect(page.getByTestId('attention-detail').locator('.panel-hint')).toContainText(/^L\d+ H\d+/);
  await page.getByTestId('ablate-zero').click();
  await waitForRun(page, L);
  await page.getByTestId('tab-patch').click();
  await page.getByLabel('Corrupt prompt').fill('When Mary and John went to the park, Mary gave a ball to');
  await page.getByTestId('save-source').click();
  await expect(page.getByTestId('intervention-panel')).toContainText('saved “corrupt”: 14 tokens');
  await page.getByTestId('token-strip').getByRole('option').nth(9).click();
  await page.getByLabel('Patch layer').fill('8');
  await page.getByTestId('add-patch').click();
  await page.getByTestId('tab-lens').click();
  const before = await shown(page, L);
  expect(before).toMatchObject({ prompt: 'When Mary and John went to the park, John gave a ball to', focus: '9·John', lensShown: true });
  expect(before.items[1]).toBe('patch L8 resid_post from “corrupt” @pos 9');
  await page.getByTestId('tab-lens').click();
  const link = page.url();
  expect(link).toContain('session=');

  await page.reload();
  expect(await shown(page, await ready(page))).toEqual(before);

  const other = await (await browser.newContext()).newPage();
  await other.goto(link);
  expect(await shown(other, await ready(other))).toEqual(before);
  await expect(other.getByTestId('notices')).toHaveCount(0);
});

test('a damaged link says so and the page still works', async ({ page }) => {
  await page.goto('/?session=eyJ2IjoxLCJwcm9tcHQi');
  await ready(page);
  await expect(page.getByTestId('notices')).toContainText('not readable');
});
