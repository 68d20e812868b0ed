import { describe, expect, it } from 'vitest';
import { headLinks, type CompositionView } from './composition';

describe('composition links of one head', () => {
  // 3 layers × 2 heads; score[l1, h1, l2, h2] = 10*l1 + h1 + (l2 + h2) / 10 where l1 < l2, else 0.
  const L = 3;
  const H = 2;
  const data = new Float32Array(L * H * L * H);
  for (let a = 0; a < L; a++) for (let b = 0; b < H; b++) for (let c = 0; c < L; c++) for (let d = 0; d < H; d++) {
    if (a < c) data[((a * H + b) * L + c) * H + d] = 10 * a + b + (c + d) / 10;
  }
  const t = { dtype: 'f32' as const, shape: [L, H, L, H], data };
  const comp: CompositionView = { scores: { q: t, k: t, v: t }, top: { q: [], k: [], v: [] }, nLayers: L, nHeads: H };

  it('lists the earlier heads feeding a head, strongest first', () => {
    expect(headLinks(comp, 'k', 2, 1, 'in').map((p) => [p.src, +p.value.toFixed(1)])).toEqual([['L1H1', 11.3], ['L1H0', 10.3], ['L0H1', 1.3], ['L0H0', 0.3]]);
  });
  it('lists the later heads a head feeds', () => {
    expect(headLinks(comp, 'v', 0, 1, 'out').map((p) => +p.value.toFixed(1))).toEqual([1.3, 1.2, 1.2, 1.1]);
  });
});
