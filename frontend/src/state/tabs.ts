/** Which tab each workspace area shows; a tab lives in one area at a time. */
import { set } from './store';

/** Show tab `id` in `area`; if the other area shows it, the two areas swap. */
export function pickTab(tabs: [string, string], area: 0 | 1, id: string): [string, string] {
  const other = area === 0 ? 1 : 0;
  const out: [string, string] = [tabs[0], tabs[1]];
  if (out[other] === id) out[other] = out[area];
  out[area] = id;
  return out;
}

/** Bring a tab to the front of `area` (default: the main area). */
export function showTab(id: string, area: 0 | 1 = 0): void {
  set((s) => ({ tabs: pickTab(s.tabs, area, id) }));
}
