import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';

const kube = {
  TRAINING_LAUNCHER: 'kubernetes',
  K8S_TRAINER_IMAGE: 'reg/trainer:1',
  DATABASE_URL: 'postgres://u:p@db:5432/studio',
};

describe('loadConfig', () => {
  it('gives the embedded defaults on an empty environment', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.dataDir, resolve('./data'));
    assert.equal(c.modelDir, resolve('./data/models'));
    assert.deepEqual(c.inferenceUrls, []);
    assert.equal(c.logLevel, 'info');
  });

  it('treats empty strings as unset', () => {
    assert.equal(loadConfig({ DATABASE_URL: '', PORT: '' }).databaseUrl, undefined);
  });

  it('leaves the GPT precision to the engine unless INFERENCE_PRECISION names one', () => {
    assert.equal(loadConfig({}).inference.precision, undefined);
    assert.equal(loadConfig({ INFERENCE_PRECISION: 'auto' }).inference.precision, undefined);
    assert.equal(loadConfig({ INFERENCE_PRECISION: 'int8' }).inference.precision, 'int8');
    assert.equal(loadConfig({ INFERENCE_PRECISION: 'int4' }).inference.precision, 'int4');
  });

  it('takes INFERENCE_STREAM_FIRST_CODES from 1 to 100, unset by default', () => {
    assert.equal(loadConfig({}).inference.streamFirstCodes, undefined);
    assert.equal(loadConfig({ INFERENCE_STREAM_FIRST_CODES: '20' }).inference.streamFirstCodes, 20);
    assert.throws(() => loadConfig({ INFERENCE_STREAM_FIRST_CODES: '0' }), /INFERENCE_STREAM_FIRST_CODES/);
  });

  it('puts the decode step on a high-priority CUDA stream only where asked, and only where the addon runs it', () => {
    assert.equal(loadConfig({}).inference.stepStreamPriority, 'normal');
    const gpu = { INFERENCE_DEVICE: 'cuda', INFERENCE_NATIVE: 'on', INFERENCE_BATCH_GRAPH: 'true' };
    const high = loadConfig({ ...gpu, INFERENCE_STEP_STREAM_PRIORITY: 'high' });
    assert.equal(high.inference.stepStreamPriority, 'high');
    assert.throws(
      () => loadConfig({ INFERENCE_STEP_STREAM_PRIORITY: 'high' }),
      /INFERENCE_STEP_STREAM_PRIORITY: high needs INFERENCE_DEVICE=cuda/,
    );
    assert.throws(() => loadConfig({ INFERENCE_STEP_STREAM_PRIORITY: 'top' }), /INFERENCE_STEP_STREAM_PRIORITY/);
  });

  it('caps the codes per sentence only where INFERENCE_MAX_AUDIO_CODES says', () => {
    assert.equal(loadConfig({}).inference.maxAudioCodes, undefined);
    assert.equal(loadConfig({ INFERENCE_MAX_AUDIO_CODES: '400' }).inference.maxAudioCodes, 400);
    assert.throws(() => loadConfig({ INFERENCE_MAX_AUDIO_CODES: '5' }), /INFERENCE_MAX_AUDIO_CODES/);
  });

  it('keeps synthesis lookups a second unless LOOKUP_MAX_AGE_MS says otherwise (0: never)', () => {
    assert.equal(loadConfig({}).lookupMaxAgeMs, 1000);
    assert.equal(loadConfig({ LOOKUP_MAX_AGE_MS: '0' }).lookupMaxAgeMs, 0);
    assert.equal(loadConfig({ LOOKUP_MAX_AGE_MS: '5000' }).lookupMaxAgeMs, 5000);
    assert.throws(() => loadConfig({ LOOKUP_MAX_AGE_MS: '-1' }), /LOOKUP_MAX_AGE_MS/);
    assert.throws(() => loadConfig({ LOOKUP_MAX_AGE_MS: '60001' }), /LOOKUP_MAX_AGE_MS/);
    assert.throws(() => loadConfig({ LOOKUP_MAX_AGE_MS: 'soon' }), /LOOKUP_MAX_AGE_MS/);
  });

  it('batches prefills only where INFERENCE_PREFILL_BATCH asks for more than one prompt a run', () => {
    assert.equal(loadConfig({}).inference.prefillBatch, 1);
    assert.equal(loadConfig({ INFERENCE_PREFILL_BATCH: '16' }).inference.prefillBatch, 16);
    assert.throws(() => loadConfig({ INFERENCE_PREFILL_BATCH: '0' }), /INFERENCE_PREFILL_BATCH/);
    assert.throws(() => loadConfig({ INFERENCE_PREFILL_BATCH: '65' }), /INFERENCE_PREFILL_BATCH/);
  });

  it("takes HiFi-GAN's buckets from INFERENCE_VOCODER_BUCKETS: whole numbers, ascending, without repeats", () => {
    assert.equal(loadConfig({}).inference.vocoderBuckets, undefined);
    const c = loadConfig({ INFERENCE_VOCODER_BUCKETS: '8, 16,32,64,128' });
    assert.deepEqual(c.inference.vocoderBuckets, [8, 16, 32, 64, 128]);
    for (const bad of ['16,8', '8,8', '0,8', '8,5000', '8,,16', 'eight'])
      assert.throws(() => loadConfig({ INFERENCE_VOCODER_BUCKETS: bad }), /INFERENCE_VOCODER_BUCKETS/, bad);
  });

  it('reads how long decode windows wait for prompt passes from INFERENCE_PREFILL_FIRST_MS (unset: the engine decides)', () => {
    assert.equal(loadConfig({}).inference.prefillFirstMs, undefined);
    assert.equal(loadConfig({ INFERENCE_PREFILL_FIRST_MS: '0' }).inference.prefillFirstMs, 0);
    assert.equal(loadConfig({ INFERENCE_PREFILL_FIRST_MS: '150' }).inference.prefillFirstMs, 150);
    assert.throws(() => loadConfig({ INFERENCE_PREFILL_FIRST_MS: '-1' }), /INFERENCE_PREFILL_FIRST_MS/);
    assert.throws(() => loadConfig({ INFERENCE_PREFILL_FIRST_MS: '1001' }), /INFERENCE_PREFILL_FIRST_MS/);
  });

  it('keeps no voice prefixes unless INFERENCE_PREFIX_CACHE names how many', () => {
    assert.equal(loadConfig({}).inference.prefixCache, 0);
    assert.equal(loadConfig({ INFERENCE_PREFIX_CACHE: '64' }).inference.prefixCache, 64);
    for (const bad of ['-1', '4097', '1.5', 'all'])
      assert.throws(() => loadConfig({ INFERENCE_PREFIX_CACHE: bad }), /INFERENCE_PREFIX_CACHE/, bad);
  });

  it('runs prompts through the traced prefill unless INFERENCE_PREFILL_GRAPH says fused', () => {
    assert.equal(loadConfig({}).inference.prefillGraph, 'trace');
    assert.equal(loadConfig({ INFERENCE_PREFILL_GRAPH: 'fused' }).inference.prefillGraph, 'fused');
    for (const bad of ['Fused', 'cuda-graph'])
      assert.throws(() => loadConfig({ INFERENCE_PREFILL_GRAPH: bad }), /INFERENCE_PREFILL_GRAPH/, bad);
  });

  it('keeps the batched decode off the native addon unless INFERENCE_NATIVE says otherwise', () => {
    assert.equal(loadConfig({}).inference.native, 'off');
    assert.equal(loadConfig({ INFERENCE_NATIVE: 'auto' }).inference.native, 'auto');
    assert.equal(loadConfig({ INFERENCE_NATIVE: 'on' }).inference.native, 'on');
  });

  it('prefers the dmmha decode step, and captures the step as CUDA graphs by default on CUDA only', () => {
    // Unset: the package loader's per-device default (xattn on CUDA with the addon's kernel, else dmmha).
    assert.equal(loadConfig({}).inference.staticStep, undefined);
    assert.equal(loadConfig({ INFERENCE_STATIC_STEP: 'inplace' }).inference.staticStep, 'inplace');
    assert.equal(loadConfig({ INFERENCE_STATIC_STEP: 'xattn16' }).inference.staticStep, 'xattn16');
    assert.equal(loadConfig({}).inference.stepCudaGraph, false);
    const cuda = { INFERENCE_DEVICE: 'cuda', INFERENCE_NATIVE: 'on', INFERENCE_BATCH_GRAPH: 'true' };
    assert.equal(loadConfig({ INFERENCE_DEVICE: 'cuda' }).inference.stepCudaGraph, true);
    assert.equal(loadConfig({ ...cuda, INFERENCE_STEP_CUDA_GRAPH: '0' }).inference.stepCudaGraph, false);
    assert.equal(loadConfig({ ...cuda, INFERENCE_STEP_CUDA_GRAPH: '1' }).inference.stepCudaGraph, true);
    // Asked for where no step runs through the addon on CUDA: refused, not silently ignored.
    assert.throws(
      () => loadConfig({ INFERENCE_STEP_CUDA_GRAPH: '1' }),
      /INFERENCE_STEP_CUDA_GRAPH: needs INFERENCE_DEVICE=cuda, INFERENCE_NATIVE=on and INFERENCE_BATCH_GRAPH=true/,
    );
  });

  it('reads the worker profile interval and the vocoder TF32 switch, both off by default', () => {
    assert.equal(loadConfig({}).inference.profileSeconds, 0);
    assert.equal(loadConfig({ INFERENCE_PROFILE: '5' }).inference.profileSeconds, 5);
    assert.equal(loadConfig({}).inference.vocoderTf32, false);
    const tf32 = { INFERENCE_DEVICE: 'cuda', INFERENCE_NATIVE: 'on', INFERENCE_BATCH_GRAPH: 'true' };
    assert.equal(loadConfig({ ...tf32, INFERENCE_VOCODER_TF32: 'true' }).inference.vocoderTf32, true);
    assert.equal(loadConfig(tf32).inference.vocoderTf32, false);
    // Without the addon's own sessions the GPT would get TF32 too.
    for (const without of ['INFERENCE_DEVICE', 'INFERENCE_NATIVE', 'INFERENCE_BATCH_GRAPH'] as const)
      assert.throws(
        () =>
          loadConfig({
            ...tf32,
            [without]: without === 'INFERENCE_DEVICE' ? 'cpu' : without === 'INFERENCE_NATIVE' ? 'auto' : 'false',
            INFERENCE_VOCODER_TF32: 'true',
          }),
        /INFERENCE_VOCODER_TF32: needs INFERENCE_DEVICE=cuda, INFERENCE_NATIVE=on and INFERENCE_BATCH_GRAPH=true/,
      );
    // HiFi-GAN on part of the GPU's SMs: a positive count, with the addon on CUDA only.
    assert.equal(loadConfig({}).inference.vocoderSms, undefined);
    assert.equal(loadConfig({ ...tf32, INFERENCE_VOCODER_SMS: '112' }).inference.vocoderSms, 112);
    assert.throws(() => loadConfig({ ...tf32, INFERENCE_VOCODER_SMS: '0' }), /INFERENCE_VOCODER_SMS/);
    assert.throws(
      () => loadConfig({ INFERENCE_VOCODER_SMS: '112' }),
      /INFERENCE_VOCODER_SMS: needs INFERENCE_DEVICE=cuda, INFERENCE_NATIVE=on and INFERENCE_BATCH_GRAPH=true/,
    );
    // One shared arena for the package's graphs but the step: on by default with the addon on CUDA only.
    assert.equal(loadConfig({}).inference.sharedArena, false);
    assert.equal(loadConfig(tf32).inference.sharedArena, true);
    assert.equal(loadConfig({ ...tf32, INFERENCE_SHARED_ARENA: '0' }).inference.sharedArena, false);
    assert.throws(
      () => loadConfig({ INFERENCE_SHARED_ARENA: '1' }),
      /INFERENCE_SHARED_ARENA: needs INFERENCE_DEVICE=cuda, INFERENCE_NATIVE=on and INFERENCE_BATCH_GRAPH=true/,
    );
    // More CUDA provider options, as strings, under the same conditions; the engine's own are refused.
    assert.equal(loadConfig({}).inference.cudaOptions, undefined);
    assert.deepEqual(
      loadConfig({
        ...tf32,
        INFERENCE_CUDA_OPTIONS: '{"cudnn_conv_use_max_workspace": 0, "do_copy_in_default_stream": true}',
      }).inference.cudaOptions,
      { cudnn_conv_use_max_workspace: '0', do_copy_in_default_stream: '1' },
    );
    for (const [value, why] of [
      ['[1]', /must be a JSON object/],
      ['{"use_tf32": "1"}', /use_tf32 is set by the engine/],
      ['{"Bad Name": "1"}', /not a CUDA provider option name/],
      ['{"x": {"y": 1}}', /option x: the value must be a string/],
      ['not json', /must be a JSON object/],
    ] as const)
      assert.throws(
        () => loadConfig({ ...tf32, INFERENCE_CUDA_OPTIONS: value }),
        (e: Error) => /INFERENCE_CUDA_OPTIONS: /.test(e.message) && why.test(e.message),
      );
    assert.throws(
      () => loadConfig({ ...tf32, INFERENCE_NATIVE: 'auto', INFERENCE_CUDA_OPTIONS: '{}' }),
      /INFERENCE_CUDA_OPTIONS: needs INFERENCE_DEVICE=cuda, INFERENCE_NATIVE=on/,
    );
    assert.equal(loadConfig({}).inference.maxTextTokens, undefined);
    assert.equal(loadConfig({ INFERENCE_MAX_TEXT_TOKENS: '120' }).inference.maxTextTokens, 120);
  });

  it('parses INFERENCE_URLS as a comma-separated list', () => {
    const c = loadConfig({ INFERENCE_URLS: 'http://a:8000, http://b:8000,' });
    assert.deepEqual(c.inferenceUrls, ['http://a:8000', 'http://b:8000']);
  });

  it('parses TRUSTED_PROXIES as addresses and CIDR ranges; none by default', () => {
    assert.deepEqual(loadConfig({}).trustedProxies, []);
    assert.deepEqual(loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8, ::1,' }).trustedProxies, ['10.0.0.0/8', '::1']);
  });

  it('gives the job and Kubernetes defaults: every kind claimed, trainings run locally', () => {
    const c = loadConfig({ K8S_SERVICE_ACCOUNT_DIR: join(tmpdir(), 'no-such-service-account') });
    assert.deepEqual(c.jobKinds, ['dataset.build', 'training.run', 'prescreen.run']);
    assert.equal(c.workerExitWhenIdle, false);
    assert.equal(c.trainingLauncher, 'local');
    assert.equal(c.trainerGpus, 1);
    assert.deepEqual(c.kubernetes, {
      apiUrl: 'https://kubernetes.default.svc',
      namespace: 'default',
      trainerImage: undefined,
      trainerGpus: 1,
      serviceAccountDir: join(tmpdir(), 'no-such-service-account'),
    });
    assert.equal(loadConfig({}).kubernetes.serviceAccountDir, '/var/run/secrets/kubernetes.io/serviceaccount');
  });

  it("takes the namespace from the pod's service-account folder unless K8S_NAMESPACE names one", () => {
    const dir = mkdtempSync(join(tmpdir(), 'sa-'));
    try {
      writeFileSync(join(dir, 'namespace'), 'voice-studio\n');
      assert.equal(loadConfig({ K8S_SERVICE_ACCOUNT_DIR: dir }).kubernetes.namespace, 'voice-studio');
      assert.equal(loadConfig({ K8S_SERVICE_ACCOUNT_DIR: dir, K8S_NAMESPACE: 'other' }).kubernetes.namespace, 'other');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses JOB_KINDS, WORKER_EXIT_WHEN_IDLE and the launcher', () => {
    assert.deepEqual(loadConfig({ JOB_KINDS: ' training.run ,' }).jobKinds, ['training.run']);
    assert.equal(loadConfig({ WORKER_EXIT_WHEN_IDLE: 'true' }).workerExitWhenIdle, true);
    assert.equal(loadConfig({ WORKER_EXIT_WHEN_IDLE: '1' }).workerExitWhenIdle, true);
    assert.equal(loadConfig({ WORKER_EXIT_WHEN_IDLE: 'false' }).workerExitWhenIdle, false);
    const k = loadConfig({ ...kube, K8S_TRAINER_GPUS: '4' });
    assert.equal(k.trainingLauncher, 'kubernetes');
    // The Jobs train; the process's own workers keep to dataset builds and pre-screens.
    assert.deepEqual(k.jobKinds, ['dataset.build', 'prescreen.run']);
    assert.equal(k.kubernetes.trainerImage, 'reg/trainer:1');
    assert.equal(k.kubernetes.trainerGpus, 4);
    assert.equal(loadConfig({ K8S_API_URL: 'https://10.0.0.1:6443/' }).kubernetes.apiUrl, 'https://10.0.0.1:6443');
  });

  const bad: [string, string, Record<string, string>?][] = [
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['LOG_LEVEL', 'loud'],
    ['INFERENCE_PRECISION', 'int3'],
    ['INFERENCE_NATIVE', 'yes'],
    ['INFERENCE_PROFILE', '-1'],
    ['INFERENCE_PROFILE', 'often'],
    ['INFERENCE_VOCODER_TF32', 'maybe'],
    ['INFERENCE_STATIC_STEP', 'fused'],
    ['INFERENCE_STEP_CUDA_GRAPH', 'sometimes'],
    ['INFERENCE_MAX_TEXT_TOKENS', '16'],
    ['INFERENCE_URLS', 'http://a:8000,not a url'],
    ['MAX_JSON_BODY_BYTES', '-1'],
    ['JOB_KINDS', 'dataset.build,training.walk'],
    ['JOB_KINDS', ','],
    ['WORKER_EXIT_WHEN_IDLE', 'yes'],
    ['TRAINING_LAUNCHER', 'slurm'],
    ['K8S_API_URL', 'kubernetes.default.svc'],
    ['K8S_NAMESPACE', 'Voice_Studio'],
    ['K8S_TRAINER_IMAGE', 'reg/trainer 1'],
    ['K8S_TRAINER_GPUS', '0'],
    ['K8S_TRAINER_GPUS', 'two'],
    ['TRAINER_GPUS', '1.5'],
    ['TRUSTED_PROXIES', '10.0.0.0/8,proxy.internal'],
    ['TRUSTED_PROXIES', '10.0.0.0/33'],
    ['JOB_KINDS', 'dataset.build,training.run', kube],
    ['K8S_TRAINER_IMAGE', '', kube],
    ['TRAINING_LAUNCHER', 'kubernetes', { ...kube, DATABASE_URL: '' }],
  ];
  for (const [name, value, extra] of bad) {
    const what = extra ? ` with ${JSON.stringify(extra)}` : '';
    it(`fails fast naming ${name} when it is ${JSON.stringify(value)}${what}`, () => {
      assert.throws(
        () => loadConfig({ ...extra, [name]: value }),
        (err: unknown) =>
          err instanceof ConfigError && err.message.split('\n').some((line) => line.trim().startsWith(`${name}:`)),
      );
    });
  }
});
