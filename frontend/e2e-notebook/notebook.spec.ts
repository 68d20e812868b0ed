import { expect, test, type Page } from '@playwright/test';
import { JUPYTER_TOKEN } from '../playwright.notebook.config';
import { screenshotPath } from '../e2e/shots';

/** JupyterLab's application object (exposed with --LabApp.expose_app_in_browser). */
interface LabWindow {
  jupyterapp: {
    commands: { execute(id: string): Promise<unknown> };
    shell: { currentWidget: { content: { activeCellIndex: number; widgets: unknown[] }; sessionContext?: { session?: { kernel?: { status: string } } } } | null };
  };
}

async function runCommand(page: Page, id: string): Promise<void> {
  await page.evaluate((cmd) => (window as unknown as LabWindow).jupyterapp.commands.execute(cmd), id);
}

/** Make the notebook's last cell active and run it. */
async function runLastCell(page: Page): Promise<void> {
  await page.evaluate(() => {
    const nb = (window as unknown as LabWindow).jupyterapp.shell.currentWidget?.content;
    if (!nb) throw new Error('no notebook open');
    nb.activeCellIndex = nb.widgets.length - 1;
  });
  await runCommand(page, 'notebook:run-cell');
}

test('the widget renders in JupyterLab, reads features, and an alt-click ablation reaches the kernel', async ({ page }) => {
  page.on('pageerror', (e) => console.log(`[pageerror] ${e.message}`));
  await page.goto(`/lab/tree/loupe_in_jupyter.ipynb?token=${JUPYTER_TOKEN}`);
  await expect(page.locator('.jp-Notebook .jp-Cell').last()).toBeVisible();
  // The notebook is open and its kernel is up.
  await page.waitForFunction(() => (window as unknown as LabWindow).jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel?.status === 'idle', null, { timeout: 120_000 });
  await runCommand(page, 'notebook:run-all-cells');

  // The live widget: its views fill in from the kernel's session (data-testids pierce the shadow root).
  const widget = page.getByTestId('loupe-widget');
  await expect(widget).toBeVisible();
  await expect(widget.getByTestId('widget-conn')).toHaveText('open', { timeout: 100_000 });
  for (const id of ['attention-grid', 'attention-detail', 'logit-lens', 'residual-view', 'prediction', 'intervention-panel']) {
    await expect(widget.getByTestId(id)).toBeVisible();
  }
  await expect(widget.getByTestId('layer-readout')).toHaveText('29/29');
  await expect(widget.getByTestId('top-clean').locator('.tok').first()).toHaveText('·Mary');
  // The static views of the later cells.
  await expect(page.getByTestId('loupe-static-attention').getByTestId('attention-grid')).toBeVisible();
  await expect(page.getByTestId('loupe-static-tokens').getByTestId('token-strip')).toHaveCount(4);

  // The Features panel reads the run in the shipped SAE's features (the notebook attaches res10 to the
  // kernel's model); a token's feature opens its card, and the card stays out of Jupyter's URL.
  const features = widget.getByTestId('features-panel');
  await expect(features).toContainText('res10');
  await expect(features.getByTestId('feature-strip')).toHaveAttribute('data-rows', /^[1-9]/);
  await features.getByTestId('token-feature').first().click();
  await expect(features.getByTestId('feature-card')).toHaveAttribute('data-ready', 'yes');
  expect(await features.getByTestId('feature-context').count()).toBeGreaterThanOrEqual(10);
  await expect(features.getByTestId('feature-promoted').locator('.flogit-row')).toHaveCount(10);
  expect(page.url()).not.toContain('feature=');
  await features.scrollIntoViewIfNeeded();
  await page.screenshot({ path: screenshotPath('screenshot-notebook-features.png') });

  // Every cell ran: the last one shows the kernel's view of the session (nothing clicked yet).
  const lastOutput = page.locator('.jp-Notebook .jp-Cell').last().locator('.jp-OutputArea-output');
  await expect(lastOutput).toHaveText('[]');

  // Alt-click L23H3 in the widget's grid (geometry of viz/attentionGrid.ts: left 30, top 16, gap 2).
  const canvas = widget.getByTestId('attention-grid').locator('canvas');
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  if (!box) throw new Error('the attention grid has no box');
  const cell = Math.round((box.height - 16 - 2) / 30) - 2; // gridSize: h = top + layers * (cell + gap) + 2
  const at = { x: 30 + 3 * (cell + 2) + cell / 2, y: 16 + 23 * (cell + 2) + cell / 2 };
  await canvas.hover({ position: at });
  await expect(widget.getByTestId('attention-grid').locator('.tooltip')).toContainText('L23 H3');
  await canvas.click({ modifiers: ['Alt'], position: at });
  await expect(widget.getByTestId('intervention-list').locator('li')).toHaveCount(1);
  await expect(widget.getByTestId('top-intervened').locator('.pred').first()).toBeVisible();
  await expect(widget.getByTestId('logit-diff').locator('.ld-values')).not.toContainText('Δ +0.00');

  // The kernel sees it.
  await runLastCell(page);
  await expect(lastOutput).toContainText("'hook': 'blocks.23.attn.hook_z'");
  await expect(lastOutput).toContainText("'head': 3");
  await expect(lastOutput).toContainText("'op': 'ablate'");

  // The README's picture: JupyterLab with the widget's top in view (an element shot of a widget taller than the notebook's scroller garbles).
  await page.getByRole('button', { name: 'No' }).click({ timeout: 5_000 }).catch(() => undefined); // the news toast
  await widget.evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await page.screenshot({ path: screenshotPath('screenshot-notebook.png') });
});
