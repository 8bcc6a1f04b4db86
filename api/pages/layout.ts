import { html } from 'hono/html';

/** What the frame knows of the request: the session's CSRF token when the owner signed in. */
export type Frame = { csrf?: string | undefined };

/**
 * The owner pages' frame: plain HTML, one style sheet and one script file served by the studio
 * (no inline script or style element, so the pages' Content-Security-Policy allows none). Signed
 * in, it carries the navigation, the sign-out form and the CSRF token the script sends.
 */
export const layout = (title: string, body: unknown, frame: Frame = {}) =>
  html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
${frame.csrf ? html`<meta name="csrf-token" content="${frame.csrf}">` : ''}
<title>${title}</title>
<link rel="stylesheet" href="/assets/studio.css">
</head><body>${frame.csrf ? nav(frame.csrf) : ''}<main>${body}</main>
<script src="/assets/studio.js" defer></script></body></html>`;

const nav = (csrf: string) => html`<header><nav aria-label="Console"><a href="/console">Console</a>
<a href="/console/voices">Voices</a><a href="/console/datasets">Datasets</a><a href="/console/tests">Listening tests</a><a href="/console/keys">Keys</a>
<form method="post" action="/sign-out"><input type="hidden" name="_csrf" value="${csrf}"><button type="submit">Sign out</button></form></nav></header>`;

/** The key field of pages opened with a Bearer key; signed in, the session stands in for it. */
export const keyField = (frame: Frame, label: string) =>
  frame.csrf ? '' : html`<label>${label} <input id="key" type="password" autocomplete="off"></label>`;

export const studioCss = `
body{font:16px/1.5 system-ui,sans-serif;max-width:72rem;margin:0 auto;padding:0 1rem 2rem;color:#1b1b1b}
p,li,h1,h2,code,dd{overflow-wrap:anywhere}
a{color:#1b4d89}
header nav{display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center;padding:.5rem 0;border-bottom:1px solid #ddd;margin-bottom:1rem}
header nav a{display:inline-flex;align-items:center;justify-content:center;min-height:44px;min-width:44px;padding:0 .25rem}
header nav form{margin-left:auto}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:1rem 0;width:100%}th,td{border:1px solid #ddd;padding:.3rem .5rem;vertical-align:top}
th{background:#f5f5f5;text-align:left} td.n{text-align:right;white-space:nowrap} tr.out{background:#fbeff0}
input,select,textarea,button{font:inherit;box-sizing:border-box;max-width:100%}
input[type=text],input[type=password],input[type=url],select,textarea{width:100%;min-height:44px;padding:.4rem}
input[type=file]{min-height:44px}
button,.button{cursor:pointer;min-height:44px;min-width:44px;padding:.4rem 1rem;border-radius:6px;border:1px solid #1b4d89;background:#1b4d89;color:#fff}
button.secondary{background:#fff;color:#1b4d89}
label{display:block;margin:.6rem 0 .2rem;font-weight:600}
figure{margin:1rem 0;max-width:100%} svg{max-width:100%;height:auto}
.status{font-weight:600} .row{display:flex;gap:2rem;flex-wrap:wrap} .row>*{flex:1;min-width:min(20rem,100%)} small{color:#555}
.notice{background:#eef5ff;border:1px solid #b6d0f0;padding:.6rem;border-radius:6px}
.warn{background:#fff7e0;border:1px solid #e0c060;padding:.6rem;border-radius:6px}
.error{background:#fbeff0;border:1px solid #d08a90;padding:.6rem;border-radius:6px}
code.secret{display:block;padding:.6rem;background:#f5f5f5;word-break:break-all}
ul.links li{margin:.2rem 0} ul.links a{display:inline-flex;align-items:center;min-height:44px;min-width:44px}
audio{width:min(100%,20rem);height:2.5rem} progress{width:min(100%,20rem);height:1.2rem}
details summary{min-height:44px;display:flex;align-items:center;cursor:pointer}
fieldset{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:0 .8rem .8rem;min-width:0}
p.check label{display:flex;gap:.6rem;align-items:center;font-weight:600;min-height:44px}
p.check input[type=checkbox]{width:44px;height:44px;margin:0;flex:none}
td input[type=text]{min-width:12rem}
figure.qr{width:min(12rem,100%);margin:1rem 0} figure.qr svg{display:block;width:100%}
@media (max-width:40rem){main table{display:block;overflow-x:auto}}
`;
