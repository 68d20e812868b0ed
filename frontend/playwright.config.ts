import { defineConfig } from '@playwright/test';

/**
 * End-to-end tests in real headless Chromium (Debian's /usr/bin/chromium; never downloaded)
 * against a real `loupe serve` with the embedded SmolLM2 model, serving the built dist/.
 */
const PORT = Number(process.env.LOUPE_E2E_PORT ?? 8777);
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
    // Build the SPA if needed, then serve it with the embedded model (first start dequantizes, ~20 s).
    command: `test -f dist/index.html || npm run build; exec ../.venv/bin/loupe serve --port ${PORT} --host 127.0.0.1`,
    url: `${BASE_URL}/api/health`,
    timeout: 300_000,
    reuseExistingServer: !process.env.CI,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
