/**
 * Exports: the captured data as JSON, and the session as a runnable Python script using the
 * scripting client (`loupe.client`), so whatever was found by clicking can be rerun in code.
 */
import type { Intervention } from '../api/wire';
import { journalInterventions, journalLines, scriptable } from './journal';
import type { LoupeState } from './store';

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
const arr = (a: ArrayLike<number> | undefined) => (a ? Array.from(a, r4) : undefined);

/** Everything the views show, as plain JSON (arrays of numbers, row-major). */
export function exportJson(s: LoupeState): Record<string, unknown> {
  const run = s.run;
  return {
    loupe: 'web-export', protocol: 1, exported_at: new Date().toISOString(),
    model: s.model && { ...s.model, hook_points: undefined },
    prompt: run?.prompt ?? s.prompt,
    tokens: run?.tokenIds, str_tokens: run?.strTokens,
    interventions: s.interventions,
    prediction: run && { top_k: run.topK, clean: run.clean, intervened: run.intervened, logit_diff: run.logitDiff, ms: run.ms },
    layers: run?.layers.map((d, layer) => d && {
      layer, ms: d.ms, resid_norm: arr(d.residNorm), lens_top1: d.lensTop1, lens_prob: arr(d.lensProb), lens_top5: d.lensTop5,
      attn_thumbs: d.thumbs && { shape: [d.thumbs.data.length / (d.thumbs.size * d.thumbs.size), d.thumbs.size, d.thumbs.size], data: arr(d.thumbs.data) },
    }),
    selected_head: s.detail && { layer: s.detail.layer, head: s.detail.head, shape: s.detail.pattern.shape, pattern: arr(s.detail.pattern.data) },
    steering: { ...s.steer, vector_info: s.vectors.find((v) => v.name === 'steer') ?? null },
    generation: s.gen && { prompt: s.gen.prompt, steered: s.gen.steered.join(''), baseline: s.gen.baseline.join('') },
    features: s.features.sae ? {
      sae: s.features.sae, card: s.features.card, searches: s.features.searches,
      run: run?.features && { layer: run.features.layer, k: run.features.k, ids: Array.from(run.features.ids), values: arr(run.features.values) },
    } : null,
    saved_runs: s.savedRuns.map((r) => ({ ...r, prompt: r.name === 'corrupt' ? s.corruptPrompt : undefined })),
  };
}

