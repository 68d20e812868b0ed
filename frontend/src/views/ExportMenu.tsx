import { useState } from 'react';
import { defaultWsUrl } from '../api/client';
import { copyLink } from '../state/address';
import { download, exportJson, pythonScript } from '../state/exporters';
import { get, notify, useLoupe } from '../state/store';
import { pagePng } from '../viz/exportPng';

/** Props: none. */
export type ExportMenuProps = Record<string, never>;

function stamp(): string {
  return new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
}

/** Export ▾: the whole page as PNG, the captured data as JSON, the session as a Python script, a link to the session. */
export function ExportMenu(_props: ExportMenuProps) {
  const [open, setOpen] = useState(false);
  const hasRun = useLoupe((s) => !!s.run && s.run.layersDone > 0);
  const act = (f: () => Promise<void> | void) => async () => {
    setOpen(false);
    try {
      await f();
    } catch (e) {
      notify('export', e instanceof Error ? e.message : String(e));
    }
  };
  const png = act(async () => {
    const root = document.querySelector<HTMLElement>('.app');
    if (!root) throw new Error('PNG export: the page is not shown');
    download(`loupe-${stamp()}.png`, await pagePng(root));
  });
  const json = act(() => download(`loupe-${stamp()}.json`, JSON.stringify(exportJson(get()), null, 1), 'application/json'));
  const script = act(() => {
    const url = defaultWsUrl().replace(/^wss?:\/\//, (m) => m);
    download(`loupe_session_${stamp().replace(/-/g, '_')}.py`, pythonScript(get(), url), 'text/x-python');
  });
  return (
    <div className="menu" data-testid="export-menu">
      <button type="button" onClick={() => setOpen((o) => !o)} aria-haspopup="menu" aria-expanded={open} disabled={!hasRun}>
        export ▾
      </button>
      {open && (
        <div className="menu-items" role="menu">
          <button type="button" role="menuitem" data-testid="export-png" onClick={png}>page as PNG</button>
          <button type="button" role="menuitem" data-testid="export-json" onClick={json}>captured data as JSON</button>
          <button type="button" role="menuitem" data-testid="export-python" onClick={script}>session as Python script</button>
          <button type="button" role="menuitem" data-testid="copy-link" onClick={act(copyLink)}>copy link to this session</button>
        </div>
      )}
    </div>
  );
}
