import type { AnalysisTab } from '../state/analysis';
import { set, useLoupe } from '../state/store';
import { DlaChart } from './DlaChart';
import { HeadRoles } from './HeadRoles';
import { Panel } from './Panel';
import { PatchHeatmap } from './PatchHeatmap';
import { QkOvTables } from './QkOvTables';

/** Props of the Analyses panel. */
export interface AnalysisPanelProps {
  /** Which tabs to offer (default: all four). */
  tabs?: AnalysisTab[];
}

const TABS: { id: AnalysisTab; label: string }[] = [
  { id: 'patch', label: 'Patching' },
  { id: 'dla', label: 'Attribution' },
  { id: 'roles', label: 'Head roles' },
  { id: 'qkov', label: 'QK / OV' },
];

/** The analyses, one tab at a time: patching heatmap, direct logit attribution, head roles, QK/OV tables. */
export function AnalysisPanel({ tabs }: AnalysisPanelProps) {
  const tab = useLoupe((s) => s.analysis.tab);
  const shown = TABS.filter((t) => !tabs || tabs.includes(t.id));
  const pick = (t: AnalysisTab) => set((s) => ({ analysis: { ...s.analysis, tab: t } }));
  return (
    <Panel
      title="Analyses"
      testId="analysis-panel"
      className="analysis-panel"
      actions={
        <div className="tabs" role="tablist">
          {shown.map((t) => (
            <button key={t.id} type="button" role="tab" aria-selected={tab === t.id} className={tab === t.id ? 'tab active' : 'tab'}
              data-testid={`tab-${t.id}`} onClick={() => pick(t.id)}>{t.label}</button>
          ))}
        </div>
      }
    >
      {tab === 'patch' && <PatchHeatmap />}
      {tab === 'dla' && <DlaChart />}
      {tab === 'roles' && <HeadRoles />}
      {tab === 'qkov' && <QkOvTables />}
    </Panel>
  );
}
