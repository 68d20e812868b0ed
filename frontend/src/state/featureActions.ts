/**
 * Requests of the Features panel: `features.list` after each welcome, dashboards for cards and
 * labels, searches, contrast, and feature interventions. The `?feature=SAE:INDEX` URL opens
 * a card once the SAEs are known, and opening a card writes it back.
 */
import { ServerError } from '../api/client';
import type { FeatureMode } from '../api/wire';
import { currentClient, putIntervention, rerun } from './actions';
import type { FeatureState } from './featureState';
import {
  featureFromSearch, featureIntervention, featureKey, lines, pickSae, withFeatureParam, type FeatureInfo, type FeatureRef, type SearchRecord,
} from './features';
import { get, notify, set } from './store';

function setF(patch: Partial<FeatureState> | ((f: FeatureState) => Partial<FeatureState>)): void {
  set((s) => ({ features: { ...s.features, ...(typeof patch === 'function' ? patch(s.features) : patch) } }));
}

function fail(e: unknown): void {
  if (e instanceof ServerError) {
    if (e.code !== 'disconnected') notify(e.code, e.message);
  } else notify('client', e instanceof Error ? e.message : String(e));
}

/** Ask which SAEs the server has; pick one, re-run so the run carries features, open `?feature=`. */
export async function loadSaes(): Promise<void> {
  const c = currentClient();
  if (!c?.isOpen) return;
  try {
    const r = await c.request({ type: 'features.list' });
    let want: FeatureRef | null = null;
    try {
      if (get().features.urlLink) want = featureFromSearch(window.location.search);
    } catch (e) {
      notify('bad_url', e instanceof Error ? e.message : String(e));
    }
    const sae = pickSae(r.saes, want?.sae ?? get().features.sae)?.id ?? null;
    const had = get().features.sae;
    setF({ saes: r.saes, sae });
    if (sae && sae !== had) rerun();
    if (want) {
      if (r.saes.some((s) => s.id === want.sae)) void openFeature(want);
      else notify('not_found', `The link asks for feature ${featureKey(want)}, but the server has no SAE "${want.sae}" (it has: ${r.saes.map((s) => s.id).join(', ') || 'none'}).`);
    }
  } catch (e) {
    setF({ saes: [] });
    // A server from before features answers `unknown_type`: that just means no SAE.
    if (!(e instanceof ServerError && e.code === 'unknown_type')) fail(e);
  }
}

/** Pick the SAE the runs read features from. */
export function chooseSae(id: string): void {
  setF({ sae: id, pinned: [], search: null });
  rerun();
}

const pending = new Map<string, Promise<FeatureInfo | null>>();
const labelQueue: FeatureRef[] = [];
let labelsBusy = false;

/** A feature's dashboard, fetched once and cached (its label joins the label cache); one request per feature at a time. */
export function fetchInfo(ref: FeatureRef): Promise<FeatureInfo | null> {
  const key = featureKey(ref);
  const have = get().features.info[key];
  if (have) return Promise.resolve(have);
  const c = currentClient();
  if (!c?.isOpen) return Promise.resolve(null);
  let p = pending.get(key);
  if (!p) {
    const t0 = performance.now();
    p = c.request({ type: 'features.info', sae: ref.sae, index: ref.index }).then((r) => {
      const info: FeatureInfo = {
        sae: r.sae, index: r.index, density: r.density, max: r.max, histogram: r.histogram, promoted: r.promoted,
        suppressed: r.suppressed, contexts: r.contexts, label: r.label, ms: performance.now() - t0,
      };
      setF((f) => ({ info: { ...f.info, [key]: info }, labels: { ...f.labels, [key]: info.label } }));
      return info;
    }).finally(() => pending.delete(key));
    pending.set(key, p);
  }
  return p;
}

/**
 * Labels for features shown without a card (token list, strip), fetched in the background one at a
 * time: dashboards are jobs of the session, and its queue is short (limits.max_queued_jobs).
 */
export function ensureLabels(refs: FeatureRef[]): void {
  const f = get().features;
  for (const r of refs) {
    const key = featureKey(r);
    if (!(key in f.labels) && !labelQueue.some((q) => featureKey(q) === key)) labelQueue.push(r);
  }
  void pumpLabels();
}

