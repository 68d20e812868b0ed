import { defineConfig } from '@playwright/test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * End-to-end tests in real headless Chromium (Debian's /usr/bin/chromium; never downloaded)
 * against a real `loupe serve` with the embedded SmolLM2 model, serving the built dist/, with an
 * SAE built by e2e/make_sae.py (once; kept in LOUPE_E2E_SAE_DIR) attached as "e2e" (--no-sae: not the shipped one),
 * and the same SAE without its dashboard as "bare".
 */
const PORT = Number(process.env.LOUPE_E2E_PORT ?? 8777);
const SAE_DIR = process.env.LOUPE_E2E_SAE_DIR ?? join(tmpdir(), 'loupe-e2e-sae-v1');
export const BASE_URL = `http://127.0.0.1:${PORT}`;
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

export default defineConfig({
  testDir: 'e2e',
  // CPU model on a small machine: generous limits; a test normally takes 5-15 s.
  timeout: 180_000,
  expect: { timeout: 90_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: BASE_URL,
    viewport: { width: 1600, height: 1000 },
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
    trace: 'off',
    screenshot: 'only-on-failure',
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: {
    // Build the SPA and the SAE if needed (the SAE takes minutes the first time), then serve both
    // with the embedded model (first start dequantizes, ~20 s).
    command: `test -f dist/index.html || npm run build; ../.venv/bin/python e2e/make_sae.py ${SAE_DIR} && `
      + `exec ../.venv/bin/loupe serve --port ${PORT} --host 127.0.0.1 --no-sae --sae ${SAE_DIR}:e2e --sae ${SAE_DIR}-bare:bare`,
    url: `${BASE_URL}/api/health`,
    timeout: 900_000,
    reuseExistingServer: !process.env.CI,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
