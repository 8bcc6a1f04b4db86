import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRunWithJob, failDataset, getDataset, getJob, setDatasetProgress } from '../db/index.ts';
import { localStorage } from '../infra/index.ts';
import { testApp } from '../test/helpers/app.ts';
import { finishBuildAsWorker, readEvents } from '../test/helpers/datasets.ts';
import { binaryBody, espeakWav } from '../test/helpers/speech.ts';

/** An independent reader of ustar archives: name (with prefix), size, bytes; checks each header's checksum. */
function readTar(buf: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const str = (at: number, len: number) =>
    buf
      .subarray(at, at + len)
      .toString('utf8')
      .replace(/\0.*$/s, '');
  for (let at = 0; at + 512 <= buf.length; ) {
    const header = buf.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] ?? 0);
    assert.equal(Number.parseInt(str(at + 148, 8).trim(), 8), sum, 'header checksum');
    assert.equal(str(at + 257, 5), 'ustar');
    const prefix = str(at + 345, 155);
    const name = (prefix ? `${prefix}/` : '') + str(at, 100);
    const size = Number.parseInt(str(at + 124, 12).trim(), 8);
    files.set(name, Buffer.from(buf.subarray(at + 512, at + 512 + size)));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

describe('datasets', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'xtts-datasets-'));
  const storage = localStorage(dataDir);
  let t: Awaited<ReturnType<typeof testApp>>;
  const wavA = espeakWav('The first long recording of the speaker.');
  const wavB = espeakWav('A second recording, read a little faster.');
  const stored = () => (existsSync(join(dataDir, 'datasets')) ? readdirSync(join(dataDir, 'datasets')) : []);

  before(async () => {
    t = await testApp({ dataDir, eventsPollMs: 20 });
  });
  after(async () => {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const upload = (
    fields: Array<[string, string]>,
    files: Array<[string, Uint8Array, string]>,
    token = t.tokens.admin,
  ) => {
    let req = t.request.post('/v1/datasets').set(t.auth(token));
    for (const [k, v] of fields) req = req.field(k, v);
    for (const [field, bytes, name] of files) req = req.attach(field, Buffer.from(bytes), name);
    return req;
  };
  const count = async () => (await t.request.get('/v1/datasets').set(t.auth(t.tokens.admin))).body.data.length;

  let ready = '';
  it('stores recordings with their transcripts and queues the build', async () => {
    const res = await upload(
      [
        ['name', 'june'],
        ['language', 'en'],
        [
          'options',
          JSON.stringify({ max_s: 10, asr: { backend: 'openai', url: 'http://asr:9000/v1', api_key: 'sk-1' } }),
        ],
        ['transcript:b.wav', 'A second recording, read a little faster.'],
      ],
      [
        ['recordings', wavA, 'a.wav'],
        ['recordings', wavB, 'b.wav'],
      ],
    );
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.status, 'queued');
    assert.equal(res.body.source, 'recordings');
    assert.equal(res.body.chunker, 'sentence');
    assert.equal(res.body.options.max_s, 10);
    assert.equal(res.body.options.min_s, 3, 'defaults filled in');
    assert.equal(res.body.options.asr.model, 'large-v3');
    assert.equal(res.body.options.asr.api_key, '***', 'the ASR key is never echoed');
    assert.deepEqual(
      res.body.recordings.map((r: { name: string; bytes: number; transcript: boolean }) => [
        r.name,
        r.bytes,
        r.transcript,
      ]),
      [
        ['a.wav', wavA.length, false],
        ['b.wav', wavB.length, true],
      ],
    );
    assert.equal(res.body.links.events, `/v1/datasets/${res.body.id}/events`);
    const files = readdirSync(join(dataDir, 'datasets', res.body.id, 'recordings'));
    assert.deepEqual(files.map((f) => f.replace(/^[0-9a-f-]{36}-/, '')).sort(), ['a.wav', 'b.wav']);
    const row = await t.request.get(`/v1/datasets/${res.body.id}`).set(t.auth(t.tokens.admin));
    assert.equal(row.body.status, 'queued');
    const job = await getJob(t.db.db, (await getDataset(t.db.db, res.body.id))?.jobId ?? -1);
    assert.equal(job?.kind, 'dataset.build');
    assert.equal(job?.status, 'queued');
    ready = res.body.id;
  });

  it('refuses bad uploads with the field named, storing nothing and registering nothing', async () => {
    const before = await count();
    const dirs = stored();
    const ok: Array<[string, string]> = [
      ['name', 'x'],
      ['language', 'en'],
    ];
    const text = new TextEncoder().encode('these are notes, not audio');
    const cases: Array<[Array<[string, string]>, Array<[string, Uint8Array, string]>, number, string, string]> = [
      [
        ok,
        [
          ['recordings', wavA, 'a.wav'],
          ['recordings', text, 'notes.txt'],
        ],
        415,
        'AUDIO_UNSUPPORTED',
        'body.recordings.1',
      ],
      [ok, [['recordings', new Uint8Array(0), 'empty.wav']], 400, 'UPLOAD_EMPTY', 'body.recordings.0'],
      [
        [
          ['name', 'x'],
          ['language', 'tlh'],
        ],
        [['recordings', wavA, 'a.wav']],
        400,
        'VALIDATION_FAILED',
        'body.language',
      ],
      [[...ok, ['options', '{bad']], [['recordings', wavA, 'a.wav']], 400, 'VALIDATION_FAILED', 'body.options'],
      [
        [...ok, ['options', '{"min_s": 20}']],
        [['recordings', wavA, 'a.wav']],
        400,
        'VALIDATION_FAILED',
        'body.options.min_s',
      ],
      [
        [...ok, ['options', '{"nope": 1}']],
        [['recordings', wavA, 'a.wav']],
        400,
        'VALIDATION_FAILED',
        'body.options.nope',
      ],
      [
        [...ok, ['options', '{"asr": {"backend": "openai"}}']],
        [['recordings', wavA, 'a.wav']],
        400,
        'VALIDATION_FAILED',
        'body.options.asr.url',
      ],
      [[...ok, ['chunker', 'words']], [['recordings', wavA, 'a.wav']], 400, 'VALIDATION_FAILED', 'body.chunker'],
      [[['language', 'en']], [['recordings', wavA, 'a.wav']], 400, 'VALIDATION_FAILED', 'body.name'],
      [ok, [], 400, 'VALIDATION_FAILED', 'body.recordings'],
      [
        [...ok, ['transcripts', 'one'], ['transcripts', 'two']],
        [['recordings', wavA, 'a.wav']],
        400,
        'VALIDATION_FAILED',
        'body.transcripts',
      ],
      [
        [...ok, ['transcript:zz.wav', 'hi']],
        [['recordings', wavA, 'a.wav']],
        400,
        'VALIDATION_FAILED',
        'body.transcript:zz.wav',
      ],
      [
        ok,
        [
          ['recordings', wavA, 'a.wav'],
          ['ljspeech', zipBytes(), 'lj.zip'],
        ],
        400,
        'VALIDATION_FAILED',
        'body.ljspeech',
      ],
      [ok, [['ljspeech', wavA, 'lj.zip']], 415, 'ARCHIVE_UNSUPPORTED', 'body.ljspeech'],
      [ok, [['clips', wavA, 'a.wav']], 400, 'VALIDATION_FAILED', 'body.clips'],
    ];
    for (const [fields, files, status, code, field] of cases) {
      const res = await upload(fields, files);
      assert.equal(res.status, status, `${field}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.code, code, field);
      assert.equal(res.body.field, field);
      assert.equal(res.body.request_id, res.headers['x-request-id']);
    }
    const notes = await upload(ok, [['recordings', text, 'notes.txt']]);
    assert.match(notes.body.message, /notes\.txt/, 'the message names the file');
    const json = await t.request.post('/v1/datasets').set(t.auth(t.tokens.admin)).send({ name: 'x' });
    assert.equal(json.status, 415);
    assert.equal((await upload(ok, [['recordings', wavA, 'a.wav']], t.tokens.synth)).status, 403);
    assert.equal(await count(), before, 'no dataset registered');
    assert.deepEqual(stored(), dirs, 'no file left behind');
  });

  it('takes uploads beyond the generic upload cap, and enforces its own limit while streaming', async () => {
    // 9 MiB: over the 8 MiB multipart cap the test app gives every other upload.
    const big = new Uint8Array(9 * 1024 * 1024);
    big.set(wavA.subarray(0, 44));
    const res = await upload(
      [
        ['name', 'big'],
        ['language', 'de'],
        ['chunker', 'statistical'],
      ],
      [['recordings', big, 'big.wav']],
    );
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.recordings[0].bytes, big.length);
    assert.equal(res.body.chunker, 'statistical');

    const small = await testApp({ dataDir, maxDatasetUploadBytes: 20_000 });
    try {
      const dirs = stored();
      const tooBig = await small.request
        .post('/v1/datasets')
        .set(small.auth(small.tokens.admin))
        .field('name', 'x')
        .field('language', 'en')
        .attach('recordings', Buffer.from(wavA), 'a.wav')
        .attach('recordings', Buffer.from(wavB), 'b.wav');
      assert.ok(wavA.length + wavB.length > 20_000);
      assert.equal(tooBig.status, 413, JSON.stringify(tooBig.body));
      assert.equal(tooBig.body.code, 'PAYLOAD_TOO_LARGE');
      assert.equal(tooBig.body.field, 'body');
      assert.deepEqual(stored(), dirs, 'the part already stored is removed');
      assert.equal((await small.request.get('/v1/datasets').set(small.auth(small.tokens.admin))).body.data.length, 0);
    } finally {
      await small.close();
    }
  });

  it('imports an LJSpeech archive as its own source', async () => {
    const res = await upload(
      [
        ['name', 'lj'],
        ['language', 'en'],
      ],
      [['ljspeech', zipBytes(), 'lj.zip']],
    );
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.source, 'ljspeech');
    assert.equal(res.body.chunker, null);
  });

  it('serves a built dataset: report, clips, audio, edits and the LJSpeech archive', async () => {
    // The jobs were queued in this order; the first is the dataset this test builds.
    const clipA = espeakWav('Hello there, this is clip one.');
    const clipB = espeakWav('And this one is clip two.');
    await finishBuildAsWorker(t.db.db, storage, ready, [
      { key: 'a_0001', text: 'Hello there, this is clip one.', wav: clipA, durationS: 3.5 },
      { key: 'a_0002', text: 'And this one is clip two.', wav: clipB, durationS: 4.5, split: 'eval' },
      {
        key: 'a_0003',
        text: 'Way too fast',
        wav: clipB,
        durationS: 1,
        status: 'dropped',
        reasons: ['too_short', 'cps_outlier'],
        split: null,
      },
      { key: 'a_0004', text: 'A flagged one', wav: clipA, durationS: 5, status: 'flagged', reasons: ['cps_outlier'] },
    ]);
    const got = await t.request.get(`/v1/datasets/${ready}`).set(t.auth(t.tokens.admin));
    assert.equal(got.body.status, 'ready');
    assert.equal(got.body.report.built_by, 'test');
    assert.equal(got.body.summary.clips, 4);
    assert.equal(got.body.summary.included, 3);
    assert.ok(Math.abs(got.body.summary.hours_included - 13 / 3600) < 1e-9);
    assert.ok(Math.abs(got.body.summary.hours_dropped - 1 / 3600) < 1e-9);
    assert.deepEqual(got.body.summary.reasons, { cps_outlier: 2, too_short: 1 });
    assert.equal(got.body.recordings.length, 2);

    const all = await t.request.get(`/v1/datasets/${ready}/clips`).set(t.auth(t.tokens.admin));
    assert.deepEqual(
      all.body.data.map((c: { clip_key: string }) => c.clip_key),
      ['a_0001', 'a_0002', 'a_0003', 'a_0004'],
    );
    const dropped = await t.request.get(`/v1/datasets/${ready}/clips?status=dropped`).set(t.auth(t.tokens.admin));
    assert.deepEqual(
      dropped.body.data.map((c: { clip_key: string }) => c.clip_key),
      ['a_0003'],
    );
    assert.equal(dropped.body.data[0].included, false);
    const [one, , , four] = all.body.data;

    const audio = await t.request
      .get(one.audio_url)
      .set(t.auth(t.tokens.admin))
      .buffer(true)
      .parse(binaryBody as never);
    assert.equal(audio.status, 200);
    assert.equal(audio.headers['content-type'], 'audio/wav');
    assert.deepEqual(new Uint8Array(audio.body), clipA);

    const edit = await t.request
      .patch(`/v1/datasets/${ready}/clips/${one.id}`)
      .set(t.auth(t.tokens.admin))
      .send({ text: 'Hello there! This is clip one.' });
    assert.equal(edit.status, 200, JSON.stringify(edit.body));
    assert.equal(edit.body.text, 'Hello there! This is clip one.');
    assert.equal(edit.body.original_text, 'Hello there, this is clip one.');
    const exclude = await t.request
      .patch(`/v1/datasets/${ready}/clips/${four.id}`)
      .set(t.auth(t.tokens.admin))
      .send({ excluded: true });
    assert.equal(exclude.body.included, false);
    for (const [body, field] of [
      [{ text: 'a | b' }, 'body.text'],
      [{ text: '' }, 'body.text'],
      [{}, 'body.text'],
      [{ excluded: 'yes' }, 'body.excluded'],
    ] as const) {
      const bad = await t.request.patch(`/v1/datasets/${ready}/clips/${one.id}`).set(t.auth(t.tokens.admin)).send(body);
      assert.equal(bad.status, 400, JSON.stringify(body));
      assert.equal(bad.body.field, field);
    }
    const missing = await t.request
      .patch(`/v1/datasets/${ready}/clips/00000000-0000-4000-8000-000000000000`)
      .set(t.auth(t.tokens.admin))
      .send({ excluded: true });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.code, 'CLIP_NOT_FOUND');

    const tar = await t.request
      .get(`/v1/datasets/${ready}/ljspeech.tar`)
      .set(t.auth(t.tokens.admin))
      .buffer(true)
      .parse(binaryBody as never);
    assert.equal(tar.status, 200);
    assert.equal(Number(tar.headers['content-length']), tar.body.length);
    const files = readTar(tar.body);
    assert.deepEqual([...files.keys()].sort(), [
      'metadata.csv',
      'metadata_eval.csv',
      'metadata_train.csv',
      'wavs/a_0001.wav',
      'wavs/a_0002.wav',
    ]);
    assert.equal(
      files.get('metadata.csv')?.toString(),
      'a_0001|Hello there! This is clip one.|Hello there! This is clip one.\na_0002|And this one is clip two.|and this one is clip two.\n',
    );
    assert.equal(files.get('metadata_train.csv')?.toString().split('\n')[0]?.split('|')[0], 'a_0001');
    assert.equal(files.get('metadata_eval.csv')?.toString().split('|')[0], 'a_0002');
    assert.deepEqual(new Uint8Array(files.get('wavs/a_0002.wav') ?? []), clipB);
  });

  it('renders the owner page with its plots and every clip, and signs what the browser fetches', async () => {
    assert.equal((await t.request.get(`/datasets/${ready}`)).status, 401);
    const page = await t.request.get(`/datasets/${ready}`).set(t.auth(t.tokens.admin));
    assert.equal(page.status, 200);
    const html = page.text;
    assert.match(html, /<svg[^>]*aria-label="Clip durations"/);
    assert.match(html, /<svg[^>]*aria-label="Characters per second"/);
    assert.equal((html.match(/class="bar"/g) ?? []).length >= 2, true, 'histogram bars');
    assert.equal((html.match(/class="point"/g) ?? []).length, 4, 'one point per clip');
    assert.equal((html.match(/<tr data-clip=/g) ?? []).length, 4, 'one row per clip');
    assert.match(html, /preload="none"/);
    assert.match(html, /value="Hello there! This is clip one\."/);
    const audioUrl = /<audio controls preload="none" src="([^"]+)"/.exec(html)?.[1]?.replaceAll('&amp;', '&');
    assert.ok(audioUrl);
    assert.equal((await t.request.get(audioUrl)).status, 200, 'a signed URL needs no key');
    // Change the signature's first character to a different one (replacing it with a fixed letter would
    // leave it valid whenever the signature already starts with that letter).
    const forged = audioUrl.replace(/sig=(.)/, (_, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`);
    assert.notEqual(forged, audioUrl);
    assert.equal((await t.request.get(forged)).status, 401, 'a forged one is refused');
    const tarUrl = /id="download" href="([^"]+)"/.exec(html)?.[1]?.replaceAll('&amp;', '&');
    assert.ok(tarUrl);
    assert.equal((await t.request.get(tarUrl)).status, 200);
    const script = await t.request.get('/assets/studio.js');
    assert.equal(script.status, 200);
    assert.match(String(script.headers['content-type']), /javascript/);
  });

  it('refuses to delete a dataset a run uses, deletes an unused one with its files', async () => {
    const run = await createRunWithJob(t.db.db, { datasetId: ready, basePackage: 'base', config: {} });
    const inUse = await t.request.delete(`/v1/datasets/${ready}`).set(t.auth(t.tokens.admin));
    assert.equal(inUse.status, 409);
    assert.equal(inUse.body.code, 'DATASET_IN_USE');
    assert.match(inUse.body.message, new RegExp(run.id));
    const list = (await t.request.get('/v1/datasets').set(t.auth(t.tokens.admin))).body.data;
    const unused = list.find((d: { name: string }) => d.name === 'lj');
    const del = await t.request.delete(`/v1/datasets/${unused.id}`).set(t.auth(t.tokens.admin));
    assert.equal(del.status, 204);
    assert.ok(!stored().includes(unused.id));
    assert.equal(
      (await t.request.get(`/v1/datasets/${unused.id}`).set(t.auth(t.tokens.admin))).body.code,
      'DATASET_NOT_FOUND',
    );
  });
});

