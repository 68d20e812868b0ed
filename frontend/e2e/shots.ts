import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Where the e2e suite saves its screenshots: test-results/screenshots by default, so `make test`
 * leaves the tree clean; `LOUPE_SCREENSHOTS_DIR=../docs npm run e2e` refreshes the README's pictures.
 */
export function screenshotPath(name: string): string {
  const dir = resolve(process.env.LOUPE_SCREENSHOTS_DIR ?? join('test-results', 'screenshots'));
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
