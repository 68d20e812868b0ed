/** The app's stylesheet for a shadow root: page-level rules become rules of the widget's host. */
export function scopeCss(css: string): string {
  return css.replace(/:root\b/g, ':host').replace(/(^|\n)body\s*\{[^}]*\}/g, '$1');
}