async function pumpLabels(): Promise<void> {
  if (labelsBusy) return;
  labelsBusy = true;
  try {
    for (let r = labelQueue.shift(); r; r = labelQueue.shift()) {
      if (featureKey(r) in get().features.labels) continue;
      // A label that fails (e.g. the session is busy) stays a bare index; its card can still be opened.
      await fetchInfo(r).catch(() => null);
    }
  } finally {
    labelsBusy = false;
  }
}

/** Open a feature's card (from a chip, the strip or the URL) and put it in the address bar. */
export async function openFeature(ref: FeatureRef): Promise<void> {
  const key = featureKey(ref);
  setF({ card: ref, tab: 'card', loading: key });
  if (get().features.urlLink) window.history.replaceState(null, '', withFeatureParam(window.location.href, ref));
  try {
    // A session's job queue is short: when it is full ("busy"), wait for a slot a few times.
    for (let attempt = 0; ; attempt++) {
      try {
        await fetchInfo(ref);
        break;
      } catch (e) {
        if (!(e instanceof ServerError && e.code === 'busy') || attempt >= 5) throw e;
        await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
      }
    }
  } catch (e) {
    fail(e);
  } finally {
    setF((f) => (f.loading === key ? { loading: null } : {}));
  }
}

/** Close the card (and drop `?feature=` from the URL). */
export function closeFeature(): void {
  setF({ card: null, tab: 'token' });
  if (get().features.urlLink) window.history.replaceState(null, '', withFeatureParam(window.location.href, null));
}

/** Pin / unpin a feature in the heat strip. */
export function togglePin(index: number): void {
  setF((f) => ({ pinned: f.pinned.includes(index) ? f.pinned.filter((i) => i !== index) : [...f.pinned, index] }));
}

function remember(rec: SearchRecord): void {
  setF((f) => {
    const labels = { ...f.labels };
    for (const h of rec.results) labels[featureKey({ sae: f.sae ?? '', index: h.index })] = h.label;
    return { search: rec, searches: [...f.searches.slice(-9), rec], labels };
  });
}

/** Search by token / text (the query box), by span (the focused token of the run), or by contrast. */
export async function runSearch(): Promise<void> {
  const c = currentClient();
  const s = get();
  const f = s.features;
  if (!c?.isOpen || !f.sae) return;
  setF({ searching: true });
  try {
    if (f.searchBy === 'contrast') {
      const a = lines(f.contrastA);
      const b = lines(f.contrastB);
      if (!a.length || !b.length) throw new Error('contrast search needs at least one prompt on each side');
      const r = await c.request({ type: 'features.contrast', sae: f.sae, a, b, k: 20 });
      remember({ by: 'contrast', query: '', a, b, results: r.results });
    } else if (f.searchBy === 'span') {
      const prompt = s.run?.prompt ?? s.prompt;
      const positions = s.focusPos !== null ? [s.focusPos] : Array.from({ length: s.run?.strTokens.length ?? 0 }, (_, i) => i).slice(1);
      const r = await c.request({ type: 'features.search', sae: f.sae, by: 'span', prompt, positions, k: 20 });
      remember({ by: 'span', query: '', prompt, positions, results: r.results });
    } else {
      if (!f.query) throw new Error(`type a ${f.searchBy === 'token' ? 'token (e.g. " Paris", mind the leading space)' : 'text'} to search for`);
      const r = await c.request({ type: 'features.search', sae: f.sae, by: f.searchBy, query: f.query, k: 20 });
      remember({ by: f.searchBy, query: f.query, results: r.results });
    }
  } catch (e) {
    fail(e);
  } finally {
    setF({ searching: false });
  }
}

/** Steer by a feature at every position: add or replace its intervention and re-run at once. */
export function steerFeature(ref: FeatureRef, mode: FeatureMode, value: number, enabled = true): void {
  setF({ steerMode: mode });
  putIntervention(featureIntervention(ref, mode, value, undefined, enabled));
}

/** The steering mode a card offers before its feature has an intervention. */
export function setSteerMode(mode: FeatureMode): void {
  setF({ steerMode: mode });
}
