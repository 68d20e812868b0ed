import { AnalysisPanel } from './views/AnalysisPanel';
import { AttentionDetail } from './views/AttentionDetail';
import { AttentionGrid } from './views/AttentionGrid';
import { Header } from './views/Header';
import { InterventionPanel } from './views/InterventionPanel';
import { LayerScrubber } from './views/LayerScrubber';
import { LogitLens } from './views/LogitLens';
import { NextToken } from './views/NextToken';
import { Notices } from './views/Notices';
import { PromptBar } from './views/PromptBar';
import { ResidualView } from './views/ResidualView';
import { SteeringPanel } from './views/SteeringPanel';
import { TokenStrip } from './views/TokenStrip';
import { FeaturesPanel } from './views/features/FeaturesPanel';

/** The page: React owns layout; every panel reads the shared store. */
export function App() {
  return (
    <div className="app">
      <Header />
      <Notices />
      <div className="controls">
        <PromptBar />
        <div className="strip-row">
          <TokenStrip />
          <LayerScrubber />
        </div>
      </div>
      <main className="main">
        <div className="col col-grid">
          <AttentionGrid />
        </div>
        <div className="col col-center">
          <AttentionDetail />
          <LogitLens />
          <AnalysisPanel />
          <FeaturesPanel />
        </div>
        <div className="col col-side">
          <NextToken />
          <InterventionPanel />
          <SteeringPanel />
          <ResidualView />
        </div>
      </main>
    </div>
  );
}
