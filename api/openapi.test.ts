/**
 * The OpenAPI document against the app: every route the app serves is in the document and
 * every documented operation is served; every operation has an example request, which this
 * test sends (with the example's ids replaced by resources it made) and whose answer must
 * have the documented status, media type and schema.
 */
import assert from 'node:assert/strict';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inspectRoutes } from 'hono/dev';
import { z } from 'zod';
import { createApiKey, findRaterByTokenHash, getVoice, listDatasetClips, promoteCheckpoint } from '../db/index.ts';
import { createEngine, type Engine, SAMPLING_DEFAULTS } from '../inference/index.ts';
import { localStorage } from '../infra/index.ts';
import { headphoneAnswers, memoryAudioStore } from '../listening/index.ts';
import { finishBuildAsWorker } from '../test/helpers/datasets.ts';
import { openTestDb, type TestDb } from '../test/helpers/db.ts';
import { hashToken } from '../test/helpers/listening.ts';
import { dataDirWithTinyModel, tinyReferenceClip } from '../test/helpers/tiny.ts';
import { type App, createApp } from './app.ts';
import { exampleIds, exampleTokens } from './examples.ts';
import { resolveRefs } from './routes/docs.ts';

type Schema = Record<string, unknown>;
type Media = { schema?: Schema; example?: unknown };
type Parameter = { name: string; in: string; required?: boolean; example?: unknown; schema?: Schema };
type Operation = {
  security?: unknown[];
  parameters?: Parameter[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media>; headers?: Record<string, { example?: unknown }> }>;
};
type Document = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };

const methods = ['get', 'post', 'put', 'patch', 'delete'];
/** `/v1/voices/{id}` as Hono writes it: `/v1/voices/:id`. */
const honoPath = (path: string) => path.replace(/\{(\w+)\}/g, ':$1');

/**
 * The order the examples are sent in: each may use what those before it made (a voice, a
 * dataset, a rater's session). Deleting comes last. The test checks this list holds every
 * documented operation once.
 */
const order = [
  'GET /healthz',
  'GET /readyz',
  'GET /',
  'GET /docs',
  'GET /openapi.json',
  'POST /v1/keys',
  'GET /v1/keys',
  'POST /v1/checkpoints',
  'GET /v1/checkpoints',
  'GET /v1/checkpoints/{id}',
  'POST /v1/voices',
  'GET /v1/voices',
  'GET /v1/voices/{id}',
  'PATCH /v1/voices/{id}',
  'GET /v1/models',
  'POST /v1/tts',
  'POST /v1/audio/speech',
  'GET /metrics',
  'POST /v1/datasets',
  'GET /v1/datasets',
  'GET /v1/datasets/{id}',
  'GET /v1/datasets/{id}/events',
  'GET /v1/datasets/{id}/clips',
  'GET /v1/datasets/{id}/clips/{clip_id}/audio',
  'PATCH /v1/datasets/{id}/clips/{clip_id}',
  'GET /v1/datasets/{id}/ljspeech.tar',
  'POST /v1/training-runs',
  'GET /v1/training-runs',
  'GET /v1/training-runs/{id}',
  'GET /v1/training-runs/{id}/metrics',
  'POST /v1/training-runs/{id}/cancel',
  'GET /v1/training-runs/{id}/events',
  'POST /v1/training-runs/{id}/resume',
  'POST /v1/listening/tests',
  'GET /v1/listening/tests',
  'GET /v1/listening/tests/{id}',
  'PUT /v1/listening/tests/{id}/recordings/{index}',
  'POST /v1/listening/tests/{id}/render',
  'POST /v1/listening/tests/{id}/open',
  'GET /listen/assets/{file}',
  'GET /listen/i/{code}',
  'POST /listen/i/{code}',
  'GET /listen/s/{token}',
  'GET /listen/s/{token}/headphones/{file}',
  'POST /listen/s/{token}/headphones',
  'GET /listen/audio/{trial_id}/{slot}',
  'POST /listen/s/{token}/trials/{trial_id}/vote',
  'POST /listen/s/{token}/complete',
  'POST /v1/listening/tests/{id}/completion-codes/redeem',
  'GET /v1/listening/tests/{id}/results',
  'GET /v1/listening/tests/{id}/results.csv',
  'GET /v1/listening/tests/{id}/report',
  'POST /v1/listening/tests/{id}/close',
  'POST /v1/listening/tests/{id}/promote',
  'GET /v1/listening/promotions',
  'POST /v1/listening/voices/{voice_id}/rollback',
  'GET /sign-in',
  'POST /sign-in',
  'POST /sign-out',
  'GET /console',
  'GET /console/tests',
  'GET /console/tests/{id}',
  'GET /console/tests/{id}/progress',
  'POST /console/tests/{id}/open',
  'POST /console/tests/{id}/close',
  'POST /console/tests/{id}/promote',
  'POST /console/voices/{id}/rollback',
  'POST /console/training-runs/{id}/listening-test',
  'GET /console/keys',
  'POST /console/keys',
  'POST /console/keys/{id}/revoke',
  'GET /console/datasets',
  'GET /console/voices',
  'GET /console/voices/{id}',
  'GET /assets/studio.css',
  'GET /assets/studio.js',
  'GET /datasets/{id}',
  'GET /training-runs/{id}',
  'GET /training-runs/{id}/test',
  'GET /training-runs/{id}/curves',
  'DELETE /v1/keys/{id}',
  'DELETE /v1/datasets/{id}',
  'DELETE /v1/voices/{id}',
];

