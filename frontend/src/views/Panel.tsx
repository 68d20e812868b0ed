import { useContext, type ReactNode } from 'react';
import { InTab } from './inTab';

/** Props of a titled panel. */
export interface PanelProps {
  title: string;
  /** Small grey text after the title (e.g. "L18 H6"). */
  hint?: ReactNode;
  /** Controls on the right of the title bar. */
  actions?: ReactNode;
  testId: string;
  className?: string;
  children: ReactNode;
}

/** A card with a title bar; every main region of the page is one. Inside a tab it is a bare section with its hint bar. */
export function Panel({ title, hint, actions, testId, className, children }: PanelProps) {
  const inTab = useContext(InTab);
  if (inTab) {
    return (
      <section className={`panel-bare ${className ?? ''}`} data-testid={testId} aria-label={title}>
        {(hint !== undefined || actions) && (
          <header className="panel-subhead">
            {hint !== undefined && <span className="panel-hint">{hint}</span>}
            <span className="spacer" />
            {actions}
          </header>
        )}
        <div className="panel-body">{children}</div>
      </section>
    );
  }
  return (
    <section className={`panel ${className ?? ''}`} data-testid={testId} aria-label={title}>
      <header className="panel-head">
        <h2>{title}</h2>
        {hint !== undefined && <span className="panel-hint">{hint}</span>}
        <span className="spacer" />
        {actions}
      </header>
      <div className="panel-body">{children}</div>
    </section>
  );
}
