import { Controls } from '../views/Controls';
import { useLoupe } from '../state/store';
import { AttentionDetail } from '../views/AttentionDetail';
import { AttentionGrid } from '../views/AttentionGrid';
import { FeaturesPanel } from '../views/features/FeaturesPanel';
import { InterventionPanel } from '../views/InterventionPanel';
import { LogitLens } from '../views/LogitLens';
import { NextToken } from '../views/NextToken';
import { ResidualView } from '../views/ResidualView';
import { SteeringPanel } from '../views/SteeringPanel';

/** The live widget: the web app's panels, laid out for a notebook cell. */
export function Workbench() {
  const model = useLoupe((s) => s.model);
  const conn = useLoupe((s) => s.conn);
  return (
    <div className="nb-workbench" data-testid="loupe-widget">
      <div className="nb-title">
        <b>Loupe</b> <span className="muted">{model ? `${model.name} · ${model.n_layers} layers × ${model.n_heads} heads` : ''}</span>
        <span className="spacer" />
        <span className={`muted conn-${conn}`} data-testid="widget-conn">{conn}</span>
      </div>
      <Controls />
      <div className="nb-grid">
        <div className="col">
          <AttentionGrid />
        </div>
        <div className="col">
          <AttentionDetail />
          <NextToken />
        </div>
      </div>
      <div className="nb-grid nb-even">
        <LogitLens />
        <ResidualView />
      </div>
      <div className="nb-grid nb-even">
        <InterventionPanel />
        <SteeringPanel />
      </div>
      <FeaturesPanel />
    </div>
  );
}
