import { useLoupe } from '../state/store';
import { ExportMenu } from './ExportMenu';
import { Shortcuts } from './Shortcuts';

/** Props: none; reads model, connection and run progress from the store. */
export type HeaderProps = Record<string, never>;

/** Top bar: brand, model, connection state, run progress, export menu. */
export function Header(_props: HeaderProps) {
  const model = useLoupe((s) => s.model);
  const conn = useLoupe((s) => s.conn);
  const detail = useLoupe((s) => s.connDetail);
  const run = useLoupe((s) => s.run);
  const running = run?.status === 'running';
  const label = conn === 'open' ? 'connected' : conn === 'connecting' ? 'connecting…' : `disconnected${detail ? ` — ${detail}` : ''}, retrying`;
  return (
    <header className="topbar">
      <div className="brand">
        <svg viewBox="0 0 32 32" width="22" height="22" aria-hidden="true">
          <circle cx="13" cy="13" r="9" fill="none" stroke="#7c9cff" strokeWidth="3" />
          <path d="M20 20l8 8" stroke="#ffb454" strokeWidth="4" strokeLinecap="round" />
          <circle cx="13" cy="13" r="4" fill="#ffb454" />
        </svg>
        <span>Loupe</span>
      </div>
      <div className="model" title={model ? `${model.arch} · d_model ${model.d_model} · vocab ${model.d_vocab}` : ''}>
        {model ? (
          <>
            <b>{model.name}</b>
            <span className="muted"> · {model.n_layers} layers × {model.n_heads} heads{model.n_kv_heads !== model.n_heads ? ` (${model.n_kv_heads} kv)` : ''}</span>
          </>
        ) : (
          <span className="muted">no model yet</span>
        )}
      </div>
      <div className={`conn conn-${conn}`} data-testid="connection" role="status">
        <span className="dot" />
        {label}
      </div>
      <div className="progress-slot" data-testid="run-progress" aria-busy={running}>
        {run && running && (
          <>
            <div className="progress"><div style={{ width: `${(100 * run.layersDone) / run.nLayers}%` }} /></div>
            <span className="muted">layer {run.layersDone}/{run.nLayers}</span>
          </>
        )}
        {run && run.status === 'done' && run.ms !== undefined && <span className="muted">{run.strTokens.length} tokens · {run.ms.toFixed(0)} ms</span>}
        {run && run.status === 'cancelled' && <span className="run-stopped" data-testid="run-cancelled">cancelled at layer {run.layersDone}/{run.nLayers}</span>}
        {run && run.status === 'error' && <span className="run-stopped">run failed{run.error === 'disconnected' ? ': disconnected' : ''}</span>}
      </div>
      <span className="spacer" />
      <Shortcuts />
      <ExportMenu />
    </header>
  );
}
