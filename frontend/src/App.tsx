import { Header } from './views/Header';
import { LayerScrubber } from './views/LayerScrubber';
import { Notices } from './views/Notices';
import { PromptBar } from './views/PromptBar';
import { TokenStrip } from './views/TokenStrip';
import { Workspace } from './views/Workspace';

/** The page: header, prompt and tokens, then the workspace (grid, tab areas, side panels). */
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
      <Workspace />
    </div>
  );
}
