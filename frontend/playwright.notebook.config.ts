import { resolve } from 'node:path';
import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS } from './playwright.config';

/**
 * The notebook widget end to end: a real JupyterLab (this checkout's venv, kernel included) serving a
 * copy of examples/loupe_in_jupyter.ipynb, opened in Debian's headless Chromium. Own port
 * (LOUPE_E2E_NOTEBOOK_PORT, default 8878) and token; the copy keeps the example free of outputs.
 */
const PORT = Number(process.env.LOUPE_E2E_NOTEBOOK_PORT ?? 8878);
export const JUPYTER_TOKEN = 'loupe-e2e-notebook';
export const JUPYTER_URL = `http://127.0.0.1:${PORT}`;
const ROOT = resolve('test-results', 'notebook-root');
const BACKEND = resolve('..', 'backend');

export default defineConfig({
  testDir: 'e2e-notebook',
  // Kernel start, the embedded model and every cell on a small CPU machine: generous limits.
  timeout: 420_000,
  expect: { timeout: 180_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: 'test-results/notebook',
  use: {
    baseURL: JUPYTER_URL,
    viewport: { width: 1400, height: 1000 },
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
    trace: 'off',
    screenshot: 'only-on-failure',
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: {
    command: [
      'test -f ../backend/loupe/notebook/static/widget.js || npm run build:widget',
      `rm -rf ${ROOT} && mkdir -p ${ROOT} && cp ../examples/loupe_in_jupyter.ipynb ${ROOT}/`,
      `exec ../.venv/bin/jupyter-lab --no-browser --allow-root --ServerApp.log_level=WARN --ServerApp.ip=127.0.0.1 --ServerApp.port=${PORT} --ServerApp.port_retries=0`
        + ` --IdentityProvider.token=${JUPYTER_TOKEN} --ServerApp.root_dir=${ROOT} --LabApp.expose_app_in_browser=True`
        + ` --LabApp.workspaces_dir=${ROOT}/.workspaces --LabApp.user_settings_dir=${ROOT}/.settings`,
    ].join(' && '),
    url: `${JUPYTER_URL}/api`,
    timeout: 180_000,
    reuseExistingServer: false,
    env: { PYTHONPATH: [BACKEND, process.env.PYTHONPATH].filter(Boolean).join(':') },
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
