import { html } from 'hono/html';

/** The owner pages' frame: plain HTML and CSS, one script file served by the studio (no inline script). */
export const layout = (title: string, body: unknown) =>
  html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title>
<style>
 body{font:15px/1.5 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
 table{border-collapse:collapse;margin:1rem 0;width:100%}th,td{border:1px solid #ddd;padding:.3rem .5rem;vertical-align:top}
 th{background:#f5f5f5;text-align:left} td.n{text-align:right;white-space:nowrap} tr.out{background:#fbeff0}
 input[type=text]{width:100%;box-sizing:border-box;font:inherit} button{cursor:pointer} figure{margin:1rem 0}
 .status{font-weight:600} .row{display:flex;gap:2rem;flex-wrap:wrap} .row>*{flex:1;min-width:20rem} small{color:#555}
 audio{width:12rem;height:2rem}
</style></head><body><main>${body}</main>
<script src="/assets/studio.js" defer></script></body></html>`;
