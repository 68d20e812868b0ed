import { expect, test } from '@playwright/test';
import { openWorkbench, waitForRun } from './helpers';

let L = 30;

test('a multi-token answer is refused by name, the run goes on, and a one-token answer shows its token id', async ({ page }) => {
  L = await openWorkbench(page);
  await expect(page.getByTestId('logit-diff-tokens')).toHaveText('tokens 5099 “·Mary” − 2322 “·John”');
  await page.getByLabel('Answer token').fill(' Marygold');
  await page.getByLabel('Answer token').press('Enter');
  const refused = page.getByTestId('logit-diff-refused');
  await expect(refused).toContainText("answer: ' Marygold' is 2 tokens (' Mary' + 'gold'); pass a single token");
  // No number from the first token only, and the views still ran.
  await expect(page.getByTestId('logit-diff-value')).toHaveCount(0);
  await waitForRun(page, L);
  await expect(page.getByTestId('notices')).toHaveCount(0);
  await page.getByLabel('Wrong token').fill(' Xqzvbn');
  await page.getByLabel('Answer token').fill(' Mary');
  await page.getByLabel('Answer token').press('Enter');
  await expect(refused).toContainText("wrong answer: ' Xqzvbn' is 5 tokens (' X' + 'q' + 'z' + 'v' + 'bn')");
  await page.getByLabel('Wrong token').fill(' John');
  await page.getByLabel('Wrong token').press('Enter');
  await expect(page.getByTestId('logit-diff-value')).toHaveText('+6.12');
  await expect(refused).toHaveCount(0);
});
