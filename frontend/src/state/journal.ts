/**
 * The session's journal: every analysis the user ran, in order, with the interventions in force when
 * it ran, so the exported script replays each one as it was (not under the final interventions).
 */
import type { Intervention, WireTensor } from '../api/wire';
import type { PatchMethod, PatchOver } from './analysis';
import { set } from './store';

/** One analysis as it was asked; `interventions` only for the kinds that run the model on a prompt. */
export type JournalEntry =
  | { kind: 'patch'; method?: PatchMethod; prompt: string; corrupt: string; answer: string; wrong: string; over: PatchOver; interventions: Intervention[] }
  | { kind: 'dla'; prompt: string; answer: string; wrong: string; position?: number; interventions: Intervention[] }
  | { kind: 'head_scores' }
  | { kind: 'composition' }
  | { kind: 'qk_ov'; layer: number; head: number };

/** How many analyses the journal keeps (the oldest go first). */
export const JOURNAL_MAX = 40;

/** Append a finished analysis to the journal. */
export function record(entry: JournalEntry): void {
  set((s) => ({ journal: [...s.journal, entry].slice(-JOURNAL_MAX) }));
}

function isTensor(v: unknown): v is WireTensor {
  return typeof v === 'object' && v !== null && 'dtype' in v && 'data' in v;
}

/** The interventions a script can send by name (a steer with an uploaded tensor cannot be written out). */
export function scriptable(items: Intervention[]): Intervention[] {
  return items.filter((i) => !(i.op === 'steer' && isTensor(i.vector)));
}

/** Every intervention list the journal used, for deciding which sources and vectors the script needs. */
export function journalInterventions(journal: JournalEntry[]): Intervention[] {
  return journal.flatMap((e) => ('interventions' in e ? scriptable(e.interventions) : []));
}

/**
 * Script lines (inside `with SyncClient(URL) as lo:`) replaying the journal in order; `py` writes a
 * Python literal, `prompt` names the PROMPT constant's value. Each prompt analysis first sets the
 * interventions it ran with, when they differ from the previous ones.
 */
export function journalLines(journal: JournalEntry[], py: (v: unknown) => string, prompt: string): string[] {
  const L: string[] = [];
  let applied: string | null = null;
  const text = (p: string) => (p === prompt ? 'PROMPT' : py(p));
  const under = (items: Intervention[]) => {
    const lit = py(scriptable(items));
    if (lit !== applied) L.push(`    lo.set_interventions(${lit})`);
    applied = lit;
  };
  const count = (items: Intervention[]) => {
    const n = items.filter((i) => i.enabled !== false).length;
    return n === 0 ? 'no interventions' : `${n} intervention${n === 1 ? '' : 's'}`;
  };
  let sweeps = 0;
  for (const e of journal) {
    if (e.kind === 'patch') {
      sweeps += 1;
      const kind = e.method === 'attribution' ? 'attribution_patching' : 'patch';
      L.push('', `    # Patching sweep ${sweeps} (${e.over}${kind === 'patch' ? '' : ', attribution patching estimate'}), run with ${count(e.interventions)}: 0 = clean behaviour, 1 = the corrupt prompt's`);
      under(e.interventions);
      L.push(`    sweep = lo.analyze("${kind}", prompt=${text(e.prompt)}, corrupt=${py(e.corrupt)}, answer=${py(e.answer)}, wrong=${py(e.wrong)}, over=${py(e.over)})`);
      L.push(`    print("sweep ${sweeps} (${e.over}): clean", round(sweep["clean_metric"], 2), "corrupt", round(sweep["corrupt_metric"], 2), "top:", [(t["label"], round(t["value"], 2)) for t in sweep["top"][:6]])`);
    } else if (e.kind === 'dla') {
      const at = e.position === undefined || e.position < 0 ? 'the last token' : `position ${e.position}`;
      L.push('', `    # Direct logit attribution of ${JSON.stringify(e.answer)} - ${JSON.stringify(e.wrong)} at ${at}, run with ${count(e.interventions)}`);
      under(e.interventions);
      const pos = e.position === undefined || e.position < 0 ? '' : `, position=${e.position}`;
      L.push(`    dla = lo.analyze("dla", prompt=${text(e.prompt)}, answer=${py(e.answer)}, wrong=${py(e.wrong)}${pos})`);
      L.push('    print("DLA: total", round(dla["total"], 2), "top:", [(t["label"], round(t["value"], 2)) for t in dla["top"][:6]])');
    } else if (e.kind === 'head_scores') {
      L.push('', '    # Head roles: induction, previous-token and duplicate-token scores of every head (weights only)');
      L.push('    for kind, score in lo.analyze("head_scores")["scores"].items():  # [n_layers, n_heads]');
      L.push('        best = sorted(((float(score[l, h]), f"L{l}H{h}") for l in range(score.shape[0]) for h in range(score.shape[1])), reverse=True)[:3]');
      L.push('        print(kind, [(name, round(v, 2)) for v, name in best])');
    } else if (e.kind === 'composition') {
      L.push('', '    # Q/K/V composition between every pair of heads (weights only): the strongest pairs of each');
      L.push('    comp = lo.analyze("composition")');
      L.push('    for kind in ("q", "k", "v"):');
      L.push('        print(kind.upper() + "-composition", [(t["src"], t["dst"], round(t["value"], 3)) for t in comp["top"][kind][:3]])');
    } else {
      L.push('', `    # QK / OV circuits of L${e.layer}H${e.head} (weights only)`);
      L.push(`    c = lo.analyze("qk_ov", layer=${e.layer}, head=${e.head}, k=10)`);
      L.push(`    print("L${e.layer}H${e.head} OV copying score", round(c["copying_score"], 3), "top OV:", list(zip(c["ov_top"]["rows_str"], c["ov_top"]["cols_str"]))[:5])`);
    }
  }
  return L;
}
