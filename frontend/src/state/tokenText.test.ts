import { describe, expect, it } from 'vitest';
import { groupTokens, tokenLabels } from './tokenText';

const F = '\uFFFD';

describe('byte-level fragments', () => {
  it('joins the three tokens of ☕ into one piece with its text from the prompt', () => {
    const tokens = ['I', ' like', ' ', F, F, F, ' coffee'];
    expect(groupTokens('I like ☕ coffee', tokens)).toEqual([
      { start: 0, end: 1, text: 'I' }, { start: 1, end: 2, text: ' like' }, { start: 2, end: 3, text: ' ' },
      { start: 3, end: 6, text: '☕' }, { start: 6, end: 7, text: ' coffee' },
    ]);
    expect(tokenLabels('I like ☕ coffee', tokens)).toEqual(['I', ' like', ' ', '☕[1/3]', '☕[2/3]', '☕[3/3]', ' coffee']);
  });

  it('handles fragments at the end, with a leading space, and a special token the prompt lacks', () => {
    expect(groupTokens('Hi 日本', ['<s>', 'Hi', ` ${F}`, F, `${F}`])).toEqual([
      { start: 0, end: 1, text: '<s>' }, { start: 1, end: 2, text: 'Hi' }, { start: 2, end: 5, text: ' 日本' },
    ]);
  });

  it('keeps the raw strings when the prompt does not match them', () => {
    expect(groupTokens('other text', ['a', F, F, 'b'])).toEqual([
      { start: 0, end: 1, text: 'a' }, { start: 1, end: 3, text: F + F }, { start: 3, end: 4, text: 'b' },
    ]);
  });
});
