/**
 * Requests of the Analyses panel: `analyze` (patch sweep streaming rows, DLA, head scores,
 * QK/OV) and steering vectors from a token embedding or an MLP neuron. Analyses of a prompt
 * use the prompt box (so they match what the views show) and the session's interventions.
 */
import { ServerError } from '../api/client';
import type { AnalyzeMsg, AnalyzeResultMsg, AnalyzeRowMsg, ServerMsg } from '../api/wire';
import { currentClient } from './actions';
import { applyPatchResult, applyPatchRow, dlaView, newPatch, qkovView, roleMarks, roleScores, type AnalysisState } from './analysis';
import { compositionView } from './composition';
import { gridLens } from './lensCompare';
import { record } from './journal';
import { SWEEPS_KEPT } from './sweeps';
import { get, notify, set } from './store';

type AnalyzeFields = Omit<AnalyzeMsg, 'type' | 'id'>;

function setA(patch: Partial<AnalysisState> | ((a: AnalysisState) => Partial<AnalysisState>)): void {
  set((s) => ({ analysis: { ...s.analysis, ...(typeof patch === 'function' ? patch(s.analysis) : patch) } }));
}

function fail(e: unknown): void {
  if (e instanceof ServerError) {
    if (e.code !== 'disconnected') notify(e.code, e.message);
  } else notify('client', e instanceof Error ? e.message : String(e));
}

/** Send one `analyze`; resolves with its `analyze.result` (or null when cancelled / failed). */
async function analyze(fields: AnalyzeFields, onRow?: (m: AnalyzeRowMsg) => void, id?: string): Promise<AnalyzeResultMsg | null> {
  const c = currentClient();
  if (!c?.isOpen) {
    notify('disconnected', 'Not connected to the server.');
    return null;
  }
  let result: AnalyzeResultMsg | null = null;
  const onFrame = (m: ServerMsg) => {
    if (m.type === 'analyze.row') onRow?.(m);
    else if (m.type === 'analyze.result') result = m;
  };
  try {
    await c.request({ type: 'analyze', ...fields }, onFrame, id);
  } catch (e) {
    fail(e);
    throw e;
  }
  return result;
}

/** Run a patching sweep clean (prompt box) vs corrupt; an exact sweep fills in row by row, an attribution estimate at once. */
export async function runPatch(): Promise<void> {
  const c = currentClient();
  const s = get();
  if (!c?.isOpen || !s.model) return;
  if (s.analysis.patch?.status === 'running') c.cancel(s.analysis.patch.id);
  const id = c.nextId('a');
  const { over, method } = s.analysis;
  setA({ patch: newPatch(id, over, s.corruptPrompt, s.model.n_layers, s.model.n_heads, s.run?.strTokens ?? [], method) });
  const upd = (f: (p: NonNullable<AnalysisState['patch']>) => NonNullable<AnalysisState['patch']>) =>
    setA((a) => (a.patch && a.patch.id === id ? { patch: f(a.patch) } : {}));
  const t0 = performance.now();
  try {
    const res = await analyze(
      method === 'exact'
        ? { kind: 'patch', prompt: s.prompt, corrupt: s.corruptPrompt, answer: s.answer, wrong: s.wrong, over, batch_size: over === 'heads' ? s.model.n_heads * 2 : 16 }
        : { kind: 'attribution_patching', prompt: s.prompt, corrupt: s.corruptPrompt, answer: s.answer, wrong: s.wrong, over },
      (m) => upd((p) => applyPatchRow(p, m)),
      id,
    );
    upd((p) => (res ? { ...applyPatchResult(p, res), ms: performance.now() - t0 } : { ...p, status: 'cancelled' }));
    const done = get().analysis.patch;
    if (res && done?.id === id) {
      setA((a) => ({ sweeps: [...a.sweeps, { view: done, interventions: s.interventions.filter((i) => i.enabled !== false).length }].slice(-SWEEPS_KEPT), shown: null, compare: null }));
    }
    if (res) record({ kind: 'patch', method, prompt: s.prompt, corrupt: s.corruptPrompt, answer: s.answer, wrong: s.wrong, over, interventions: s.interventions });
  } catch (e) {
    upd((p) => ({ ...p, status: 'error', error: e instanceof Error ? e.message : String(e) }));
  }
}

