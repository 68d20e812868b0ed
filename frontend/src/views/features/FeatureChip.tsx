import { openFeature } from '../../state/featureActions';
import { labelOf, type FeatureRef } from '../../state/features';
import { useLoupe } from '../../state/store';

/** Props of a feature chip. */
export interface FeatureChipProps {
  feature: FeatureRef;
  /** A number shown after the label (an activation or a search score). */
  value?: number;
  /** Extra hover text. */
  title?: string;
}

/** A feature as a clickable chip, "#index label"; opens the feature's card. */
export function FeatureChip({ feature, value, title }: FeatureChipProps) {
  const label = useLoupe((s) => labelOf(s.features.labels, feature));
  const short = label === `#${feature.index}` ? '' : label;
  return (
    <button type="button" className="fchip" data-testid="feature-chip" data-sae={feature.sae} data-index={feature.index}
      title={`${feature.sae}:${feature.index}${short ? ` — ${short}` : ''}${title ? `\n${title}` : ''}`} onClick={() => void openFeature(feature)}>
      <span className="fchip-id">#{feature.index}</span>
      {short && <span className="fchip-label">{short}</span>}
      {value !== undefined && <span className="fchip-value">{value.toFixed(2)}</span>}
    </button>
  );
}
