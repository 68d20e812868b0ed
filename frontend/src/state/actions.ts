/**
 * Everything that talks to the server: connect, (re)run, head detail, interventions, patch
 * sources, steering vectors, generation. Reruns are coalesced: a change while a run is in
 * flight cancels it and starts one fresh run afterwards, so sliders never pile up jobs.
 */
import { LoupeClient, ServerError, defaultWsUrl, type OpenSocket } from '../api/client';
import { decodeTensor } from '../api/codec';
import type { ErrorCode, GenTokenMsg, Intervention, InterventionsReply, RunsReply, ServerMsg, VectorsReply } from '../api/wire';
import { applyRunFrame, newRun, pickHead } from './runData';
import { restoreSession } from './restore';
import { tokenLabels } from './tokenText';
import { answerRefused, get, notify, set, upsert } from './store';

let client: LoupeClient | null = null;
let inflight: string | null = null;
let rerunQueued = false;
let retryMs = 500;

function errText(e: unknown): [string, string] {
  if (e instanceof ServerError) return [e.code, e.message];
  return ['client', e instanceof Error ? e.message : String(e)];
}

function report(e: unknown): void {
  const [code, message] = errText(e);
  if (code !== 'disconnected') notify(code, message);
}

/** Open the session; reconnects with backoff when the socket drops. `openSocket`: another transport (the notebook widget's). */
export function connect(url: string = defaultWsUrl(), openSocket?: OpenSocket): void {
  client = new LoupeClient(url, {
    onState: (conn, detail) => {
      set({ conn, connDetail: detail ?? '' });
      if (conn === 'closed') {
        inflight = null;
        set((s) => ({ run: s.run && s.run.status === 'running' ? { ...s.run, status: 'error', error: 'disconnected' } : s.run, gen: s.gen && { ...s.gen, running: false } }));
        setTimeout(() => connect(url), retryMs);
        retryMs = Math.min(8000, retryMs * 2);
      }
    },
    onWelcome: (w) => {
      retryMs = 500;
      const s = get();
      const layer = s.model ? s.steer.layer : Math.round(w.model.n_layers * 0.2);
      // A new session starts empty; restoreSession saves the sources and builds the vector again.
      set({
        model: w.model, limits: w.limits, session: w.session, savedRuns: [], vectors: [], steer: { ...s.steer, layer },
        notices: s.notices.filter((n) => n.code !== 'disconnected' && n.code !== 'reconnected'),
      });
      void restoreSession().then(() => rerun());
    },
    onStrayError: (e) => notify(e.code, e.message),
    onOther: follow,
  }, openSocket);
  client.connect().catch(report);
}

/**
 * A frame for a request this page did not send (another client of the session, e.g. the notebook
 * kernel): show its runs as they stream, and follow its intervention changes (then re-run).
 */
export function follow(m: ServerMsg): void {
  const s = get();
  if (m.type === 'interventions') {
    set({ interventions: (m as InterventionsReply).items });
    rerun();
    return;
  }
  if (!s.model || !('id' in m) || m.id === undefined) return;
  const id = String(m.id);
  if (m.type === 'run.tokens') {
    if (inflight) client?.cancel(inflight);
    const samePrompt = s.run?.prompt === s.prompt;
    set({ run: newRun(id, s.prompt, s.model.n_layers), scrub: null, playing: false, ...(samePrompt ? {} : { focusPos: null, detail: null }) });
  }
  if (get().run?.id !== id) return;
  set((st) => ({ run: st.run && applyRunFrame(st.run, m) }));
  if (m.type === 'done') void loadDetail();
}

/** Run the prompt in the box now (cancelling a run in flight). */
export function rerun(): void {
  if (!client?.isOpen) {
    notify('disconnected', 'Not connected to the server yet; the run starts when you press Run again after it reconnects.');
    return;
  }
  if (inflight) {
    rerunQueued = true;
    client.cancel(inflight);
    return;
  }
  void startRun();
}

