import { describe, expect, it } from 'vitest';
import { exportJson, py, pythonScript } from './exporters';
import { initialState, type LoupeState } from './store';
import { newRun } from './runData';

describe('python export', () => {
  it('writes Python literals', () => {
    expect(py({ a: [1, 'x', true, null], b: undefined })).toBe('{"a": [1, "x", True, None]}');
    expect(py('say "hi"\n')).toBe('"say \\"hi\\"\\n"');
  });
  it('reproduces prompt, interventions, sources and steering', () => {
    const s: LoupeState = {
      ...initialState,
      run: { ...newRun('r1', 'When Mary and John', 2), status: 'done' },
      interventions: [
        { id: 'ablate-L5H3', op: 'ablate', hook: 'blocks.5.attn.hook_z', head: 3, mode: 'zero', enabled: true },
        { id: 'p', op: 'patch', hook: 'blocks.3.hook_resid_post', source: 'corrupt', positions: [2] },
        { id: 'steer', op: 'steer', hook: 'blocks.8.hook_resid_post', vector: 'steer', scale: 6, positions: 'all' },
      ],
      gen: { id: 'g1', prompt: 'I hate you because', steered: [' you', ' are'], baseline: [' I'], running: false, steeredWith: true, max: 24 },
    };
    const code = pythonScript(s, 'ws://127.0.0.1:8000/ws');
    expect(code).toContain('from loupe.client import SyncClient');
    expect(code).toContain('PROMPT = "When Mary and John"');
    expect(code).toContain('"op": "ablate", "hook": "blocks.5.attn.hook_z", "head": 3');
    expect(code).toContain('lo.save_run("corrupt", ');
    expect(code).toContain('lo.vector_from_prompts("steer", positive=["I love you"], negative=["I hate you"], layer=6, position="mean")');
    expect(code).toContain('lo.set_interventions(INTERVENTIONS)');
    expect(code).toContain('compare=True');
  });
  it('exports the view data as plain JSON', () => {
    const j = exportJson({ ...initialState, run: newRun('r1', 'x', 2) });
    expect(j.prompt).toBe('x');
    expect(JSON.parse(JSON.stringify(j)).layers).toHaveLength(2);
  });
});
