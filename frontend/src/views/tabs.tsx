/**
 * The tab registry: every view that lives in the workspace's tab areas, in tab-bar order.
 * To add a view, append one entry here (its component may render a `Panel`; inside a tab the
 * panel drops its title). `keepMounted` views stay mounted while hidden (for their effects).
 */
import type { ReactNode } from 'react';
import { AttentionDetail } from './AttentionDetail';
import { CompositionView } from './CompositionView';
import { DlaChart } from './DlaChart';
import { FeaturesPanel } from './features/FeaturesPanel';
import { HeadRoles } from './HeadRoles';
import { LogitLens } from './LogitLens';
import { Panel } from './Panel';
import { PatchHeatmap } from './PatchHeatmap';
import { QkOvTables } from './QkOvTables';
import { ResidualView } from './ResidualView';

/** One tab: `id` names it in the store, the URL and the tab button's test id (`tab-{id}`). */
export interface TabSpec {
  id: string;
  label: string;
  /** Tooltip of the tab button. */
  title: string;
  render: () => ReactNode;
  keepMounted?: boolean;
}

/** An analysis view (no Panel of its own) as a tab's panel. */
function analysis(title: string, testId: string, body: ReactNode): ReactNode {
  return <Panel title={title} testId={testId}>{body}</Panel>;
}

export const TABS: TabSpec[] = [
  { id: 'head', label: 'Head', title: 'the selected head’s attention pattern', render: () => <AttentionDetail /> },
  { id: 'lens', label: 'Logit lens', title: 'top next-token guess per layer × position', render: () => <LogitLens /> },
  { id: 'resid', label: 'Residual', title: '‖resid_post‖ per layer × position', render: () => <ResidualView /> },
  { id: 'patch', label: 'Patching', title: 'activation patching sweep, clean vs corrupt prompt', render: () => analysis('Patching', 'patch-tab', <PatchHeatmap />) },
  { id: 'dla', label: 'Attribution', title: 'direct logit attribution per head / MLP', render: () => analysis('Attribution', 'dla-tab', <DlaChart />) },
  { id: 'roles', label: 'Roles', title: 'induction / previous-token / duplicate-token heads', render: () => analysis('Head roles', 'roles-tab', <HeadRoles />) },
  { id: 'qkov', label: 'QK / OV', title: 'the selected head’s circuits through the embeddings', render: () => analysis('QK / OV', 'qkov-tab', <QkOvTables />) },
  { id: 'comp', label: 'Composition', title: 'Q / K / V composition between heads, from the weights', render: () => analysis('Composition', 'comp-tab', <CompositionView />) },
  { id: 'features', label: 'Features', title: 'sparse-autoencoder features of the run', render: () => <FeaturesPanel />, keepMounted: true },
];

/** The registry entry for `id` (the first tab when unknown). */
export function tabSpec(id: string): TabSpec {
  return TABS.find((t) => t.id === id) ?? TABS[0];
}