async function startRun(): Promise<void> {
  const c = client;
  const s = get();
  if (!c || !s.model) return;
  const prompt = s.prompt;
  if (!prompt.trim()) {
    notify('empty_prompt', 'Type a prompt first.');
    return;
  }
  const id = c.nextId('r');
  inflight = id;
  const prev = s.run;
  const run = newRun(id, prompt, s.model.n_layers);
  if (prev && prev.prompt === prompt) {
    // Same prompt (an intervention changed): keep the last predictions until the new ones land.
    Object.assign(run, { strTokens: prev.strTokens, groups: prev.groups, tokenIds: prev.tokenIds, topK: prev.topK, clean: prev.clean, logitDiff: prev.logitDiff, features: prev.features });
  }
  // The first run of the page (prev null) keeps a focus restored from the address.
  const samePrompt = !prev || prev.prompt === prompt;
  const prevDetail = s.detail;
  // A new prompt: the old head pattern and token focus belong to other tokens.
  set({ run, scrub: null, playing: false, ...(samePrompt ? {} : { focusPos: null, detail: null }) });
  const onFrame = (m: ServerMsg) => set((st) => ({ run: st.run && st.run.id === id ? applyRunFrame(st.run, m) : st.run }));
  try {
    const answer = s.answer.trim() && s.wrong.trim() && !answerRefused(s) ? { answer: s.answer, wrong: s.wrong } : {};
    const features = s.features.sae ? { features: { sae: s.features.sae, k: s.features.k } } : {};
    await c.request({ type: 'run', prompt, top_k: 10, summaries: true, ...answer, ...features }, onFrame, id);
  } catch (e) {
    if (e instanceof ServerError && e.code === 'bad_message' && /^run\.(answer|wrong):/.test(e.message)) {
      // Not one token each: say so under the boxes and run again without the logit difference.
      set({ answerError: { answer: s.answer, wrong: s.wrong, message: e.message }, run: prev, detail: prevDetail });
      rerunQueued = true;
      return;
    }
    const [code, message] = errText(e); // a server code, or the client's own ('disconnected', 'client')
    onFrame({ type: 'error', id, code: code as ErrorCode, message });
    // Rejected before any token (e.g. too_long): keep showing the last good run.
    const cur = get().run;
    if (prev && cur?.id === id && cur.strTokens.length === 0) set({ run: prev, detail: prevDetail });
    if (!(e instanceof ServerError && e.code === 'not_found')) report(e);
  } finally {
    if (inflight === id) inflight = null;
    if (rerunQueued) {
      rerunQueued = false;
      void startRun();
    } else if (get().run?.status === 'done') {
      const st = get();
      if (!st.selected && st.run) {
        const h = pickHead(st.run);
        if (h) set({ selected: h });
      }
      void loadDetail();
    }
  }
}

/** Focus a head: select it and fetch its full pattern from the last run. */
export function selectHead(layer: number, head: number): void {
  set({ selected: { layer, head } });
  if (!inflight) void loadDetail();
}

async function loadDetail(): Promise<void> {
  const sel = get().selected;
  if (!client?.isOpen || !sel) return;
  set({ detailLoading: true });
  try {
    const r = await client.request({ type: 'attention.head', layer: sel.layer, head: sel.head });
    const cur = get().selected;
    if (cur && cur.layer === r.layer && cur.head === r.head) {
      set({ detail: { layer: r.layer, head: r.head, pattern: decodeTensor(r.pattern), strTokens: tokenLabels(get().run?.prompt ?? '', r.str_tokens) } });
    }
  } catch (e) {
    report(e);
  } finally {
    set({ detailLoading: false });
  }
}

/** Send the intervention list; on rejection show the server's list instead. */
export async function pushInterventions(items: Intervention[]): Promise<void> {
  if (!client?.isOpen) return;
  try {
    await client.request({ type: 'interventions.set', items });
  } catch (e) {
    report(e);
    // The server rejected the list and kept its own: show what is really applied.
    try {
      const r = await client.request({ type: 'interventions.list' });
      set({ interventions: r.items });
    } catch (e2) {
      report(e2);
    }
  }
}

