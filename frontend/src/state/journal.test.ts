import { describe, expect, it } from 'vitest';
import type { Intervention } from '../api/wire';
import { py, pythonScript } from './exporters';
import type { JournalEntry } from './journal';
import { initialState, type LoupeState } from './store';

const ABLATE: Intervention = { id: 'ablate-L23H3', op: 'ablate', hook: 'blocks.23.attn.hook_z', head: 3, mode: 'zero', enabled: true };
const PATCH: Intervention = { id: 'p', op: 'patch', hook: 'blocks.3.hook_resid_post', source: 'corrupt', positions: [2] };
const sweep = (over: 'heads' | 'layers', interventions: Intervention[]): JournalEntry => ({
  kind: 'patch', prompt: initialState.prompt, corrupt: initialState.corruptPrompt, answer: ' Mary', wrong: ' John', over, interventions,
});

describe('the exported script replays the journal', () => {
  const s: LoupeState = {
    ...initialState,
    interventions: [],
    journal: [sweep('heads', []), sweep('layers', []), sweep('heads', [ABLATE]), { kind: 'head_scores' },
      { kind: 'dla', prompt: 'other prompt', answer: ' a', wrong: ' b', position: 1, interventions: [PATCH] }, { kind: 'qk_ov', layer: 23, head: 3 }],
  };
  const code = pythonScript(s, 'ws://x/ws');

  it('keeps every sweep, in order, each under the interventions it ran with', () => {
    const lines = code.split('\n');
    const at = (needle: string, from = 0) => lines.findIndex((l, i) => i >= from && l.includes(needle));
    const first = at('lo.analyze("patch"');
    const second = at('lo.analyze("patch"', first + 1);
    const third = at('lo.analyze("patch"', second + 1);
    expect([first, second, third].every((i) => i > 0)).toBe(true);
    expect(lines[second]).toContain('over="layers"');
    // Set once before the clean sweeps, again (the ablation) before the third, then the patch for DLA.
    const sets = lines.flatMap((l, i) => (l.includes('lo.set_interventions(') ? [[i, l.trim()] as const] : []));
    expect(sets.map(([, l]) => l)).toEqual([
      'lo.set_interventions([])', `lo.set_interventions(${py([ABLATE])})`, `lo.set_interventions(${py([PATCH])})`, 'lo.set_interventions(INTERVENTIONS)',
    ]);
    expect(sets[0][0]).toBeLessThan(first);
    expect(sets[1][0]).toBeGreaterThan(second);
    expect(sets[1][0]).toBeLessThan(third);
    expect(code).toContain('# Patching sweep 3 (heads), run with 1 intervention');
  });

  it('replays head roles, DLA on its own prompt, QK/OV, and saves the source a past patch needed', () => {
    expect(code).toContain('lo.analyze("head_scores")');
    expect(code).toContain('lo.analyze("dla", prompt="other prompt", answer=" a", wrong=" b", position=1)');
    expect(code).toContain('lo.analyze("qk_ov", layer=23, head=3, k=10)');
    expect(code).toContain('lo.save_run("corrupt", ');
    expect(code).toContain('prompt=PROMPT, corrupt=');
  });
});