/** The response an operation's example request gets: the one with an example, else its only body-less success. */
function expectedResponse(op: Operation): { status: string; type?: string; example?: unknown } {
  const withExample = Object.entries(op.responses).flatMap(([status, r]) =>
    Object.entries(r.content ?? {})
      .filter(([, m]) => m.example !== undefined)
      .map(([type, m]) => ({ status, type, example: m.example })),
  );
  if (withExample.length) {
    assert.equal(withExample.length, 1, `one response example, not ${withExample.map((w) => w.status)}`);
    return withExample[0] as { status: string; type: string; example: unknown };
  }
  const bare = Object.entries(op.responses).filter(([s, r]) => /^[23]/.test(s) && !r.content);
  assert.equal(bare.length, 1, 'a response example, or a single success without a body');
  return { status: (bare[0] as [string, unknown])[0] };
}

/** Keys of the snake_case API: no camelCase anywhere in a JSON answer. */
function camelKeys(value: unknown, at = '$'): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => camelKeys(v, `${at}[${i}]`));
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [
    ...(/[a-z][A-Z]/.test(k) ? [`${at}.${k}`] : []),
    ...camelKeys(v, `${at}.${k}`),
  ]);
}

const binaryField = (schema: Schema | undefined) =>
  schema?.format === 'binary' || (schema?.items as Schema | undefined)?.format === 'binary';

