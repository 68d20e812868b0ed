/**
 * Byte-level tokens for display. A byte-level BPE splits a character such as ☕ into several
 * tokens, each decoding alone to "\uFFFD". Aligning the token strings with the prompt they came from
 * gives back the text of each run of such fragments, so the views can show "☕" once.
 */

/** Tokens `start` .. `end - 1` shown as one piece of text. */
export interface TokenGroup { start: number; end: number; text: string }

const REPLACEMENT = '\uFFFD';

/** Group `strTokens` (decoded one by one) into display pieces, recovering fragments' text from `prompt`. */
export function groupTokens(prompt: string, strTokens: readonly string[]): TokenGroup[] {
  const out: TokenGroup[] = [];
  let at = 0;
  let i = 0;
  while (i < strTokens.length) {
    const t = strTokens[i];
    if (!t.includes(REPLACEMENT)) {
      if (prompt.startsWith(t, at)) at += t.length; // a special token the tokenizer added is not in the prompt
      out.push({ start: i, end: i + 1, text: t });
      i += 1;
      continue;
    }
    let j = i;
    while (j < strTokens.length && strTokens[j].includes(REPLACEMENT)) j += 1;
    const next = j < strTokens.length ? strTokens[j] : null;
    const stop = next === null ? prompt.length : next === '' ? -1 : prompt.indexOf(next, at + 1);
    const text = stop > at ? prompt.slice(at, stop) : strTokens.slice(i, j).join('');
    if (stop > at) at = stop;
    out.push({ start: i, end: j, text });
    i = j;
  }
  return out;
}

/** One label per token: its own string, or for a fragment its group's text and which part it is ("☕[2/3]"). */
export function tokenLabels(prompt: string, strTokens: readonly string[]): string[] {
  const out: string[] = [];
  for (const g of groupTokens(prompt, strTokens)) {
    const n = g.end - g.start;
    for (let k = 0; k < n; k++) out.push(n === 1 ? g.text : `${g.text}[${k + 1}/${n}]`);
  }
  return out;
}
