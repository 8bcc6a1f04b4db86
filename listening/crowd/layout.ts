import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';

type Body = HtmlEscapedString | Promise<HtmlEscapedString>;

/** The crowd pages' shell: readable on a phone, large touch targets, a visible keyboard focus. */
export function layout(title: string, body: Body, script?: Body) {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">
<title>${title}</title>
<style>
body{font:17px/1.5 system-ui,sans-serif;max-width:38rem;margin:0 auto;padding:1rem;color:#111;background:#fff}
h1{font-size:1.4rem}button,.button{font:inherit;min-height:3rem;min-width:3rem;padding:.5rem 1rem;margin:.25rem;border:2px solid #1f3d7a;border-radius:.5rem;background:#e8eefc;color:#111;cursor:pointer}
button:disabled{opacity:.45;cursor:not-allowed}button[aria-pressed=true]{background:#1f3d7a;color:#fff}
:focus-visible{outline:3px solid #b5179e;outline-offset:2px}
.clips,.choices{display:flex;flex-wrap:wrap;gap:.5rem;margin:1rem 0}.choices button{flex:1 1 5rem}
fieldset{border:1px solid #bbb;border-radius:.5rem;margin:1rem 0}progress{width:100%;height:1rem}
.hint{color:#444;font-size:.95rem}.code{font:700 1.6rem monospace;letter-spacing:.1em;padding:.5rem;border:2px dashed #1f3d7a;display:inline-block}
.error{color:#a00}
</style></head><body><main>${body}</main>${script ?? ''}</body></html>`;
}
