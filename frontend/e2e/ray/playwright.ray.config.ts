import { defineConfig } from '@playwright/test';
import base from '../../playwright.config';

/**
 * `npm run e2e:ray`: the web UI through the front door of `loupe serve --ray` (a local Ray cluster, one
 * replica of the embedded model behind Loupe's balancer). Ray needs a minute or more to start here.
 */
const PORT = Number(process.env.LOUPE_E2E_RAY_PORT ?? 8702);

export default defineConfig({
  ...base,
  testDir: '.',
  testMatch: '*.ray.ts',
  use: { ...base.use, baseURL: `http://127.0.0.1:${PORT}` },
  webServer: {
    command: `test -f dist/index.html || npm run build; exec ../.venv/bin/loupe serve --ray --replicas 1 --port ${PORT}`,
    cwd: '../..',
    // 503 until a replica has loaded the model and announced itself to the balancer
    url: `http://127.0.0.1:${PORT}/api/health`,
    timeout: 600_000,
    reuseExistingServer: false,
    // SIGTERM: the server deletes the Serve app and stops its local Ray cluster before it exits
    gracefulShutdown: { signal: 'SIGTERM', timeout: 60_000 },
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
