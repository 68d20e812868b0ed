import { step, scrubTo, togglePlay } from '../state/playback';
import { currentLayer } from '../state/runData';
import { useLoupe } from '../state/store';

/** Props: none; reads `run` and `scrub`. */
export type LayerScrubberProps = Record<string, never>;

/** ◀ [ticks + slider] ▶ ⏯ — scrub or replay the pass layer by layer (keys: ← → Space Home End). */
export function LayerScrubber(_props: LayerScrubberProps) {
  const run = useLoupe((s) => s.run);
  const scrub = useLoupe((s) => s.scrub);
  const playing = useLoupe((s) => s.playing);
  const nLayers = useLoupe((s) => s.model?.n_layers ?? 0);
  const done = run?.layersDone ?? 0;
  const cur = currentLayer(run, scrub);
  return (
    <div className="scrubber" data-testid="layer-scrubber">
      <span className="label">layer</span>
      <button type="button" className="icon" onClick={() => step(-1)} disabled={done === 0} aria-label="Previous layer" title="Previous layer (←)">◀</button>
      <div className="ticks" aria-hidden="true">
        {Array.from({ length: nLayers }, (_, l) => (
          <span key={l} className={l <= cur ? 'tick on' : l < done ? 'tick ready' : 'tick'} />
        ))}
        <input
          type="range"
          min={0}
          max={Math.max(0, nLayers - 1)}
          value={Math.max(0, cur)}
          aria-label="Layer"
          disabled={done === 0}
          onChange={(e) => scrubTo(Number(e.target.value))}
        />
      </div>
      <button type="button" className="icon" onClick={() => step(1)} disabled={done === 0} aria-label="Next layer" title="Next layer (→)">▶</button>
      <span className="layer-readout" data-testid="layer-readout">
        {cur >= 0 ? cur : '–'}<span className="muted">/{Math.max(0, nLayers - 1)}</span>
      </span>
      <button type="button" className="icon play" onClick={togglePlay} disabled={done === 0} aria-label={playing ? 'Pause' : 'Play'} title="Replay the pass (Space)">
        {playing ? (
          <svg width="12" height="12" viewBox="0 0 12 12" aria-hidden="true"><rect x="2" y="1" width="3" height="10" fill="currentColor" /><rect x="7" y="1" width="3" height="10" fill="currentColor" /></svg>
        ) : (
          <svg width="12" height="12" viewBox="0 0 12 12" aria-hidden="true"><path d="M2 1l9 5-9 5z" fill="currentColor" /></svg>
        )}
      </button>
    </div>
  );
}
