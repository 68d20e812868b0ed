import { useLoupe } from '../state/store';

/** Props: none; reads whether the shown run had interventions. */
export type RunBadgeProps = Record<string, never>;

/** "clean run" or "intervened run": which forward pass a view shows. */
export function RunBadge(_props: RunBadgeProps) {
  const run = useLoupe((s) => s.run);
  const active = useLoupe((s) => s.interventions.filter((i) => i.enabled !== false).length);
  if (!run || !run.strTokens.length) return null;
  const intervened = run.status === 'running' ? active > 0 : run.intervened;
  return (
    <span className={`run-badge ${intervened ? 'iv' : 'clean'}`} data-testid="run-badge"
      title={intervened ? 'this view shows the run with the session’s interventions applied' : 'this view shows the clean run (no interventions active)'}>
      {intervened ? 'intervened run' : 'clean run'}
    </span>
  );
}
