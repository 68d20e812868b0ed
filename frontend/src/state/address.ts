/**
 * Keeps the session in the address bar (share.ts): read once at start, then rewritten (replaceState,
 * no history entries) whenever a shared field changes. Only the web app calls this, not the widget.
 */
import { SHARE_PARAM, applyShared, decodeShared, sharedOf, withSession } from './share';
import { get, notify, set, useLoupe, type LoupeState } from './store';

const SHARED_KEYS = ['prompt', 'answer', 'wrong', 'corruptPrompt', 'sources', 'interventions', 'steer', 'selected', 'focusPos', 'tabs', 'lensShow'] as const;

function changed(a: LoupeState, b: LoupeState): boolean {
  return SHARED_KEYS.some((k) => a[k] !== b[k]);
}

/** Restore the session of `?session=` (a notice says why when it cannot), then follow the store. */
export function followAddress(tabIds: readonly string[]): void {
  const text = new URL(window.location.href).searchParams.get(SHARE_PARAM);
  if (text) {
    try {
      set(applyShared(decodeShared(text), get(), tabIds));
    } catch (e) {
      notify('bad_link', e instanceof Error ? e.message : String(e));
    }
  }
  useLoupe.subscribe((s, prev) => {
    if (!changed(s, prev)) return;
    const href = withSession(window.location.href, sharedOf(s));
    if (href !== window.location.href) window.history.replaceState(window.history.state, '', href);
  });
}

/** Copy the link to this session (the current address) to the clipboard. */
export async function copyLink(): Promise<void> {
  const href = withSession(window.location.href, sharedOf(get()));
  await navigator.clipboard.writeText(href);
  notify('link', 'Link to this session copied: opening it restores the prompt, interventions, head and tabs.');
}
