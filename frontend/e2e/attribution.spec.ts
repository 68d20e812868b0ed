import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BASE_URL } from '../playwright.config';
import { openWorkbench } from './helpers';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** logit(answer) − logit(wrong) after the first `n` tokens of `prompt`: a plain run of that prefix (scripting client). */
function prefixLogitDiff(prompt: string, n: number): number {
  const code = [
    'import sys',
    'from loupe.client import SyncClient',
    `with SyncClient(${JSON.stringify(BASE_URL.replace('http', 'ws') + '/ws')}) as lo:`,
    '    ids = lo.run(sys.argv[1]).tokens.tolist()',
    '    print(lo.run(ids[: int(sys.argv[2])], answer=" Mary", wrong=" John").logit_diff["value"])',
  ].join('\n');
  const out = execFileSync(join(REPO, '.venv', 'bin', 'python'), ['-c', code, prompt, String(n)], { encoding: 'utf8', timeout: 120_000 });
  return Number(out.trim());
}

const num = (s: string) => Number(s.replace('−', '-'));

test('attribution at a chosen position: the bars attribute the logit difference predicted after that token', async ({ page }) => {
  await openWorkbench(page);
  const prompt = await page.getByTestId('prompt-input').inputValue();
  await page.getByTestId('tab-dla').click();
  await page.getByTestId('dla-run').click();
  const total = page.getByTestId('dla-total');
  await expect(total).toContainText('of 301');
  const last = num(/the run: ([+−-]?[\d.]+)/.exec(await total.innerText())![1]);
  // Pick the token " gave": the bars re-run there at once.
  const select = page.getByTestId('dla-position');
  const options = await select.locator('option').allInnerTexts();
  const index = options.findIndex((o) => /^\d+: ·gave$/.test(o));
  expect(index).toBeGreaterThan(0);
  const pos = Number(options[index].split(':')[0]);
  await select.selectOption(String(pos));
  await expect(page.getByTestId('dla-at')).toHaveText('·gave');
  await expect(total).toContainText(`at ${pos}:`);
  const text = await total.innerText();
  const [, sum, actual] = /sum to ([+−-]?[\d.]+) \(the run: ([+−-]?[\d.]+)\)/.exec(text)!;
  expect(num(actual)).not.toBeCloseTo(last, 1);
  // Independent check: a plain forward pass of the prompt cut after " gave" has that logit difference.
  expect(num(actual)).toBeCloseTo(prefixLogitDiff(prompt, pos + 1), 1);
  expect(num(sum)).toBeCloseTo(num(actual), 0); // the components add up to it (final-norm scale frozen)
});
