import { useEffect, useMemo, useRef, useState } from 'react';
import { histogramBars } from '../../state/features';
import { setupCanvas } from '../../viz/heatmap';
import { Tooltip } from '../Tooltip';
import { useSize } from '../useSize';

/** Props of the activation histogram. */
export interface ActivationHistogramProps {
  histogram: { edges: number[]; counts: number[] };
  /** Fraction of tokens on which the feature fires. */
  density: number;
  /** Height in CSS px. */
  height?: number;
}

/** The feature's non-zero activations over the dashboard corpus: log-count bars, with its firing density. */
export function ActivationHistogram({ histogram, density, height = 84 }: ActivationHistogramProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const { width } = useSize(wrap);
  const bars = useMemo(() => histogramBars(histogram), [histogram]);
  const [hover, setHover] = useState<{ i: number; x: number; y: number } | null>(null);
  const plotH = height - 16;

  useEffect(() => {
    if (!canvas.current || !width || !bars.length) return;
    const ctx = setupCanvas(canvas.current, width, height);
    ctx.clearRect(0, 0, width, height);
    const bw = width / bars.length;
    bars.forEach((b, i) => {
      const h = Math.max(b.count > 0 ? 1 : 0, b.height * plotH);
      ctx.fillStyle = hover?.i === i ? '#ffd27a' : '#f08c2e';
      ctx.fillRect(i * bw + 0.5, plotH - h, Math.max(1, bw - 1), h);
    });
    ctx.fillStyle = '#8a93a6';
    ctx.font = '10.5px ui-monospace, monospace';
    ctx.textBaseline = 'top';
    ctx.textAlign = 'left';
    ctx.fillText(bars[0].x0.toFixed(2), 0, plotH + 3);
    ctx.textAlign = 'right';
    ctx.fillText(bars[bars.length - 1].x1.toFixed(2), width, plotH + 3);
  }, [bars, width, height, plotH, hover]);

  const b = hover ? bars[hover.i] : null;
  return (
    <div className="fhist" data-testid="feature-histogram">
      <div className="fcard-title">activations <span className="muted">· fires on {(100 * density).toPrecision(2)}% of tokens · log count</span></div>
      <div ref={wrap} className="canvas-wrap">
        <canvas ref={canvas} role="img" aria-label="Activation histogram"
          onMouseMove={(e) => {
            const i = Math.floor((e.nativeEvent.offsetX / Math.max(1, width)) * bars.length);
            setHover(i >= 0 && i < bars.length ? { i, x: e.nativeEvent.offsetX, y: e.nativeEvent.offsetY } : null);
          }}
          onMouseLeave={() => setHover(null)} />
        {b && hover && (
          <Tooltip x={hover.x} y={hover.y}>
            {b.x0.toFixed(2)} – {b.x1.toFixed(2)}: <b>{b.count}</b> tokens
          </Tooltip>
        )}
      </div>
    </div>
  );
}