export function cancelPatch(): void {
  const p = get().analysis.patch;
  if (p?.status === 'running') currentClient()?.cancel(p.id);
}

async function busy<T>(name: string, work: () => Promise<T>): Promise<T | null> {
  setA({ busy: name });
  try {
    return await work();
  } catch {
    return null;
  } finally {
    setA((a) => (a.busy === name ? { busy: null } : {}));
  }
}

/** Direct logit attribution of answer − wrong at `position` of the prompt box (−1: its last token). */
export async function runDla(position = -1): Promise<void> {
  const s = get();
  const res = await busy('dla', () => analyze({ kind: 'dla', prompt: s.prompt, answer: s.answer, wrong: s.wrong, position }));
  if (!res) return;
  setA({ dla: dlaView(res, s.answer, s.wrong) });
  record({ kind: 'dla', prompt: s.prompt, answer: s.answer, wrong: s.wrong, position, interventions: s.interventions });
}

/** The clean run's logit lens of `prompt` (no interventions; one extra forward pass), unless already fetched. */
export async function loadCleanLens(prompt: string): Promise<void> {
  if (get().analysis.cleanLens?.prompt === prompt) return;
  const res = await busy('lens', () => analyze({ kind: 'logit_lens', prompt, grid: true, k: 1, interventions: false }));
  if (res) setA({ cleanLens: { prompt, table: gridLens(res) } });
}

/** Induction / previous-token / duplicate-token scores (computed once per server), outlined in the grid. */
export async function loadRoles(): Promise<void> {
  if (get().analysis.roles) return;
  const res = await busy('roles', () => analyze({ kind: 'head_scores' }));
  if (!res) return;
  record({ kind: 'head_scores' });
  const roles = roleScores(res);
  setA({ roles });
  if (get().analysis.showRoles) set({ headMarks: roleMarks(roles) });
}

export function setShowRoles(on: boolean): void {
  setA({ showRoles: on });
  set({ headMarks: on ? roleMarks(get().analysis.roles) : [] });
}

/** QK/OV token tables of one head (default: the selected head). */
export async function loadQkOv(layer?: number, head?: number): Promise<void> {
  const sel = get().selected;
  const l = layer ?? sel?.layer;
  const h = head ?? sel?.head;
  if (l === undefined || h === undefined) return;
  const res = await busy('qkov', () => analyze({ kind: 'qk_ov', layer: l, head: h, k: 10 }));
  if (!res) return;
  setA({ qkov: qkovView(res) });
  record({ kind: 'qk_ov', layer: l, head: h });
}

/** Q/K/V composition scores between every pair of heads (computed once per server). */
export async function loadComposition(): Promise<void> {
  if (get().analysis.composition) return;
  const res = await busy('composition', () => analyze({ kind: 'composition' }));
  if (!res) return;
  setA({ composition: compositionView(res) });
  record({ kind: 'composition' });
}

/** A steering vector from a token's embedding or an MLP neuron's output row, saved as "steer". */
export async function vectorFromWeights(): Promise<boolean> {
  const c = currentClient();
  const { steer } = get();
  if (!c?.isOpen) return false;
  try {
    const r = steer.source === 'token'
      ? await c.request({ type: 'vectors.from_token', name: 'steer', token: steer.token })
      : await c.request({ type: 'vectors.from_neuron', name: 'steer', layer: steer.neuronLayer, index: steer.neuronIndex, normalize: true });
    set((st) => ({ vectors: r.items, steer: { ...st.steer, vector: 'steer' } }));
    return true;
  } catch (e) {
    fail(e);
    return false;
  }
}