describe('dataset build progress as server-sent events', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'xtts-dataset-events-'));
  let t: Awaited<ReturnType<typeof testApp>>;
  before(async () => {
    t = await testApp({ dataDir, eventsPollMs: 20 });
  });
  after(async () => {
    await t.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('sends progress as it changes, then failed with the code, whichever process wrote it', async () => {
    const created = await t.request
      .post('/v1/datasets')
      .set(t.auth(t.tokens.admin))
      .field('name', 'live')
      .field('language', 'fr')
      .attach('recordings', Buffer.from(espeakWav('Bonjour à tous.', 'fr')), 'fr.wav');
    assert.equal(created.status, 202);
    const id = created.body.id as string;
    const res = await t.app.request(`/v1/datasets/${id}/events`, { headers: t.auth(t.tokens.admin) });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const seen: Array<{ event: string; data: Record<string, unknown> }> = [];
    const reading = readEvents(res, (e) => e === 'done' || e === 'failed', seen);
    // Each change is made once the stream has shown the one before (a fixed pause can be too
    // short for a loaded machine's poller, which would then skip a state).
    const shown = async (n: number) => {
      const guard = Date.now() + 120_000; // against a hang only
      while (seen.length < n) {
        assert.ok(Date.now() < guard, `event ${n} never came: ${JSON.stringify(seen)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await shown(1);
    await setDatasetProgress(t.db.db, id, { status: 'processing', progress: { stage: 'transcribe', fraction: 0.25 } });
    await shown(2);
    await setDatasetProgress(t.db.db, id, { progress: { stage: 'transcribe', fraction: 0.5, message: 'fr.wav' } });
    await shown(3);
    await failDataset(t.db.db, id, 'NO_SPEECH', 'fr.wav: no speech found');
    const events = await reading;
    assert.deepEqual(
      events.map((e) => [e.event, e.data.status, e.event === 'progress' ? e.data.fraction : e.data.error_code]),
      [
        ['progress', 'queued', null],
        ['progress', 'processing', 0.25],
        ['progress', 'processing', 0.5],
        ['progress', 'failed', 0.5],
        ['failed', 'failed', 'NO_SPEECH'],
      ],
    );
    const missing = await t.app.request('/v1/datasets/00000000-0000-4000-8000-000000000000/events', {
      headers: t.auth(t.tokens.admin),
    });
    assert.equal(missing.status, 404);
  });
});

/** The first bytes of a zip file: enough for the upload's sniffing (the build unpacks it). */
function zipBytes(): Uint8Array {
  const b = new Uint8Array(300);
  b.set([0x50, 0x4b, 0x03, 0x04]);
  return b;
}