/** Replace the session's interventions and re-run at once. */
export function setInterventions(items: Intervention[]): void {
  set({ interventions: items });
  void pushInterventions(items);
  rerun();
}

/** Add or replace one intervention (by id) and re-run. */
export function putIntervention(item: Intervention): void {
  setInterventions(upsert(get().interventions, item));
}

/** Save `prompt` (default: the second prompt) as a patch source named `name`. */
export async function saveSource(name = 'corrupt', prompt = get().corruptPrompt): Promise<boolean> {
  if (!client?.isOpen) return false;
  try {
    let items: RunsReply['items'] = [];
    await client.request({ type: 'runs.save', name, prompt }, (m) => {
      if (m.type === 'runs') items = (m as RunsReply).items;
    });
    set((s) => ({ savedRuns: items, sources: { ...s.sources, [name]: prompt } }));
    return true;
  } catch (e) {
    report(e);
    return false;
  }
}

/** Build the steering vector "steer" from the contrast prompts (not applied). */
export async function promptsVector(): Promise<boolean> {
  const s = get();
  if (!client?.isOpen) return false;
  const name = 'steer';
  try {
    let info: VectorsReply | null = null;
    await client.request({ type: 'vectors.from_prompts', name, positive: [s.steer.positive], negative: [s.steer.negative], layer: s.steer.layer, position: s.steer.position }, (m) => {
      if (m.type === 'vectors') info = m as VectorsReply;
    });
    set((st) => ({ steer: { ...st.steer, vector: name }, vectors: (info as VectorsReply | null)?.items ?? st.vectors }));
    return true;
  } catch (e) {
    report(e);
    return false;
  }
}

/** Build the steering vector from the contrast prompts and (re)apply it with the current scale. */
export async function makeSteeringVector(): Promise<boolean> {
  if (!(await promptsVector())) return false;
  putIntervention(steerIntervention());
  return true;
}

/** The steer intervention for the current config. */
export function steerIntervention(enabled = true): Intervention {
  const { steer } = get();
  return { id: 'steer', op: 'steer', hook: `blocks.${steer.layer}.hook_resid_post`, vector: 'steer', scale: steer.scale, positions: 'all', enabled };
}

/** Generate from the steering prompt with and without the session's interventions, streaming. */
export async function generate(maxNew = 24): Promise<void> {
  const c = client;
  const s = get();
  if (!c?.isOpen) return;
  if (s.gen?.running) c.cancel(s.gen.id);
  const id = c.nextId('g');
  const steeredWith = s.interventions.some((i) => i.op === 'steer' && i.enabled !== false);
  set({ gen: { id, prompt: s.steer.genPrompt, steered: [], baseline: [], running: true, steeredWith, max: maxNew } });
  const onFrame = (m: ServerMsg) => {
    if (m.type !== 'gen.token') return;
    const t = m as GenTokenMsg;
    set((st) => {
      if (!st.gen || st.gen.id !== id) return {};
      const key = t.branch === 'baseline' ? 'baseline' : 'steered';
      const arr = st.gen[key].slice();
      arr[t.index] = t.text;
      return { gen: { ...st.gen, [key]: arr } };
    });
  };
  try {
    const done = await c.request({ type: 'generate', prompt: s.steer.genPrompt, max_new_tokens: maxNew, temperature: 0, compare: true }, onFrame, id);
    set((st) => ({ gen: st.gen && st.gen.id === id ? { ...st.gen, running: false, ms: done.ms, cancelled: done.cancelled } : st.gen }));
  } catch (e) {
    set((st) => ({ gen: st.gen && st.gen.id === id ? { ...st.gen, running: false, cancelled: true } : st.gen }));
    report(e);
  }
}

/** Stop whatever is running in this session. */
export function cancelAll(): void {
  if (!client?.isOpen) return;
  rerunQueued = false;
  client.request({ type: 'cancel' }).catch(() => undefined);
}

/** For tests and the console: the live client. */
export function currentClient(): LoupeClient | null {
  return client;
}
