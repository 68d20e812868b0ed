import { dismiss, useLoupe } from '../state/store';

/** Props: none; shows the store's notices. */
export type NoticesProps = Record<string, never>;

/** Server errors and other notices, shown plainly; each can be dismissed. */
export function Notices(_props: NoticesProps) {
  const notices = useLoupe((s) => s.notices);
  if (!notices.length) return null;
  return (
    <div className="notices" role="alert" data-testid="notices">
      {notices.map((n) => (
        <div key={n.key} className="notice" data-testid="error-message">
          <span className="code">{n.code}</span>
          <span className="msg">{n.message}</span>
          <button type="button" className="icon small" aria-label="Dismiss" onClick={() => dismiss(n.key)}>×</button>
        </div>
      ))}
    </div>
  );
}
