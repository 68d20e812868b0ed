/**
 * PNG export of the whole page as shown (header, prompt, every panel, the tab areas and the side panels
 * with Next token, Interventions and Analyses, canvases included), drawn by html-to-image.
 */
import { toBlob } from 'html-to-image';

/** Options of `pagePng`. */
export interface PagePngOptions {
  /** Device pixels per CSS pixel of the image (2: crisp on a high-density screen). */
  pixelRatio?: number;
}

/** Menus and tooltips open at the moment of the export are left out of the image. */
function keep(node: HTMLElement): boolean {
  return !(node.classList?.contains('menu-items') || node.classList?.contains('tooltip'));
}

/** The element `root` (the app) as a PNG blob at its full scroll size, on the page's background colour. */
export async function pagePng(root: HTMLElement, opts: PagePngOptions = {}): Promise<Blob> {
  const width = root.scrollWidth;
  const height = root.scrollHeight;
  const backgroundColor = getComputedStyle(document.documentElement).backgroundColor || '#0c0e13';
  root.classList.add('exporting'); // no scrollbars in the picture (the copy would draw classic ones)
  try {
    const blob = await toBlob(root, { width, height, pixelRatio: opts.pixelRatio ?? 2, backgroundColor, filter: keep, cacheBust: false });
    if (!blob) throw new Error('PNG export: the page could not be drawn');
    return blob;
  } finally {
    root.classList.remove('exporting');
  }
}
