import { LayerScrubber } from './LayerScrubber';
import { Notices } from './Notices';
import { PromptBar } from './PromptBar';
import { TokenStrip } from './TokenStrip';

/** Notices, then the prompt bar over the token strip and layer scrubber: the top of the page and of the widget. */
export function Controls() {
  return (
    <>
      <Notices />
      <div className="controls">
        <PromptBar />
        <div className="strip-row">
          <TokenStrip />
          <LayerScrubber />
        </div>
      </div>
    </>
  );
}
