/**
 * PNG export of the current view: the visual panels' canvases composed side by side onto one
 * canvas with their titles, in the page's colours.
 */
const PANELS = ['attention-grid', 'attention-detail', 'logit-lens', 'residual-view'];

export interface ComposeOptions { title: string; background?: string }

/** Compose every visible canvas of the main panels into one PNG blob. */
export async function composePng(root: ParentNode, opts: ComposeOptions): Promise<Blob> {
  const parts: { title: string; canvas: HTMLCanvasElement; w: number; h: number }[] = [];
  for (const id of PANELS) {
    const panel = root.querySelector(`[data-testid="${id}"]`);
    const canvas = panel?.querySelector('canvas');
    if (!panel || !canvas || canvas.style.display === 'none' || canvas.width < 2) continue;
    const title = panel.querySelector('h2')?.textContent ?? id;
    const hint = panel.querySelector('.panel-hint')?.textContent ?? '';
    const r = canvas.getBoundingClientRect();
    parts.push({ title: hint ? `${title} · ${hint}` : title, canvas, w: r.width || canvas.width, h: r.height || canvas.height });
  }
  const pad = 16, head = 26, top = 40;
  // Two columns: grid on the left, the rest stacked on the right.
  const [first, ...rest] = parts;
  const leftW = first ? first.w : 0;
  const rightW = Math.max(0, ...rest.map((p) => p.w));
  const leftH = first ? first.h + head : 0;
  const rightH = rest.reduce((a, p) => a + p.h + head + pad, 0);
  const W = Math.ceil(pad * 3 + leftW + rightW);
  const H = Math.ceil(top + pad + Math.max(leftH, rightH) + pad);
  const scale = 2;
  const out = document.createElement('canvas');
  out.width = W * scale;
  out.height = H * scale;
  const ctx = out.getContext('2d');
  if (!ctx) throw new Error('2d canvas unavailable');
  ctx.scale(scale, scale);
  ctx.fillStyle = opts.background ?? '#0c0e13';
  ctx.fillRect(0, 0, W, H);
  ctx.fillStyle = '#e6e9ef';
  ctx.font = '600 15px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  ctx.fillText(opts.title, pad, top / 2 + 4);
  const place = (p: (typeof parts)[number], x: number, y: number) => {
    ctx.fillStyle = '#8a93a6';
    ctx.font = '12px system-ui, sans-serif';
    ctx.fillText(p.title, x, y + head / 2);
    ctx.drawImage(p.canvas, x, y + head, p.w, p.h);
  };
  if (first) place(first, pad, top);
  let y = top;
  for (const p of rest) {
    place(p, pad * 2 + leftW, y);
    y += p.h + head + pad;
  }
  return new Promise((resolve, reject) => out.toBlob((b) => (b ? resolve(b) : reject(new Error('PNG encoding failed'))), 'image/png'));
}
