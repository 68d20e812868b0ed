import { useEffect, useMemo, useRef, useState } from 'react';
import { selectHead, setInterventions } from '../state/actions';
import { currentLayer, lastQueryFocus, visibleLayers } from '../state/runData';
import { ablatedHeads, get, toggleAblation, useLoupe } from '../state/store';
import { drawAttentionGrid, gridHit, gridLayout, gridSize, type HeadMark } from '../viz/attentionGrid';
import { setupCanvas } from '../viz/heatmap';
import { fmtProb, showToken } from '../viz/scales';
import { Panel } from './Panel';
import { RunBadge } from './RunBadge';
import { ATTENTION_LUT } from '../viz/colour';
import { Legend } from './Legend';
import { Tooltip } from './Tooltip';
import { useSize } from './useSize';

/** Props of the attention grid. */
export interface AttentionGridProps {
  /** Heads to outline (known roles); defaults to the store's `headMarks`. */
  marks?: HeadMark[];
}

/**
 * Small multiples of every head's pooled attention pattern (rows = layers, columns = heads).
 * Click selects a head for the detail view; Alt/⌥-click toggles its zero ablation.
 */
export function AttentionGrid({ marks }: AttentionGridProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const { width } = useSize(wrap);
  const model = useLoupe((s) => s.model);
  const run = useLoupe((s) => s.run);
  const scrub = useLoupe((s) => s.scrub);
  const selected = useLoupe((s) => s.selected);
  const interventions = useLoupe((s) => s.interventions);
  const storeMarks = useLoupe((s) => s.headMarks);
  const focus = useLoupe((s) => s.focusPos);
  const [hover, setHover] = useState<{ layer: number; head: number; x: number; y: number } | null>(null);
  const ablated = useMemo(() => ablatedHeads(interventions), [interventions]);
  const layout = useMemo(() => (model && width ? gridLayout(model.n_layers, model.n_heads, width) : null), [model, width]);
  const T = run?.strTokens.length ?? 0;

  useEffect(() => {
    if (!layout || !canvas.current) return;
    const { w, h } = gridSize(layout);
    const ctx = setupCanvas(canvas.current, w, h);
    drawAttentionGrid(ctx, layout, {
      thumbs: run?.layers.map((d) => d?.thumbs) ?? [],
      visibleLayers: visibleLayers(run, scrub),
      currentLayer: run?.status === 'running' && scrub === null ? -1 : currentLayer(run, scrub),
      selected,
      ablated,
      marks: marks ?? storeMarks,
      focusFrac: focus !== null && T > 0 ? (focus + 0.5) / T : null,
    });
  }, [layout, run, scrub, selected, ablated, marks, storeMarks, focus, T]);

  const hit = (e: React.MouseEvent<HTMLCanvasElement>) => {
    if (!layout) return null;
    const r = e.currentTarget.getBoundingClientRect();
    return gridHit(layout, e.clientX - r.left, e.clientY - r.top);
  };

  return (
    <Panel
      title="Attention"
      hint={model ? <><RunBadge /> {model.n_layers}×{model.n_heads} · click: enlarge · alt-click: ablate</> : ''}
      testId="attention-grid"
      className="grid-panel"
    >
      <Legend css={ATTENTION_LUT.css} lo="0" hi="1" title="attention, query ↓ key →" testId="grid-legend" />
      <div ref={wrap} className="canvas-wrap">
        <canvas
          ref={canvas}
          role="img"
          aria-label="Attention patterns of every head"
          onMouseMove={(e) => {
            const h = hit(e);
            setHover(h ? { ...h, x: e.nativeEvent.offsetX, y: e.nativeEvent.offsetY } : null);
          }}
          onMouseLeave={() => setHover(null)}
          onClick={(e) => {
            const h = hit(e);
            if (!h) return;
            if (e.altKey || e.metaKey) setInterventions(toggleAblation(get().interventions, h.layer, h.head));
            else selectHead(h.layer, h.head);
          }}
        />
        {hover && (
          <Tooltip x={hover.x} y={hover.y} testId="attentiongrid-tip">
            <b>L{hover.layer} H{hover.head}</b>
            {ablated.has(`${hover.layer}:${hover.head}`) ? ' · ablated' : ''}
            {(() => {
              const f = run && lastQueryFocus(run, hover.layer, hover.head);
              return f && run ? <div className="muted">last token → {showToken(run.strTokens[f.pos] ?? '')} {fmtProb(f.value)} <small>(pos 0 aside)</small></div> : null;
            })()}
            {(marks ?? storeMarks).filter((m) => m.layer === hover.layer && m.head === hover.head).map((m) => ` · ${m.label ?? ''}`)}
          </Tooltip>
        )}
      </div>
    </Panel>
  );
}
