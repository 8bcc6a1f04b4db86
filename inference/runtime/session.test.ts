import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkFeeds, openSession, RuntimeError, tensor } from './session.ts';

const fixture = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'tiny');
const f32 = (name: string) => {
  const b = readFileSync(join(fixture, 'reference', name));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};

test('checkFeeds names missing, mistyped, misshapen and unknown inputs', () => {
  const inputs = [
    { name: 'cond', dtype: 'float32', shape: [1, 32, 32] },
    { name: 'text_ids', dtype: 'int64', shape: [1, 'text'] },
  ];
  assert.deepEqual(
    checkFeeds(inputs, {
      cond: tensor('float32', new Float32Array(1024), [1, 32, 32]),
      text_ids: tensor('int64', [1, 2], [1, 2]),
    }),
    [],
  );
  const problems = checkFeeds(inputs, {
    cond: tensor('float32', new Float32Array(64), [1, 2, 32]),
    ids: tensor('int32', [1], [1]),
  });
  assert.deepEqual(problems, [
    "'cond' has shape [1, 2, 32], graph wants [1, 32, 32]",
    "missing input 'text_ids' (int64 [1, text])",
    "unknown input 'ids'",
  ]);
});

test('the fixture prefill graph reproduces the PyTorch first-step logits', async () => {
  const ref = JSON.parse(readFileSync(join(fixture, 'reference', 'reference.json'), 'utf8'));
  const s = await openSession(join(fixture, 'package', 'gpt_prefill_fp32.onnx'));
  const ids: number[] = ref.text.text_ids;
  const out = await s.run({
    cond: tensor('float32', f32('cond_latent.f32'), ref.files['cond_latent.f32'].shape),
    text_ids: tensor('int64', ids, [1, ids.length]),
  });
  const got = out.logits?.data as Float32Array;
  const want = f32('logits0.f32');
  let max = 0;
  for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs((got[i] ?? 0) - (want[i] ?? 0)));
  assert.ok(max < 1e-4, `max abs err ${max}`);
  await s.release();
});

test('a bad feed is refused before running, with the shapes', async () => {
  const s = await openSession(join(fixture, 'package', 'cond_encoder.onnx'));
  await assert.rejects(s.run({ mel: tensor('float32', new Float32Array(40), [1, 40]) }), (e: Error) => {
    assert.ok(e instanceof RuntimeError);
    assert.match(e.message, /'mel' has shape \[1, 40\], graph wants \[1, 80, frames\]/);
    return true;
  });
  await s.release();
});
