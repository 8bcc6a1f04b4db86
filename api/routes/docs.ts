import { Hono } from 'hono';
import { html, raw } from 'hono/html';

type Media = { schema?: unknown; example?: unknown; examples?: Record<string, { value?: unknown }> };
type Operation = {
  summary?: string;
  description?: string;
  tags?: string[];
  security?: unknown[];
  requestBody?: { content?: Record<string, Media> };
  parameters?: { name: string; in: string; required?: boolean; schema?: unknown }[];
  responses?: Record<string, { description?: string; content?: Record<string, Media> }>;
};
type Document = {
  info: { title: string; version: string; description?: string };
  paths?: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, unknown> };
};

/**
 * The schema with every `#/components/schemas/...` reference replaced by the schema it names, so
 * a reader sees fields rather than pointers. A schema that refers to itself (directly or through
 * others) stays a reference at the second visit instead of expanding forever.
 */
export function resolveRefs(schema: unknown, components: Record<string, unknown>, seen: string[] = []): unknown {
  if (Array.isArray(schema)) return schema.map((s) => resolveRefs(s, components, seen));
  if (!schema || typeof schema !== 'object') return schema;
  const ref = (schema as { $ref?: unknown }).$ref;
  if (typeof ref === 'string' && ref.startsWith('#/components/schemas/')) {
    const name = ref.slice('#/components/schemas/'.length);
    if (seen.includes(name) || !(name in components)) return schema;
    return resolveRefs(components[name], components, [...seen, name]);
  }
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, resolveRefs(v, components, seen)]));
}

/** A media type's example: `example`, else the first of `examples`. */
const exampleOf = (m: Media): unknown => m.example ?? Object.values(m.examples ?? {})[0]?.value;

const methods = ['get', 'post', 'put', 'patch', 'delete'] as const;

/**
 * A self-contained docs page rendered on the server from the OpenAPI document. Hosted doc
 * viewers load their scripts from a CDN, which an offline studio cannot reach.
 */
export function docsRoutes(getDocument: () => Document) {
  return new Hono().get('/docs', (c) => {
    const doc = getDocument();
    const components = doc.components?.schemas ?? {};
    const media = (what: string, type: string, m: Media) => {
      const example = exampleOf(m);
      return html`<p>${what} (<code>${type}</code>):</p>
${m.schema ? html`<pre>${JSON.stringify(resolveRefs(m.schema, components), null, 2)}</pre>` : ''}
${example !== undefined ? html`<p>Example:</p><pre>${JSON.stringify(example, null, 2)}</pre>` : ''}`;
    };
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
${Object.entries(op.requestBody?.content ?? {}).map(([type, body]) => media('Body', type, body))}
<p>Responses: ${Object.entries(op.responses ?? {}).map(([s, r]) => html`<code>${s}</code> ${r.description ?? ''}; `)}</p>
${Object.entries(op.responses ?? {}).flatMap(([status, r]) =>
  Object.entries(r.content ?? {}).map(([type, body]) => media(`Response ${status}`, type, body)),
)}
</details>`,
)}
${raw('')}</body></html>`;
    return c.html(page);
  });
}
