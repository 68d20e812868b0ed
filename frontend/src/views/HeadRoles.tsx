import { useEffect } from 'react';
import { selectHead } from '../state/actions';
import { ROLE_COLOURS, ROLE_NAMES, topRole, type RoleKind } from '../state/analysis';
import { loadRoles, setShowRoles } from '../state/analysisActions';
import { useLoupe } from '../state/store';

/** Props of the head-roles view. */
export interface HeadRolesProps {
  /** Heads listed per role. */
  perRole?: number;
}

const KINDS: RoleKind[] = ['induction', 'previous_token', 'duplicate_token'];

/**
 * Head roles from attention on repeated random tokens (computed once per server): the top
 * heads per role, and a toggle that outlines them in the attention grid (store `headMarks`).
 */
export function HeadRoles({ perRole = 5 }: HeadRolesProps) {
  const roles = useLoupe((s) => s.analysis.roles);
  const show = useLoupe((s) => s.analysis.showRoles);
  const busy = useLoupe((s) => s.analysis.busy === 'roles');
  const open = useLoupe((s) => s.conn === 'open');
  useEffect(() => {
    if (open && !roles && !busy) void loadRoles();
  }, [open, roles, busy]);

  return (
    <div className="analysis-body" data-testid="roles-view">
      <div className="row">
        <label className="inline grow">
          <input type="checkbox" checked={show} onChange={(e) => setShowRoles(e.target.checked)} data-testid="roles-toggle" /> outline roles in the attention grid
        </label>
        {busy && <span className="muted small-text">scoring heads…</span>}
      </div>
      {roles && (
        <div className="role-cols">
          {KINDS.map((k) => (
            <div key={k} className="role-col">
              <div className="gen-title"><span className="swatch" style={{ background: ROLE_COLOURS[k] }} /> {ROLE_NAMES[k]}</div>
              {topRole(roles, k, perRole).map((t) => {
                const [, l, h] = /L(\d+)H(\d+)/.exec(t.label) ?? [];
                return (
                  <button type="button" key={t.label} className="link-row" onClick={() => selectHead(Number(l), Number(h))}>
                    <span className="tok">{t.label}</span> <span className="num">{t.value.toFixed(2)}</span>
                  </button>
                );
              })}
            </div>
          ))}
        </div>
      )}
      <p className="muted small-text">Mean attention on 4 random sequences of 50 tokens repeated twice: induction = to the token after the earlier copy; previous token = to the one before; duplicate = to the earlier copy.</p>
    </div>
  );
}
