import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { CSS_PATH } from './player.ts';

type Body = HtmlEscapedString | Promise<HtmlEscapedString>;

/**
 * The crowd pages' shell: readable on a phone, large touch targets, a visible keyboard focus.
 * Its style is a served file: the pages' Content-Security-Policy allows nothing inline.
 */
export function layout(title: string, body: Body, script?: Body) {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">
<title>${title}</title>
<link rel="stylesheet" href="${CSS_PATH}"></head><body><main>${body}</main>${script ?? ''}</body></html>`;
}
