import { rerun, cancelAll } from '../state/actions';
import { DEFAULT_PROMPT, set, useLoupe } from '../state/store';

/** Props: none; edits `prompt` in the store. */
export type PromptBarProps = Record<string, never>;

/** The prompt box: Enter runs, Shift+Enter inserts a newline. */
export function PromptBar(_props: PromptBarProps) {
  const prompt = useLoupe((s) => s.prompt);
  const running = useLoupe((s) => s.run?.status === 'running');
  const open = useLoupe((s) => s.conn === 'open');
  const maxTokens = useLoupe((s) => s.limits?.max_prompt_tokens);
  return (
    <form
      className="promptbar"
      onSubmit={(e) => {
        e.preventDefault();
        rerun();
      }}
    >
      <textarea
        data-testid="prompt-input"
        aria-label="Prompt"
        rows={1}
        value={prompt}
        spellCheck={false}
        placeholder="Type a prompt and press Enter"
        onChange={(e) => set({ prompt: e.target.value })}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey) {
            e.preventDefault();
            rerun();
          }
        }}
      />
      <button type="submit" className="primary" disabled={!open} data-testid="run-button" title={`Run (Enter)${maxTokens ? ` · up to ${maxTokens} tokens` : ''}`}>
        Run ⏎
      </button>
      {running ? (
        <button type="button" onClick={cancelAll} title="Stop the running pass">Stop</button>
      ) : (
        <button type="button" className="ghost" onClick={() => { set({ prompt: DEFAULT_PROMPT }); rerun(); }} title="Back to the IOI example">
          Example
        </button>
      )}
    </form>
  );
}
