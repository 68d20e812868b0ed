import { cssGradient } from '../viz/diverging';

/** Props of a colour-scale legend. */
export interface LegendProps {
  /** The scale's colours, low to high (a LUT's `css`). */
  css: string[];
  lo: string;
  hi: string;
  /** Label under the middle of the bar (e.g. "0"). */
  mid?: string;
  title: string;
  testId?: string;
}

/** A colour bar with its end labels and what it measures, in HTML (so it is readable and exported). */
export function Legend({ css, lo, hi, mid, title, testId }: LegendProps) {
  return (
    <div className="legend" data-testid={testId}>
      <span className="legend-lo">{lo}</span>
      <span className="legend-bar" style={{ background: cssGradient(css) }}>{mid !== undefined && <span className="legend-mid">{mid}</span>}</span>
      <span className="legend-hi">{hi}</span>
      <span className="legend-title muted">{title}</span>
    </div>
  );
}