describe('the OpenAPI document', () => {
  let db: TestDb;
  let app: App;
  let engine: Engine;
  let doc: Document;
  let dirs: ReturnType<typeof dataDirWithTinyModel>;
  const storageOf = () => localStorage(dirs.dataDir);
  /** Example values (ids, tokens, codes) and the live values they stand for. */
  const live = new Map<string, string>();

  before(async () => {
    dirs = dataDirWithTinyModel('xtts-v2');
    // A second copy for the example that registers a package.
    cpSync(dirs.packageDir, join(dirs.modelDir, 'xtts-v2-copy'), { recursive: true });
    db = await openTestDb();
    engine = createEngine({ workers: 1 });
    app = createApp({
      db: db.db,
      engine,
      dataDir: dirs.dataDir,
      modelDir: dirs.modelDir,
      storage: storageOf(),
      eventsPollMs: 20,
      limits: { maxJsonBytes: 64 * 1024, maxUploadBytes: 8 * 1024 * 1024 },
      listening: {
        audio: memoryAudioStore(),
        crowdLimits: { joinsPerMinute: 1000, requestsPerMinute: 1000 },
      },
    });
    const admin = await createApiKey(db.db, { name: 'studio admin', scope: 'admin' });
    live.set(exampleTokens.adminKey, admin.token);
    const base = await app.request('/v1/checkpoints', {
      method: 'POST',
      headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'XTTS-v2 base', package_path: 'xtts-v2' }),
    });
    assert.equal(base.status, 201, await base.clone().text());
    live.set(exampleIds.baseCheckpoint, ((await base.json()) as { id: string }).id);
    doc = (await (await app.request('/openapi.json')).json()) as Document;
  });
  after(async () => {
    await engine.close();
    await db.dispose();
    rmSync(dirs.dataDir, { recursive: true, force: true });
  });

  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, item]) =>
      methods
        .filter((m) => item[m])
        .map((m) => ({ key: `${m.toUpperCase()} ${path}`, path, op: item[m] as Operation })),
    );

  it('documents every route the app serves, and serves every documented operation', () => {
    const served = new Set(
      inspectRoutes(app)
        .filter((r) => !r.isMiddleware)
        .map((r) => `${r.method} ${r.path}`),
    );
    const documented = new Set(operations().map(({ key, path }) => key.replace(path, honoPath(path))));
    assert.ok(served.size > 50, `${served.size} routes found`);
    assert.deepEqual(
      [...served].filter((r) => !documented.has(r)),
      [],
      'routes the document does not describe',
    );
    assert.deepEqual(
      [...documented].filter((r) => !served.has(r)),
      [],
      'documented operations no route serves',
    );
  });

  it('sends every operation in the order above', () => {
    const keys = operations().map((o) => o.key);
    assert.deepEqual([...order].sort(), [...keys].sort());
    assert.equal(new Set(order).size, order.length);
  });

  it('has one error schema whose code lists every stable code, and every JSON error uses it', () => {
    const error = doc.components.schemas.Error as { properties: Record<string, Schema>; required: string[] };
    assert.deepEqual(error.required.sort(), ['code', 'message', 'request_id']);
    assert.ok(((error.properties.code as Schema).enum as string[]).includes('UNSUPPORTED_MEDIA_TYPE'));
    for (const { key, op } of operations()) {
      for (const [status, r] of Object.entries(op.responses)) {
        if (!/^[45]/.test(status) || !r.content?.['application/json']) continue;
        // Not an error: readiness reports what is not ready in its own shape.
        if (key === 'GET /readyz' && status === '503') continue;
        assert.deepEqual(r.content['application/json'].schema, { $ref: '#/components/schemas/Error' }, key);
      }
    }
  });

  it("documents the sampling parameters' defaults from inference's one source", () => {
    const tts = doc.components.schemas.TtsRequest as { properties: Record<string, Schema> };
    for (const [name, value] of Object.entries(SAMPLING_DEFAULTS)) {
      assert.equal(tts.properties[name]?.default, value, name);
    }
  });

  const schemaOf = (schema: Schema | undefined) =>
    z.fromJSONSchema(resolveRefs(schema ?? {}, doc.components.schemas) as never);
  const sub = (value: unknown): unknown => {
    if (typeof value === 'string') {
      let out = value;
      for (const [example, real] of live) out = out.replaceAll(example, real);
      return out;
    }
    if (Array.isArray(value)) return value.map(sub);
    if (value && typeof value === 'object')
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sub(v)]));
    return value;
  };
  /** Learns live values from an answer: where the example shows an example id or token, the answer has the real one. */
  const learn = (example: unknown, actual: unknown): void => {
    if (typeof example === 'string' && typeof actual === 'string') {
      for (const v of [...Object.values(exampleIds), ...Object.values(exampleTokens)]) {
        if (example === v && !live.has(v)) live.set(v, actual);
      }
    } else if (Array.isArray(example) && Array.isArray(actual)) {
      for (const [i, e] of example.entries()) learn(e, actual[i]);
    } else if (example && actual && typeof example === 'object' && typeof actual === 'object') {
      for (const [k, v] of Object.entries(example)) learn(v, (actual as Record<string, unknown>)[k]);
    }
  };

  /** Builds the operation's example request with live values in place of the example's. */
  function exampleRequest(path: string, op: Operation, headers: Record<string, string>) {
    let url = path;
    const query = new URLSearchParams();
    for (const p of op.parameters ?? []) {
      const example = p.example ?? p.schema?.example;
      if (p.in === 'path') {
        assert.notEqual(example, undefined, `path parameter ${p.name} has an example`);
        url = url.replace(`{${p.name}}`, encodeURIComponent(String(sub(example))));
      } else if (p.in === 'query' && example !== undefined) {
        query.set(p.name, String(sub(example)));
      }
    }
    const init: RequestInit & { headers: Record<string, string> } = {
      method: '',
      headers: { origin: 'http://localhost', ...headers },
    };
    if (op.security?.length) init.headers.authorization ??= `Bearer ${live.get(exampleTokens.adminKey)}`;
    if (op.requestBody) {
      const entry = Object.entries(op.requestBody.content).find(([, m]) => m.example !== undefined);
      assert.ok(entry, 'the request body has an example');
      const [type, media] = entry;
      const example = sub(media.example) as Record<string, unknown>;
      if (type === 'application/json') {
        init.headers['content-type'] = type;
        init.body = JSON.stringify(example);
      } else if (type === 'application/x-www-form-urlencoded') {
        init.headers['content-type'] = type;
        init.body = new URLSearchParams(example as Record<string, string>).toString();
      } else {
        assert.equal(type, 'multipart/form-data');
        const props = (resolveRefs(media.schema, doc.components.schemas) as Schema).properties as Record<
          string,
          Schema
        >;
        const form = new FormData();
        for (const [name, value] of Object.entries(example)) {
          for (const v of Array.isArray(value) ? value : [value]) {
            // File fields name their file; the file is the fixture's speech.
            if (binaryField(props[name])) form.append(name, new Blob([tinyReferenceClip()]), String(v));
            else form.append(name, String(v));
          }
        }
        init.body = form;
      }
    }
    return { url: query.size ? `${url}?${query}` : url, init };
  }

  /** Sends an operation's example and checks the answer against the document. */
  async function send(key: string, headers: Record<string, string> = {}) {
    const found = operations().find((o) => o.key === key);
    assert.ok(found, `${key} is documented`);
    const { path, op } = found;
    const expected = expectedResponse(op);
    const { url, init } = exampleRequest(path, op, headers);
    init.method = key.split(' ')[0] as string;
    const res = await app.request(url, init);
    const type = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    const bytes = new Uint8Array(await res.arrayBuffer());
    const text = new TextDecoder().decode(bytes);
    assert.equal(String(res.status), expected.status, `${key}: status (${text.slice(0, 500)})`);
    if (expected.type === undefined) {
      const location = op.responses[expected.status]?.headers?.Location?.example;
      if (location !== undefined) {
        const got = new URL(res.headers.get('location') ?? '', 'http://localhost').pathname;
        assert.equal(got, (sub(location) as string).split('?')[0], `${key}: redirected to the documented page`);
      }
      return { res, body: undefined };
    }
    assert.equal(type, expected.type, `${key}: media type`);
    const media = op.responses[expected.status]?.content?.[expected.type] as Media;
    if (type === 'application/json') {
      const body = JSON.parse(text);
      const parsed = schemaOf(media.schema).safeParse(body);
      assert.ok(parsed.success, `${key}: the answer fits the schema: ${parsed.error?.message}`);
      assert.ok(schemaOf(media.schema).safeParse(expected.example).success, `${key}: the example fits the schema`);
      if (path !== '/openapi.json') assert.deepEqual(camelKeys(body), [], `${key}: snake_case keys`);
      learn(expected.example, body);
      return { res, body };
    }
    assert.ok(bytes.length > 0, `${key}: a body`);
    if (type === 'text/event-stream') {
      const events = [...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1] as string));
      assert.ok(events.length > 0, `${key}: events`);
      assert.deepEqual(camelKeys(events), [], `${key}: snake_case keys in the events`);
    }
    if (type.startsWith('text/') && typeof expected.example === 'string') {
      const prefix = expected.example.split('…')[0] as string;
      assert.ok(
        text.trimStart().startsWith(sub(prefix) as string),
        `${key}: starts like its example: ${text.slice(0, 200)}`,
      );
    }
    return { res, body: text };
  }

  it('answers every example request as documented', { timeout: 600_000 }, async () => {
    // What the examples need that no example makes: a built dataset, a rater past the headphone
    // check, a promotion to roll back, a sign-in form's token.
    const before: Record<string, () => Promise<Record<string, string> | undefined>> = {
      'GET /v1/datasets': async () => {
        const id = live.get(exampleIds.dataset) as string;
        await finishBuildAsWorker(db.db, storageOf(), id, [
          { key: 'chapter-1_0007', text: 'It was the best of times.', wav: tinyReferenceClip(), durationS: 2 },
        ]);
        live.set(exampleIds.datasetClip, ((await listDatasetClips(db.db, id))[0] as { id: string }).id);
        return undefined;
      },
      'GET /listen/s/{token}': async () => {
        const token = live.get(exampleTokens.rater) as string;
        const rater = await findRaterByTokenHash(db.db, hashToken(token));
        assert.ok(rater);
        const passed = await app.request(`/listen/s/${token}/headphones`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ answers: headphoneAnswers(rater.id) }),
        });
        assert.deepEqual(await passed.json(), { passed: true });
        return undefined;
      },
      'POST /v1/listening/voices/{voice_id}/rollback': async () => {
        const voice = await getVoice(db.db, live.get(exampleIds.voice) as string);
        assert.ok(voice);
        const done = await promoteCheckpoint(db.db, {
          voiceId: voice.id,
          expectedFrom: voice.checkpointId,
          to: live.get(exampleIds.checkpoint) as string,
          testId: null,
          statistics: {},
          actor: 'studio admin',
        });
        assert.ok(done.ok);
        return undefined;
      },
      'POST /sign-in': async () => {
        const form = await app.request('/sign-in');
        const token = /name="_csrf" value="([^"]+)"/.exec(await form.text())?.[1];
        assert.ok(token, 'the sign-in form carries its token');
        live.set(exampleTokens.signIn, token);
        return { cookie: (form.headers.get('set-cookie') ?? '').split(';')[0] as string };
      },
    };
    for (const key of order) {
      const extra = await before[key]?.();
      let restore: [string, string | undefined] | undefined;
      if (key === 'POST /listen/s/{token}/headphones') {
        // Another rater takes the example's check: the first one already passed it.
        const joined = await app.request(`/listen/i/${live.get(exampleTokens.invite)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ consent: true, worker_id: 'W-2002' }),
        });
        assert.equal(joined.status, 201);
        restore = [exampleTokens.rater, live.get(exampleTokens.rater)];
        live.set(exampleTokens.rater, ((await joined.json()) as { token: string }).token);
      }
      if (key === 'DELETE /v1/datasets/{id}' || key === 'DELETE /v1/voices/{id}') {
        // A fresh one: the first is in use by the run and the listening test.
        const create = key === 'DELETE /v1/datasets/{id}' ? 'POST /v1/datasets' : 'POST /v1/voices';
        const made = await send(create);
        restore = [
          key.includes('datasets') ? exampleIds.dataset : exampleIds.voice,
          live.get(key.includes('datasets') ? exampleIds.dataset : exampleIds.voice),
        ];
        live.set(restore[0], (made.body as { id: string }).id);
      }
      await send(key, extra ?? {});
      if (restore) live.set(restore[0], restore[1] as string);
    }
  });
});
