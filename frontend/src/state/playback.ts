/**
 * Layer scrubber and replay: `scrub` chooses how many layers the views show. Play steps
 * through the pass one layer per tick; reaching the end returns to live (scrub = null).
 */
import { get, set } from './store';

let timer: ReturnType<typeof setInterval> | null = null;
export const PLAY_MS = 110;

/** Clamp a requested scrub position to the layers that have arrived. */
export function clampScrub(layer: number, layersDone: number): number | null {
  if (layersDone <= 0) return null;
  const l = Math.max(0, Math.min(layersDone - 1, Math.round(layer)));
  return l;
}

/** Next scrub value when stepping by `delta` from the current view. */
export function stepScrub(scrub: number | null, layersDone: number, delta: number): number | null {
  const cur = scrub ?? layersDone - 1;
  return clampScrub(cur + delta, layersDone);
}

export function scrubTo(layer: number): void {
  pause();
  const run = get().run;
  set({ scrub: clampScrub(layer, run?.layersDone ?? 0) });
}

export function step(delta: number): void {
  pause();
  const { run, scrub } = get();
  set({ scrub: stepScrub(scrub, run?.layersDone ?? 0, delta) });
}

export function pause(): void {
  if (timer) clearInterval(timer);
  timer = null;
  if (get().playing) set({ playing: false });
}

export function play(): void {
  const { run, scrub } = get();
  if (!run || run.layersDone === 0) return;
  pause();
  const done = run.layersDone;
  const start = scrub === null || scrub >= done - 1 ? 0 : scrub;
  set({ scrub: start, playing: true });
  timer = setInterval(() => {
    const s = get();
    const n = s.run?.layersDone ?? 0;
    const next = (s.scrub ?? n - 1) + 1;
    if (next >= n) {
      pause();
      set({ scrub: null });
    } else {
      set({ scrub: next });
    }
  }, PLAY_MS);
}

export function togglePlay(): void {
  if (get().playing) pause();
  else play();
}
