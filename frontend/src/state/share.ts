/**
 * The session in the page's address: prompt, answer pair, corrupt prompt and saved sources,
 * interventions, steering settings, selected head, focused token, the tabs shown and the logit lens's comparison. The app keeps
 * `?session=` up to date, so a reload restores the session and the address is a link to share.
 */
import type { Intervention } from '../api/wire';
import { LENS_SHOWS, type LensShow } from './lensCompare';
import type { HeadRef, LoupeState, SteerConfig } from './store';

export const SHARE_PARAM = 'session';

/** What the link holds (version 1). */
export interface SharedSession {
  v: 1;
  prompt: string; answer: string; wrong: string; corrupt: string;
  sources: Record<string, string>;
  interventions: Intervention[];
  steer: SteerConfig;
  selected: HeadRef | null;
  focus: number | null;
  tabs: [string, string];
  /** The logit lens's comparison (absent in older links: the run). */
  lens?: LensShow;
}

/** The shareable part of the state (a steer with an uploaded tensor is left out: it has no name to rebuild from). */
export function sharedOf(s: LoupeState): SharedSession {
  return {
    v: 1, prompt: s.prompt, answer: s.answer, wrong: s.wrong, corrupt: s.corruptPrompt, sources: s.sources,
    interventions: s.interventions.filter((i) => !(i.op === 'steer' && typeof i.vector !== 'string')),
    steer: s.steer, selected: s.selected, focus: s.focusPos, tabs: s.tabs, lens: s.lensShow,
  };
}

/** base64url of the UTF-8 JSON, so the link survives chat apps and e-mail. */
export function encodeShared(x: SharedSession): string {
  const bytes = new TextEncoder().encode(JSON.stringify(x));
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Read a `?session=` value; throws an Error naming what is wrong with it. */
export function decodeShared(text: string): SharedSession {
  let x: unknown;
  try {
    const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    x = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
  } catch {
    throw new Error('the link’s session is not readable (cut short when copied?)');
  }
  if (!isObj(x) || x.v !== 1) throw new Error('the link’s session is from another version of Loupe');
  for (const k of ['prompt', 'answer', 'wrong', 'corrupt'] as const) {
    if (typeof x[k] !== 'string') throw new Error(`the link’s session: ${k} is not text`);
  }
  if (!isObj(x.sources) || !Object.values(x.sources).every((p) => typeof p === 'string')) throw new Error('the link’s session: sources are not name → prompt');
  if (!Array.isArray(x.interventions) || !x.interventions.every((i) => isObj(i) && typeof i.op === 'string' && typeof i.hook === 'string')) {
    throw new Error('the link’s session: interventions are not a list of {op, hook, …}');
  }
  if (!isObj(x.steer)) throw new Error('the link’s session: steer is not an object');
  if (x.selected !== null && !(isObj(x.selected) && isInt(x.selected.layer) && isInt(x.selected.head))) throw new Error('the link’s session: selected is not {layer, head}');
  if (x.focus !== null && !isInt(x.focus)) throw new Error('the link’s session: focus is not a position');
  if (!Array.isArray(x.tabs) || x.tabs.length !== 2 || !x.tabs.every((t) => typeof t === 'string')) throw new Error('the link’s session: tabs are not two tab ids');
  if (x.lens !== undefined && !LENS_SHOWS.includes(x.lens as LensShow)) throw new Error(`the link’s session: lens is not one of ${LENS_SHOWS.join(', ')}`);
  return x as unknown as SharedSession;
}

/** The store fields a shared session sets; tabs not in `tabIds` keep the current ones, steering keeps defaults for missing keys. */
export function applyShared(x: SharedSession, s: LoupeState, tabIds: readonly string[]): Partial<LoupeState> {
  const tabs: [string, string] = x.tabs.every((t) => tabIds.includes(t)) && x.tabs[0] !== x.tabs[1] ? x.tabs : s.tabs;
  return {
    prompt: x.prompt, answer: x.answer, wrong: x.wrong, corruptPrompt: x.corrupt, sources: x.sources,
    interventions: x.interventions, steer: { ...s.steer, ...x.steer }, selected: x.selected, focusPos: x.focus, tabs, lensShow: x.lens ?? 'intervened',
  };
}

/** `href` with the session in `?session=` (other parameters, e.g. `?feature=`, kept). */
export function withSession(href: string, x: SharedSession): string {
  const u = new URL(href);
  u.searchParams.set(SHARE_PARAM, encodeShared(x));
  return u.toString();
}
