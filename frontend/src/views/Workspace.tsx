import { useEffect, useState } from 'react';
import { showTab } from '../state/tabs';
import { useLoupe } from '../state/store';
import { AttentionGrid } from './AttentionGrid';
import { InterventionPanel } from './InterventionPanel';
import { NextToken } from './NextToken';
import { InTab } from './inTab';
import { SteeringPanel } from './SteeringPanel';
import { TABS, tabSpec } from './tabs';

/** Viewport width from which the workspace shows two tab areas side by side. */
export const WIDE_PX = 1800;

function useWide(): boolean {
  const query = `(min-width: ${WIDE_PX}px)`;
  const [wide, setWide] = useState(() => window.matchMedia(query).matches);
  useEffect(() => {
    const m = window.matchMedia(query);
    const on = () => setWide(m.matches);
    m.addEventListener('change', on);
    return () => m.removeEventListener('change', on);
  }, [query]);
  return wide;
}

/** Props of one tab area. */
export interface TabAreaProps {
  area: 0 | 1;
  /** Whether this area also hosts (hidden) the keep-mounted tabs no area shows. */
  hostsHidden: boolean;
  /** The tab the other visible area shows, if there is one. */
  elsewhere: string | null;
}

/** A tab bar over the registry's views; shows this area's tab (and keeps `keepMounted` tabs alive, hidden). */
export function TabArea({ area, hostsHidden, elsewhere }: TabAreaProps) {
  const tabs = useLoupe((s) => s.tabs);
  const current = tabSpec(tabs[area]).id;
  const prefix = area === 0 ? 'tab' : 'tab2';
  const mounted = TABS.filter((t) => t.id === current || (hostsHidden && t.keepMounted && t.id !== elsewhere));
  return (
    <section className="panel tab-area" data-testid={`tab-area-${area}`}>
      <nav className="tab-bar" role="tablist" aria-label={area === 0 ? 'Views' : 'More views'}>
        {TABS.map((t) => (
          <button key={t.id} type="button" role="tab" aria-selected={t.id === current} className={t.id === current ? 'tab active' : 'tab'}
            title={t.title} data-testid={`${prefix}-${t.id}`} onClick={() => showTab(t.id, area)}>{t.label}</button>
        ))}
      </nav>
      <InTab.Provider value>
        {mounted.map((t) => (
          <div key={t.id} className="tab-body" hidden={t.id !== current} data-tab={t.id}>{t.render()}</div>
        ))}
      </InTab.Provider>
    </section>
  );
}

/** Props: none; the layout reads the store. */
export type WorkspaceProps = Record<string, never>;

/**
 * The page below the prompt: the attention grid on the left, one tab area (two on wide screens)
 * in the middle, the next-token, intervention and steering panels on the right. Every column
 * scrolls on its own, so every view is reachable without scrolling the page.
 */
export function Workspace(_props: WorkspaceProps) {
  const wide = useWide();
  const tabs = useLoupe((s) => s.tabs);
  return (
    <main className={`workspace${wide ? ' wide' : ''}`}>
      <div className="col col-grid">
        <AttentionGrid />
      </div>
      <TabArea area={0} hostsHidden elsewhere={wide ? tabSpec(tabs[1]).id : null} />
      {wide && <TabArea area={1} hostsHidden={false} elsewhere={null} />}
      <div className="col col-side">
        <NextToken />
        <InterventionPanel />
        <SteeringPanel />
      </div>
    </main>
  );
}
