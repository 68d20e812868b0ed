import { useLayoutEffect, useRef, useState, type ReactNode } from 'react';

/** Props of a hover tooltip. */
export interface TooltipProps {
  /** The pointer, in px from the top left of the positioned element the tooltip is rendered in. */
  x: number;
  y: number;
  testId?: string;
  children: ReactNode;
}

const GAP = 12;
const MARGIN = 4;

/**
 * A tooltip next to the pointer that is never cut off: it is positioned against the window (so a
 * scrolling or clipping panel does not hide it), and flips left / up when it would leave the window.
 */
export function Tooltip({ x, y, testId, children }: TooltipProps) {
  const anchor = useRef<HTMLSpanElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const [pos, setPos] = useState<{ left: number; top: number } | null>(null);
  useLayoutEffect(() => {
    const a = anchor.current?.getBoundingClientRect();
    const b = box.current?.getBoundingClientRect();
    if (!a || !b) return;
    const vw = window.innerWidth;
    const vh = window.innerHeight;
    let left = a.left + GAP;
    if (left + b.width > vw - MARGIN) left = a.left - GAP - b.width;
    let top = a.top + GAP;
    if (top + b.height > vh - MARGIN) top = a.top - GAP - b.height;
    left = Math.max(MARGIN, Math.min(left, vw - MARGIN - b.width));
    top = Math.max(MARGIN, Math.min(top, vh - MARGIN - b.height));
    setPos((p) => (p && p.left === left && p.top === top ? p : { left, top }));
  }, [x, y, children]);
  return (
    <span ref={anchor} style={{ position: 'absolute', left: x, top: y, width: 0, height: 0 }}>
      <div ref={box} className="tooltip" data-testid={testId}
        style={{ position: 'fixed', left: pos?.left ?? -9999, top: pos?.top ?? -9999 }}>
        {children}
      </div>
    </span>
  );
}
