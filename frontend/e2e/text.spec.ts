import { expect, test } from '@playwright/test';
import { openWorkbench, waitForRun } from './helpers';

let L = 30;

test('a character split into byte-level tokens is one chip, and the views label its pieces', async ({ page }) => {
  L = await openWorkbench(page);
  const box = page.getByTestId('prompt-input');
  await box.fill('I like ☕ with milk');
  await box.press('Enter');
  await waitForRun(page, L);
  const strip = page.getByTestId('token-strip');
  await expect(strip.getByRole('option')).toHaveCount(5);
  const cup = strip.getByTestId('chip-merged');
  await expect(cup).toHaveText('2–4·☕');
  await expect(strip).not.toContainText('\uFFFD');
  await cup.click();
  await expect(cup).toHaveAttribute('aria-selected', 'true');
  // The focused position is the cup's last byte: the interventions panel names it.
  await expect(page.getByTestId('intervention-panel')).toContainText('“·☕[3/3]” (4)');
});

test('generation stops at the end-of-text token and never shows it', async ({ page }) => {
  L = await openWorkbench(page);
  await page.getByLabel('Generation prompt').fill('<|im_start|>user What is 2+2?<|im_end|> <|im_start|>assistant ');
  await page.getByTestId('generate').click();
  const baseline = page.getByTestId('gen-baseline');
  await expect(baseline).toContainText('The answer is: 2');
  await expect(baseline.getByTestId('gen-end')).toHaveText('end of text');
  await expect(baseline.locator('p')).not.toContainText('is: 2<|im_end|>');
  await expect(baseline).toHaveAttribute('data-tokens', '7');
});
