import { expect, test } from '@playwright/test';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Open feature cards the way a person does (click a chip of search results) and time, in the
 * page, from the click to the first frame after the card's dashboard is on screen; also the
 * `features.info` round trip the UI itself measured. Numbers are reported, not asserted.
 */
test('feature card: click to painted card', async ({ page }) => {
  const n = Number(process.env.LOUPE_BENCH_CARDS ?? 12);
  await page.goto('/');
  await page.getByTestId('tab-features').click();
  await expect(page.getByTestId('feature-strip')).toHaveAttribute('data-rows', /[1-9]/);
  await page.getByTestId('ftab-search').click();
  await page.getByTestId('feature-search-by').selectOption('contrast');
  await page.getByTestId('feature-search-go').click();
  await expect(page.getByTestId('feature-results')).toBeVisible();
  const chips = page.getByTestId('feature-chip');
  const count = Math.min(n, await chips.count());
  const open: number[] = [];
  const info: number[] = [];
  for (let i = 0; i < count; i++) {
    if (i > 0) await page.getByTestId('ftab-search').click();
    const ms = await chips.nth(i).evaluate((chip: HTMLElement) => new Promise<number>((resolve) => {
      const key = `${chip.dataset.sae}:${chip.dataset.index}`;
      const ready = () => document.querySelector(`[data-testid="feature-card"][data-feature="${key}"][data-ready="yes"]`);
      const t0 = performance.now();
      const done = () => requestAnimationFrame(() => resolve(performance.now() - t0));
      const obs = new MutationObserver(() => {
        if (ready()) {
          obs.disconnect();
          done();
        }
      });
      obs.observe(document.body, { subtree: true, childList: true, attributes: true });
      chip.click();
    }));
    open.push(ms);
    const loaded = await page.getByTestId('feature-ms').innerText();
    info.push(Number(/loaded in (\d+)/.exec(loaded)?.[1] ?? NaN));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)];
  const result = {
    date: new Date().toISOString(), userAgent: await page.evaluate(() => navigator.userAgent), cards: count,
    openMedianMs: median(open), openP95Ms: p95(open), openMaxMs: Math.max(...open), infoMedianMs: median(info), openMs: open, infoMs: info,
  };
  console.log(JSON.stringify(result));
  writeFileSync(join(dirname(fileURLToPath(import.meta.url)), 'features.results.json'), `${JSON.stringify(result, null, 2)}\n`);
});