/** A Python literal for a JSON-like value. */
export function py(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'float("nan")';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(py).join(', ')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).map(([k, x]) => `${JSON.stringify(k)}: ${py(x)}`).join(', ')}}`;
  }
  return 'None';
}

/** The session as a Python script for `loupe.client.SyncClient` (proto/README.md, backend/loupe/client.py). */
export function pythonScript(s: LoupeState, url: string): string {
  const run = s.run;
  const prompt = run?.prompt ?? s.prompt;
  const items = scriptable(s.interventions);
  const every = [...items, ...journalInterventions(s.journal)];
  const needsSource = every.some((i) => i.op === 'patch');
  const needsVector = every.some((i) => i.op === 'steer') || !!s.gen;
  const L: string[] = [];
  L.push('"""Loupe session exported from the web UI.', '', `Model: ${s.model?.name ?? '?'}   Exported: ${new Date().toISOString()}`,
    'Run with the Loupe server up (`loupe serve`):  python this_script.py', '"""');
  L.push('from loupe.client import SyncClient', '');
  L.push(`URL = ${py(url)}`, `PROMPT = ${py(prompt)}`, `ANSWER, WRONG = ${py(s.answer)}, ${py(s.wrong)}`);
  L.push(`INTERVENTIONS = [\n${items.map((i: Intervention) => `    ${py(i)},`).join('\n')}\n]`, '');
  L.push('', 'def top(preds, k=5):', '    return [(p["str"], round(p["prob"], 3)) for p in preds[:k]]', '', '');
  L.push('with SyncClient(URL) as lo:');
  L.push('    print("model:", lo.model["name"])');
  if (needsSource) L.push(`    lo.save_run("corrupt", ${py(s.corruptPrompt)})  # patch source`);
  if (needsVector && s.steer.source === 'token') L.push(`    lo.call("vectors.from_token", name="steer", token=${py(s.steer.token)})`);
  else if (needsVector && s.steer.source === 'neuron') {
    L.push(`    lo.call("vectors.from_neuron", name="steer", layer=${s.steer.neuronLayer}, index=${s.steer.neuronIndex}, normalize=True)`);
  } else if (needsVector) {
    L.push(`    lo.vector_from_prompts("steer", positive=[${py(s.steer.positive)}], negative=[${py(s.steer.negative)}], layer=${s.steer.layer}, position=${py(s.steer.position)})`);
  }
  L.push(...journalLines(s.journal, py, prompt));
  L.push('', '    # The session as it was at export: one run gives both, top_k with the interventions, clean without them');
  L.push('    lo.set_interventions(INTERVENTIONS)');
  L.push('    res = lo.run(PROMPT, answer=ANSWER.strip() and ANSWER or None, wrong=WRONG.strip() and WRONG or None)');
  L.push('    print("tokens:", res.str_tokens)');
  L.push('    print("clean:     ", top(res.clean))');
  L.push('    print("intervened:", top(res.top_k), "(interventions applied)" if res.intervened else "(none active)")');
  L.push('    if res.logit_diff:');
  L.push('        ld = res.logit_diff');
  L.push('        print(f"logit({ld[\'answer\']!r}) - logit({ld[\'wrong\']!r}): clean {ld[\'clean\']:+.3f}, intervened {ld[\'value\']:+.3f}")');
  L.push(...featureLines(s));
  if (s.gen) {
    L.push('', '    # Steering demo: with and without the interventions, side by side');
    L.push(`    frames = lo.generate(${py(s.gen.prompt)}, max_new_tokens=${Math.max(1, s.gen.steered.length)}, temperature=0.0, compare=True)`);
    L.push('    for branch in ("steered", "baseline"):');
    L.push(`        print(f"{branch:>8}:", ${py(s.gen.prompt)} + "".join(f["text"] for f in frames if f["branch"] == branch))`);
  }
  return `${L.join('\n')}\n`;
}

const chips = (v: string) => `[(h["index"], round(h["score"], 2), h["label"]) for h in ${v}["results"][:8]]`;

/** Script lines (inside `with SyncClient(URL) as lo:`) for the feature searches and the open card. */
export function featureLines(s: LoupeState): string[] {
  const f = s.features;
  const sae = f.sae;
  if (!sae || (!f.searches.length && !f.card)) return [];
  const L: string[] = ['', `    # Features of the sparse autoencoder ${py(sae)} (feature interventions are in INTERVENTIONS;`,
    '    # searches by span and contrast run with the interventions set above: the session\'s at export time)'];
  for (const r of f.searches) {
    if (r.by === 'contrast') {
      L.push(`    hits = lo.call("features.contrast", sae=${py(sae)}, a=${py(r.a)}, b=${py(r.b)}, k=20)`);
      L.push(`    print("contrast A - B:", ${chips('hits')})`);
    } else if (r.by === 'span') {
      L.push(`    hits = lo.call("features.search", sae=${py(sae)}, by="span", prompt=${py(r.prompt)}, positions=${py(r.positions)}, k=20)`);
      L.push(`    print("most active on positions ${(r.positions ?? []).join(',')}:", ${chips('hits')})`);
    } else {
      L.push(`    hits = lo.call("features.search", sae=${py(sae)}, by=${py(r.by)}, query=${py(r.query)}, k=20)`);
      L.push(`    print(${py(`by ${r.by} ${JSON.stringify(r.query)}:`)}, ${chips('hits')})`);
    }
  }
  if (f.card && f.card.sae === sae) {
    L.push(`    card = lo.call("features.info", sae=${py(sae)}, index=${f.card.index})`);
    L.push('    top_context = "".join(card["contexts"][0]["tokens"]) if card["contexts"] else "(no dashboard)"');
    L.push('    print("feature", card["index"], card["label"], "density", card["density"], "top context:", top_context)');
  }
  return L;
}

/** Trigger a browser download of `data`. */
export function download(name: string, data: Blob | string, type = 'application/octet-stream'): void {
  const blob = typeof data === 'string' ? new Blob([data], { type }) : data;
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
