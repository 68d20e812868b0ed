import { defineConfig } from '@playwright/test';

/** `npm run bench`: the grid-drawing benchmark in real headless Chromium (no model server needed). */
export default defineConfig({
  testDir: '.',
  testMatch: 'grid.bench.ts',
  timeout: 180_000,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: 'http://127.0.0.1:4183',
    viewport: { width: 1400, height: 1000 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
  },
  webServer: {
    command: 'npx vite build --config bench/vite.bench.config.ts --logLevel warn && npx vite preview --config bench/vite.bench.config.ts',
    cwd: '..',
    url: 'http://127.0.0.1:4183/index.html',
    timeout: 120_000,
    reuseExistingServer: false,
  },
});
