/**
 * engineOptions: the engine's options from the INFERENCE_* settings (infra/config.ts), where the engine
 * decides a default of its own or passes a setting on in another form.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../infra/index.ts';
import { engineOptions, GPU_PREFILL_FIRST_MS, GPU_STREAM_FIRST_CHUNK_CODES } from './engine.ts';

describe('engineOptions', () => {
  it("sizes a stream's first chunk by device unless INFERENCE_STREAM_FIRST_CODES names it", () => {
    assert.equal(engineOptions(loadConfig({})).streamChunkCodes, undefined, "a CPU: Xtts's own default (16)");
    assert.equal(GPU_STREAM_FIRST_CHUNK_CODES, 8);
    assert.equal(engineOptions(loadConfig({ INFERENCE_DEVICE: 'cuda' })).streamChunkCodes, 8);
    const named = { INFERENCE_DEVICE: 'cuda', INFERENCE_STREAM_FIRST_CODES: '20' };
    assert.equal(engineOptions(loadConfig(named)).streamChunkCodes, 20);
    assert.equal(engineOptions(loadConfig({ INFERENCE_STREAM_FIRST_CODES: '12' })).streamChunkCodes, 12);
  });

  it('passes the step stream priority, prefill batching, the prefix cache and the code cap on only where they ask for something', () => {
    const gpu = { INFERENCE_DEVICE: 'cuda', INFERENCE_NATIVE: 'on', INFERENCE_BATCH_GRAPH: 'true' };
    assert.equal(engineOptions(loadConfig(gpu)).stepStreamPriority, undefined);
    assert.equal(
      engineOptions(loadConfig({ ...gpu, INFERENCE_STEP_STREAM_PRIORITY: 'high' })).stepStreamPriority,
      'high',
    );
    assert.equal(engineOptions(loadConfig({})).prefillBatch, undefined);
    assert.equal(engineOptions(loadConfig({ INFERENCE_PREFILL_BATCH: '1' })).prefillBatch, undefined);
    assert.deepEqual(engineOptions(loadConfig({ INFERENCE_PREFILL_BATCH: '16' })).prefillBatch, { maxRows: 16 });
    assert.equal(engineOptions(loadConfig({})).prefixCache, undefined);
    assert.deepEqual(engineOptions(loadConfig({ INFERENCE_PREFIX_CACHE: '8' })).prefixCache, { voices: 8 });
    assert.equal(engineOptions(loadConfig({})).prefillGraph, undefined);
    assert.equal(engineOptions(loadConfig({ INFERENCE_PREFILL_GRAPH: 'trace' })).prefillGraph, undefined);
    assert.equal(engineOptions(loadConfig({ INFERENCE_PREFILL_GRAPH: 'fused' })).prefillGraph, 'fused');
    assert.equal(engineOptions(loadConfig({})).maxAudioCodes, undefined);
    assert.equal(engineOptions(loadConfig({ INFERENCE_MAX_AUDIO_CODES: '400' })).maxAudioCodes, 400);
  });

  it('sizes later chunks to fill HiFi-GAN buckets unless INFERENCE_STREAM_CHUNKS=grow', () => {
    assert.equal(engineOptions(loadConfig({})).streamBucketChunks, true);
    assert.equal(engineOptions(loadConfig({ INFERENCE_STREAM_CHUNKS: 'grow' })).streamBucketChunks, false);
    assert.throws(() => loadConfig({ INFERENCE_STREAM_CHUNKS: 'both' }), /INFERENCE_STREAM_CHUNKS/);
  });

  it("passes HiFi-GAN's buckets to a CUDA engine only, and gives a burst's prompts the device first on CUDA", () => {
    const buckets = { INFERENCE_VOCODER_BUCKETS: '8,16,32,64,128' };
    assert.deepEqual(
      engineOptions(loadConfig({ ...buckets, INFERENCE_DEVICE: 'cuda' })).hifiganBuckets,
      [8, 16, 32, 64, 128],
    );
    assert.equal(engineOptions(loadConfig(buckets)).hifiganBuckets, undefined, 'a CPU stays exact (no padding)');
    assert.equal(engineOptions(loadConfig({ INFERENCE_DEVICE: 'cuda' })).hifiganBuckets, undefined);
    assert.equal(engineOptions(loadConfig({})).prefillFirstMs, undefined, 'a CPU: windows never wait');
    assert.equal(GPU_PREFILL_FIRST_MS, 200);
    assert.equal(engineOptions(loadConfig({ INFERENCE_DEVICE: 'cuda' })).prefillFirstMs, 200);
    const cuda0 = { INFERENCE_DEVICE: 'cuda', INFERENCE_PREFILL_FIRST_MS: '0' };
    assert.equal(engineOptions(loadConfig(cuda0)).prefillFirstMs, undefined, 'off where set to 0');
    assert.equal(engineOptions(loadConfig({ INFERENCE_PREFILL_FIRST_MS: '150' })).prefillFirstMs, 150);
  });
});
