import { defineConfig } from '@playwright/test';

/**
 * Feature-card benchmark (bench/featurecard.bench.ts) in headless Chromium against a running
 * Loupe server with an SAE: `LOUPE_BENCH_URL=http://127.0.0.1:PORT` (loupe.bench.feature_card starts one).
 */
export default defineConfig({
  testDir: '.',
  testMatch: 'featurecard.bench.ts',
  timeout: 300_000,
  expect: { timeout: 120_000 },
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: process.env.LOUPE_BENCH_URL ?? 'http://127.0.0.1:8000',
    viewport: { width: 1600, height: 1000 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
});
