import { useEffect, useState } from 'react';
import { step, scrubTo, togglePlay } from '../state/playback';
import { get, set } from '../state/store';

/** Props: none. */
export type ShortcutsProps = Record<string, never>;

const KEYS: [string, string][] = [
  ['Space', 'play / pause the layer replay'],
  ['← →', 'previous / next layer'],
  ['Home End', 'first / last layer'],
  ['Esc', 'clear token focus'],
  ['/', 'edit the prompt'],
  ['?', 'this help'],
];

function typing(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  return !!el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable);
}

/** Global keyboard shortcuts for play/scrub, plus a `?` help overlay. */
export function Shortcuts(_props: ShortcutsProps) {
  const [help, setHelp] = useState(false);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
      const n = get().run?.layersDone ?? 0;
      switch (e.key) {
        case ' ': togglePlay(); break;
        case 'ArrowLeft': step(-1); break;
        case 'ArrowRight': step(1); break;
        case 'Home': scrubTo(0); break;
        case 'End': scrubTo(n - 1); break;
        case 'Escape': set({ focusPos: null }); setHelp(false); break;
        case '/': (document.querySelector('[data-testid="prompt-input"]') as HTMLElement | null)?.focus(); break;
        case '?': setHelp((h) => !h); break;
        default: return;
      }
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  return (
    <>
      <button type="button" className="ghost help-btn" onClick={() => setHelp((h) => !h)} aria-label="Keyboard shortcuts">?</button>
      {help && (
        <div className="help" role="dialog" aria-label="Keyboard shortcuts" onClick={() => setHelp(false)}>
          <div className="help-card">
            <h3>Keyboard</h3>
            <dl>{KEYS.map(([k, v]) => <div key={k}><dt>{k}</dt><dd>{v}</dd></div>)}</dl>
            <p className="muted">Mouse: click a head to enlarge it, ⌥/alt-click to ablate it; click a token to focus it.</p>
          </div>
        </div>
      )}
    </>
  );
}
