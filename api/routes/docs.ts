import { Hono } from 'hono';
import { html, raw } from 'hono/html';

type Operation = {
  summary?: string;
  description?: string;
  tags?: string[];
  security?: unknown[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  parameters?: { name: string; in: string; required?: boolean; schema?: unknown }[];
  responses?: Record<string, { description?: string }>;
};
type Document = {
  info: { title: string; version: string; description?: string };
  paths?: Record<string, Record<string, Operation>>;
};

const methods = ['get', 'post', 'put', 'patch', 'delete'] as const;

/**
 * A self-contained docs page rendered on the server from the OpenAPI document. Hosted doc
 * viewers load their scripts from a CDN, which an offline studio cannot reach.
 */
export function docsRoutes(getDocument: () => Document) {
  return new Hono().get('/docs', (c) => {
    const doc = getDocument();
    const ops = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
      methods.filter((m) => item[m]).map((m) => ({ path, method: m, op: item[m] as Operation })),
    );
    const page = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${doc.info.title} — API</title>
<style>
 body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
 details{border:1px solid #ddd;border-radius:6px;margin:.5rem 0;padding:.4rem .8rem}
 summary{cursor:pointer} code,pre{font:13px ui-monospace,monospace} pre{background:#f6f6f6;padding:.6rem;overflow:auto}
 .m{display:inline-block;min-width:4.2em;font-weight:600;text-transform:uppercase}
 .get{color:#0a6}.post{color:#06c}.delete{color:#c30}.put,.patch{color:#a60} .lock{color:#888;font-size:.85em}
</style></head><body>
<h1>${doc.info.title} <small>${doc.info.version}</small></h1>
<p>${doc.info.description ?? ''}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a>. Authenticated routes take <code>Authorization: Bearer &lt;key&gt;</code>.</p>
${ops.map(
  ({
    path,
    method,
    op,
  }) => html`<details><summary><span class="m ${method}">${method}</span> <code>${path}</code> — ${op.summary ?? ''}
${op.security?.length ? html` <span class="lock">(API key)</span>` : ''}</summary>
${op.description ? html`<p>${op.description}</p>` : ''}
${op.parameters?.length ? html`<p>Parameters: ${op.parameters.map((p) => html`<code>${p.in}.${p.name}</code>${p.required ? '*' : ''} `)}</p>` : ''}
${Object.entries(op.requestBody?.content ?? {}).map(([type, body]) => html`<p>Body (<code>${type}</code>):</p><pre>${JSON.stringify(body.schema, null, 2)}</pre>`)}
<p>Responses: ${Object.entries(op.responses ?? {}).map(([s, r]) => html`<code>${s}</code> ${r.description ?? ''}; `)}</p>
</details>`,
)}
${raw('')}</body></html>`;
    return c.html(page);
  });
}
