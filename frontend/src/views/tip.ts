import type { CSSProperties } from 'react';

/** Tooltip position next to the pointer, flipped to the left in the right part of its container. */
export function tipStyle(x: number, y: number, width: number): CSSProperties {
  return x > width * 0.55 ? { right: Math.max(0, width - x + 12), top: y + 12 } : { left: x + 14, top: y + 12 };
}
