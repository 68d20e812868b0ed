/**
 * After a reconnect the server gives a new, empty session: save the patch sources again, rebuild
 * the steering vector and re-apply every intervention, so nothing is lost silently. What cannot
 * be restored is dropped with a notice naming it.
 */
import { promptsVector, pushInterventions, saveSource } from './actions';
import { vectorFromWeights } from './analysisActions';
import { describe, get, notify, set } from './store';

/** Restore the page's sources, steering vector and interventions in the current (new) session. */
export async function restoreSession(): Promise<void> {
  const s = get();
  const saved = new Set<string>();
  for (const [name, prompt] of Object.entries(s.sources)) if (await saveSource(name, prompt)) saved.add(name);
  const wantsVector = s.steer.vector !== null || s.interventions.some((i) => i.op === 'steer' && typeof i.vector === 'string');
  const vector = wantsVector && (s.steer.source === 'prompts' ? await promptsVector() : await vectorFromWeights());
  if (wantsVector && !vector) set((st) => ({ steer: { ...st.steer, vector: null } }));
  const items = get().interventions;
  const keep = items.filter((i) => (i.op === 'patch' ? saved.has(i.source) : i.op === 'steer' && typeof i.vector === 'string' ? vector : true));
  const lost = items.filter((i) => !keep.includes(i));
  if (lost.length) notify('reconnected', `New session: could not restore ${lost.map(describe).join('; ')} — save the source or build the vector again.`);
  set({ interventions: keep });
  if (keep.length) await pushInterventions(keep);
}
