/**
 * One loaded model package and everything that runs on it: voices from reference clips, text to
 * sentences to token ids, code generation, HiFi-GAN, streaming. It runs on the thread that calls
 * it (onnxruntime's run() blocks that thread), which is why the engine keeps it in a worker.
 */

import { basename } from 'node:path';
import { limits } from '../../infra/index.ts';
import { AudioInputError } from '../audio/errors.ts';
import { loadReference } from '../audio/reference.ts';
import { recordPhase, traceMemory } from '../engine/phase-times.ts';
import { type AudioChunk, EngineError, type SynthesisParams, type VoiceConditioning } from '../engine/types.ts';
import { DeviceBatchedGpt } from '../native/batch.ts';
import { nativeSessionOf } from '../native/host-session.ts';
import { DeviceSession } from '../native/index.ts';
import { DevicePrefiller, isBatchedPrefill } from '../native/prefill-batcher.ts';
import { isPrefixPrefill, PrefixCache } from '../native/prefix-cache.ts';
import { StaticGpt } from '../native/static.ts';
import { UnsupportedLanguageError } from '../text/languages.ts';
import { splitSentences } from '../text/sentences.ts';
import { TextTooLongError } from '../text/tokenizer.ts';
import { BatchedGpt } from './batch.ts';
import {
  batchedDecode,
  DecodeBatcher,
  type DecodeBatcherLike,
  type DecodeMany,
  sequentialDecode,
} from './decode-batcher.ts';
import { type BabbleGuard, generateCodes, UniformSource } from './generate.ts';
import { Gpt } from './gpt.ts';
import { bucketFor, DEFAULT_BUCKETS, Hifigan, outputSamples } from './hifigan.ts';
import { loadPackage, type ModelPackage, type PackageOptions, textTokenLimit } from './package.ts';
import { StepBatcher } from './step-batcher.ts';
import {
  bucketChunkSchedule,
  chunkForBuckets,
  chunkSchedule,
  DEFAULT_STREAM,
  readAhead,
  StreamChunker,
  windowContextCodes,
} from './stream.ts';
import { VocoderBatcher } from './vocoder-batcher.ts';
import { computeVoiceFromAudio, type VoiceOptions } from './voice.ts';

export type XttsOptions = PackageOptions & {
  /** On CUDA, open and run the streaming buckets' HiFi-GAN sessions at load (default), so no stream pays their setup. */
  warmUp?: boolean;
  /** HiFi-GAN input lengths: 'auto' pads to DEFAULT_BUCKETS on CUDA only (CPU stays exact). */
  hifiganBuckets?: 'auto' | readonly number[] | null;
  /** Codes per decode run while streaming: the first chunk comes after this many (reference: 20). */
  streamChunkCodes?: number;
  /** Each later chunk is this many times the one before (1: every chunk `streamChunkCodes`), see chunkSchedule. */
  streamChunkGrowth?: number;
  /** Codes per streamed chunk at most, however far it has grown. */
  streamMaxChunkCodes?: number;
  /**
   * Where HiFi-GAN runs padded to buckets (CUDA), later chunks are sized so that their windows fill
   * their buckets (bucketChunkSchedule; default true); false: chunkSchedule's growth, windows padded.
   */
  streamBucketChunks?: boolean;
  /** Codes per decode run without streaming (the cache crosses the runtime once per run). */
  renderRunCodes?: number;
  /**
   * With continuous batching (the fixed-shape step's StepBatcher), decode runs a stream may have finished
   * beyond the one whose audio HiFi-GAN is making (0: the next run is decoding while this one's audio is
   * made, and waits for it to be taken; see readAhead). More keeps a stream in the batch's steps while
   * its windows wait in HiFi-GAN's queue; the codes are the same. Default 0 (STREAM_DECODE_AHEAD).
   */
  streamDecodeAhead?: number;
  /** Zero samples between sentences (the reference's TTS API uses 10000 at 24 kHz). */
  sentencePauseSamples?: number;
  /** Longer texts are refused (TEXT_TOO_LONG) rather than occupying a worker for hours. */
  maxTextChars?: number;
  /**
   * Concurrent generations on this package share decode runs through one DecodeBatcher (see
   * decode-batcher.ts): at most `maxBatch` sequences per run. Unset: each generation calls the
   * GPT directly, one at a time as its caller awaits.
   */
  decodeBatch?: { maxBatch: number; gatherMs?: number; windowSteps?: number } | undefined;
  /**
   * With continuous batching on the fixed-shape step (StepBatcher): the longest a decode window waits for
   * the prompt passes in flight to end before it runs (ms; default 0, it never waits). A burst of streams
   * then has its prompts' passes alone on the device rather than beside the decode of the first to join.
   */
  prefillFirstMs?: number;
};

export type SynthesisInput = {
  text: string;
  language: string;
  voice: VoiceConditioning;
  params?: Partial<SynthesisParams> | undefined;
};

/**
 * Codes in the first streamed chunk: the time to first audio is the prompt's pass, these codes and
 * HiFi-GAN over them. On a 2-core CPU (full size, int8 GPT and HiFi-GAN) 16 codes gave the first
 * chunk after 0.67 s against 0.87 s with 20, and a streamed RTF of 0.69 (README, benchmark).
 */
export const STREAM_FIRST_CHUNK_CODES = 16;

/**
 * Later streamed chunks grow by this factor (see chunkSchedule): 16, 24, 36, 54, 81, 100 codes. With
 * HiFi-GAN buckets (CUDA) each later chunk fills one instead (bucketChunkSchedule: 8, 10, 26, 58, 122
 * from the GPU's first chunk of 8). A
 * chunk is ready before the audio already sent has played while the growth stays below 1 / the
 * synthesis' RTF: on the 2-core CPU with the int8 variant 1 / 0.69 ≈ 1.45, so the second chunk may
 * come a few tens of ms late there; from the third on, the audio ahead covers it.
 */
export const STREAM_CHUNK_GROWTH = 1.5;
export const STREAM_MAX_CHUNK_CODES = 100;

/**
 * Decode runs a stream reads ahead of its audio with continuous batching (XttsOptions.streamDecodeAhead).
 * Made for a stream's row that sat out of the batch's steps while its last window waited in HiFi-GAN's
 * queue longer than its next run took to decode (the early chunks, 8 to 41 codes, at 64 streams). On an
 * H200 at 64 streams 1 against 0 gave the same (164.0 against 164.2 s of audio per second, first audio
 * 828 / 1,197 against 819 / 1,188 ms): the rows were already in 61 of 64 places a step on average, and
 * HiFi-GAN's share of the GPU sets the pace. So 0 stays the default: a stream that stops frees its slot
 * without waiting for a run it asked for ahead.
 */
export const STREAM_DECODE_AHEAD = 0;

export const DEFAULT_BABBLE_GUARD: BabbleGuard = { maxRepeatRun: 40, maxCodesPerTextToken: 12 };

/** Maps the text and audio modules' errors to the engine's stable codes. */
export function toEngineError(e: unknown): EngineError {
  if (e instanceof EngineError) return e;
  if (e instanceof UnsupportedLanguageError) return new EngineError('LANGUAGE_UNSUPPORTED', e.message, 'language');
  if (e instanceof TextTooLongError) return new EngineError('TEXT_TOO_LONG', e.message, 'text');
  if (e instanceof AudioInputError) {
    const code = e.code === 'AUDIO_TOO_SHORT' || e.code === 'AUDIO_SILENT' ? e.code : 'AUDIO_INVALID';
    return new EngineError(code, e.message);
  }
  return new EngineError('ENGINE_FAILED', (e as Error)?.message ?? String(e));
}

export class Xtts {
  readonly pkg: ModelPackage;
  readonly gpt: Gpt;
  readonly hifigan: Hifigan;
  readonly options: Required<
    Pick<
      XttsOptions,
      | 'streamChunkCodes'
      | 'streamChunkGrowth'
      | 'streamMaxChunkCodes'
      | 'streamBucketChunks'
      | 'renderRunCodes'
      | 'streamDecodeAhead'
      | 'sentencePauseSamples'
      | 'maxTextChars'
      | 'maxAudioCodes'
    >
  >;
  /** Whether the largest streamed chunk was sized to fill a HiFi-GAN bucket (no streamMaxChunkCodes given). */
  private readonly bucketSizedChunks: boolean;
  /** Text tokens per sentence at most (PackageOptions.maxTextTokens); undefined: the package's limit. */
  private readonly textTokens: number | undefined;
  /** Batches the decode runs of concurrent generations (XttsOptions.decodeBatch); null: direct calls. */
  readonly batcher: DecodeBatcherLike | null;
  /** The batched decode's driver when it runs through the native addon (PackageOptions.nativeBatch). */
  private deviceBatch: DeviceBatchedGpt | null = null;
  /** The fixed-shape step's driver, when the package opened gpt_step_static_* (PackageOptions.staticDecode). */
  private staticBatch: StaticGpt | null = null;
  /** Prompts a prefill run at most, where the package's prefill is the batched graph (PackageOptions.prefillBatch). */
  private readonly prefillRows: number | undefined;
  /** Voices whose conditioning positions are kept, where the package's prefill is the prefix graph (PackageOptions.prefixCache). */
  private readonly prefixVoices: number | undefined;
  /** XttsOptions.prefillFirstMs. */
  private readonly prefillFirstMs: number;

  private constructor(pkg: ModelPackage, options: XttsOptions) {
    this.pkg = pkg;
    this.prefillFirstMs = Math.max(0, options.prefillFirstMs ?? 0);
    this.prefillRows = options.prefillBatch?.maxRows;
    this.prefixVoices = options.prefixCache?.voices;
    this.textTokens = options.maxTextTokens;
    this.bucketSizedChunks = options.streamMaxChunkCodes === undefined;
    const t = pkg.manifest.tokens;
    this.gpt = new Gpt(pkg.sessions.prefill, pkg.sessions.decode, {
      audioStart: t.audio_start,
      audioStop: t.audio_stop,
      vocab: pkg.manifest.model.config.gpt_num_audio_tokens,
    });
    // `null` asks for no padding (exact parity); only an absent option means 'auto'.
    const b = options.hifiganBuckets === undefined ? 'auto' : options.hifiganBuckets;
    this.hifigan = new Hifigan(
      pkg.sessions.hifigan,
      b === 'auto' ? (pkg.device === 'cuda' ? DEFAULT_BUCKETS : null) : b,
      pkg.device === 'cuda' ? (bucket) => pkg.openHifigan(bucket) : undefined,
    );
    const openBatch = pkg.openHifiganBatch;
    const buckets = this.hifigan.buckets;
    if (openBatch && buckets && this.hifigan.takesFrames)
      this.hifigan.batcher = new VocoderBatcher(
        // Lengths past the last bucket (whole renders) share one session, as Hifigan's own do.
        (bucket, rows) => openBatch(bucket > (buckets.at(-1) ?? 0) ? -1 : bucket, rows),
        pkg.manifest.model.config.gpt_n_model_channels,
        (fed) => outputSamples(fed),
        options.vocoderBatch ?? {},
      );
    this.options = {
      streamChunkCodes: options.streamChunkCodes ?? STREAM_FIRST_CHUNK_CODES,
      streamChunkGrowth: options.streamChunkGrowth ?? STREAM_CHUNK_GROWTH,
      streamMaxChunkCodes: Math.max(
        // With HiFi-GAN buckets (CUDA), the largest chunks fill theirs rather than leave it a fifth padding
        // (at speed 1: see stream()).
        options.streamMaxChunkCodes ??
          (this.hifigan.buckets
            ? chunkForBuckets(STREAM_MAX_CHUNK_CODES, this.hifigan.buckets)
            : STREAM_MAX_CHUNK_CODES),
        options.streamChunkCodes ?? STREAM_FIRST_CHUNK_CODES,
      ),
      streamBucketChunks: options.streamBucketChunks ?? true,
      renderRunCodes: options.renderRunCodes ?? 100,
      streamDecodeAhead: Math.max(0, Math.floor(options.streamDecodeAhead ?? STREAM_DECODE_AHEAD)),
      sentencePauseSamples: options.sentencePauseSamples ?? 10000,
      maxTextChars: options.maxTextChars ?? limits.text.maxChars,
      maxAudioCodes: Math.min(options.maxAudioCodes ?? Number.POSITIVE_INFINITY, pkg.manifest.tokens.max_audio_codes),
    };
    this.batcher = options.decodeBatch ? this.makeBatcher(options.decodeBatch) : null;
  }

  /**
   * The fixed-shape step (its runs start in microseconds, state in place) is driven a few steps at a
   * time by the StepBatcher (continuous batching: calls join and are answered between windows); the
   * other batched graphs, whose every run pays for moving or packing the cache, by the DecodeBatcher.
   */
  private makeBatcher(o: NonNullable<XttsOptions['decodeBatch']>): DecodeBatcherLike {
    const many = this.decodeMany();
    if (this.staticBatch)
      return new StepBatcher(this.staticBatch, {
        stopCode: this.gpt.stopCode,
        maxBatch: Math.min(o.maxBatch, this.staticBatch.dims.slots),
        ...(o.windowSteps !== undefined ? { windowSteps: o.windowSteps } : {}),
        ...(this.prefillFirstMs > 0 ? { prefillFirst: { waitMs: this.prefillFirstMs, prefills: this.gpt } } : {}),
      });
    return new DecodeBatcher(many, {
      maxBatch: o.maxBatch,
      ...(o.gatherMs !== undefined ? { gatherMs: o.gatherMs } : {}),
    });
  }

  /**
   * How a batch of decode calls runs on this package: the batched decode graph when it was opened
   * (PackageOptions.batchedDecode and the package has one), else the batch-1 graph, one sequence
   * after the other (exact, and what CPU and packages without the graph use). The batched graph runs
   * through onnxruntime-node, or through the native addon with its state left in device memory
   * between runs when the package opened it there (PackageOptions.nativeBatch): the same codes.
   */
  private decodeMany(): DecodeMany {
    const batch = this.pkg.sessions.batch;
    if (!batch) return sequentialDecode(this.gpt);
    const tokens = { audioStop: this.gpt.stopCode };
    if (!(batch instanceof DeviceSession)) return batchedDecode(new BatchedGpt(batch, tokens));
    // The fixed-shape step: its cache as one input, or one per layer (gpt_step_static_inplace).
    if (batch.inputs.some((i) => i.name === 'cache_k' || i.name === 'cache_k_0')) {
      this.staticBatch = new StaticGpt(batch);
      // Its joins take the prefill's keys and values where the prefill left them, on the device.
      this.gpt.devicePrefill = nativeSessionOf(this.pkg.sessions.prefill);
      const prefill = this.gpt.devicePrefill;
      // Where the prefill continues from kept keys and values (PackageOptions.prefixCache), each voice's
      // conditioning positions are kept and each prompt computes its text only; where it is the batched
      // graph (PackageOptions.prefillBatch), the prompts of streams that arrive together share a run of it.
      if (prefill && isPrefixPrefill(prefill))
        this.gpt.devicePrefixes = new PrefixCache(prefill, { voices: this.prefixVoices ?? 1 });
      else if (prefill && isBatchedPrefill(prefill))
        this.gpt.devicePrefiller = new DevicePrefiller(prefill, {
          maxRows: this.prefillRows ?? 1,
          padToken: this.pkg.manifest.tokens.text_stop,
        });
      traceMemory(
        `allocating the decode state (${this.staticBatch.dims.slots} slots of ${this.staticBatch.dims.maxLen} positions)`,
      );
      return batchedDecode(this.staticBatch);
    }
    this.deviceBatch = new DeviceBatchedGpt(batch, tokens);
    return batchedDecode(this.deviceBatch);
  }

  /**
   * How many of HiFi-GAN's buckets (from the first) a stream's windows use at speed 1: up to the one of
   * its largest window (the largest chunk and the window's context); 0 without buckets.
   */
  streamBuckets(): number {
    const buckets = this.hifigan.buckets;
    if (!buckets) return 0;
    const largest = bucketFor(this.options.streamMaxChunkCodes + windowContextCodes(), buckets);
    return buckets.filter((b) => b <= largest).length;
  }

  /**
   * How prompts are prefilled, in words: after kept voice prefixes (PackageOptions.prefixCache), in shared
   * runs (prefillBatch), or one pass each (also where those were asked for and the package or path has no
   * graph for them: what the worker logs).
   */
  get promptPath(): string {
    const prefixes = this.gpt.devicePrefixes;
    const batched = this.gpt.devicePrefiller;
    if (prefixes) return `after kept voice prefixes (${prefixes.voices} voices at most)`;
    if (batched) return `in shared runs (${batched.maxRows} prompts a run at most)`;
    const fused = basename(this.pkg.sessions.prefill.path).startsWith('gpt_prefill_fused_');
    return fused ? 'one pass each, through the fused-operator graph' : 'one pass each';
  }

  /** Whether the batched decode runs through the native addon. */
  get nativeDecode(): boolean {
    return this.deviceBatch !== null || this.staticBatch !== null;
  }

  static async load(dir: string, options: XttsOptions = {}): Promise<Xtts> {
    const x = new Xtts(await loadPackage(dir, options), options);
    if (options.warmUp ?? true) {
      const c = x.pkg.manifest.model.config;
      await x.hifigan.warmUp(c.gpt_n_model_channels, c.d_vector_dim, x.streamBuckets());
      traceMemory('warming HiFi-GAN up');
      await x.staticBatch?.warmUp();
      if (x.staticBatch) traceMemory('warming the fixed-shape step up');
      if (x.pkg.device === 'cuda') {
        await x.warmPrefill();
        traceMemory('warming the prefill up');
      }
    }
    return x;
  }

  /**
   * One prefill of the longest prompt a sentence can make. The CUDA arena grows (device allocations,
   * synchronous) the first time a prompt is longer than any before it, which cost each such request
   * 12–30 ms more on an H200 (about 20 ms a prefill otherwise); after this every prompt fits what the
   * arena holds. The result is thrown away.
   */
  private async warmPrefill(): Promise<void> {
    const { manifest } = this.pkg;
    const c = manifest.model.config;
    const t = manifest.tokens;
    const ids = new Array<number>(textTokenLimit(manifest, this.textTokens) + 1).fill(t.text_stop);
    ids[0] = t.text_start;
    const cond = new Float32Array(c.perceiver_latents * c.gpt_n_model_channels);
    // With batched prefills, a run of one (the first) and then one of the most prompts a run takes.
    const n = this.gpt.devicePrefiller ? this.gpt.devicePrefiller.maxRows + 1 : 1;
    const done = await Promise.all(
      Array.from({ length: n }, () => this.gpt.prefill(cond, [1, c.perceiver_latents, c.gpt_n_model_channels], ids)),
    );
    for (const { cache } of done) cache.dispose();
  }

  get sampleRate(): number {
    return this.pkg.manifest.sample_rates.output;
  }

  /** About the memory this package's sessions hold. */
  get bytes(): number {
    return this.pkg.bytes;
  }

  async release(): Promise<void> {
    this.gpt.devicePrefiller?.close();
    this.gpt.devicePrefixes?.close();
    this.deviceBatch?.close();
    await this.staticBatch?.close();
    return this.pkg.release();
  }

  /** A voice from encoded clips (wav, flac, mp3, ogg); each clip's errors name it (`clips.0`). */
  async computeVoice(clips: readonly Uint8Array[], options: VoiceOptions = {}): Promise<VoiceConditioning> {
    if (clips.length === 0) throw new EngineError('AUDIO_INVALID', 'no reference clip given', 'clips');
    const audio: Float32Array[] = [];
    for (const [i, bytes] of clips.entries()) {
      try {
        audio.push(await loadReference(bytes, { maxSeconds: this.pkg.manifest.generation.max_ref_len }));
      } catch (e) {
        const err = toEngineError(e);
        throw new EngineError(err.code, `clip ${i}: ${err.message}`, `clips.${i}`);
      }
    }
    const voice = await computeVoiceFromAudio(this.pkg, audio, options);
    if (!allFinite(voice.gptCondLatent) || !allFinite(voice.speakerEmbedding)) {
      throw new EngineError('AUDIO_INVALID', 'the clips give a non-finite conditioning', 'clips');
    }
    return voice;
  }

  /** Sampling settings: the request's, else the package's config.json defaults. */
  params(p: Partial<SynthesisParams> = {}): SynthesisParams {
    const g = this.pkg.manifest.generation;
    const speed = p.speed ?? 1;
    const out: SynthesisParams = {
      temperature: p.temperature ?? g.temperature,
      topK: p.topK ?? g.top_k,
      topP: p.topP ?? g.top_p,
      repetitionPenalty: p.repetitionPenalty ?? g.repetition_penalty,
      lengthPenalty: p.lengthPenalty ?? g.length_penalty,
      speed: Math.min(4, Math.max(0.25, speed)),
      seed: p.seed ?? 0,
      babbleGuard: p.babbleGuard ?? false,
    };
    if (
      !(out.temperature > 0) ||
      !(out.topP > 0 && out.topP <= 1) ||
      !(out.repetitionPenalty > 0) ||
      !Number.isFinite(speed)
    )
      throw new EngineError('PARAMS_INVALID', `invalid sampling parameters ${JSON.stringify(p)}`, 'params');
    if (!Number.isSafeInteger(out.seed))
      throw new EngineError('PARAMS_INVALID', 'seed must be an integer', 'params.seed');
    return out;
  }

  /** Text → sentences (split only past the language's character limit, as the reference) → [START] ids [STOP]. */
  sentenceIds(text: string, language: string): number[][] {
    if (!this.pkg.manifest.languages.includes(language.toLowerCase()))
      throw new EngineError('LANGUAGE_UNSUPPORTED', `language '${language}' is not in this model package`, 'language');
    if (text.trim().length === 0) throw new EngineError('TEXT_EMPTY', 'text is empty', 'text');
    if (text.length > this.options.maxTextChars)
      throw new EngineError(
        'TEXT_TOO_LONG',
        `text has ${text.length} characters; at most ${this.options.maxTextChars}`,
        'text',
      );
    const t = this.pkg.manifest.tokens;
    const limit = textTokenLimit(this.pkg.manifest, this.textTokens);
    const out: number[][] = [];
    // The reference asserts fewer text tokens than gpt_max_text_tokens (402; fewer in tiny packages).
    // A piece over it is split again at half the length (sentences first, then words) rather than refused.
    const encode = (piece: string): void => {
      let ids: number[] | null = null;
      try {
        ids = this.pkg.tokenizer.encode(piece, language);
      } catch (e) {
        if (!(e instanceof TextTooLongError)) throw e;
      }
      if (ids && ids.length < limit) {
        out.push([t.text_start, ...ids, t.text_stop]);
        return;
      }
      const half = Math.floor(Array.from(piece).length / 2);
      const parts = half > 0 ? splitSentences(piece, language, half).filter((p) => p.trim().length > 0) : [];
      if (parts.length < 2)
        throw new EngineError('TEXT_TOO_LONG', `'${piece.slice(0, 40)}' is too long for this model`, 'text');
      for (const p of parts) encode(p);
    };
    try {
      for (const s of splitSentences(text, language)) if (s.trim().length > 0) encode(s);
    } catch (e) {
      throw toEngineError(e);
    }
    if (out.length === 0) throw new EngineError('TEXT_EMPTY', 'text has nothing to speak', 'text');
    return out;
  }

  checkVoice(v: VoiceConditioning): void {
    const c = this.pkg.manifest.model.config;
    const condLen = c.perceiver_latents * c.gpt_n_model_channels;
    if (v.packageKey !== this.pkg.key)
      throw new EngineError('VOICE_MISMATCH', 'voice was computed with another model package', 'voice');
    if (v.gptCondLatent.length !== condLen || v.speakerEmbedding.length !== c.d_vector_dim)
      throw new EngineError('VOICE_MISMATCH', 'voice tensors do not fit this model package', 'voice');
    if (!allFinite(v.gptCondLatent) || !allFinite(v.speakerEmbedding))
      throw new EngineError('VOICE_MISMATCH', 'voice tensors hold non-finite values', 'voice');
  }

  private generation(
    voice: VoiceConditioning,
    ids: number[],
    p: SynthesisParams,
    rng: UniformSource,
    runCodes: number | ((run: number) => number),
    cancelled?: () => void,
  ) {
    const generate = (gpt: Gpt) =>
      generateCodes(gpt, { data: voice.gptCondLatent, shape: voice.gptCondShape }, ids, {
        settings: { temperature: p.temperature, topK: p.topK, topP: p.topP, repetitionPenalty: p.repetitionPenalty },
        rng,
        runCodes,
        maxCodes: this.options.maxAudioCodes,
        babbleGuard: p.babbleGuard ? DEFAULT_BABBLE_GUARD : null,
        ...(cancelled ? { checkCancelled: cancelled } : {}),
        // With continuous batching the next run's codes are made while this one's audio is.
        prefetch: this.batcher instanceof StepBatcher,
        // The first run's too while other streams decode (the device is shared anyway).
        prefetchFirst: () => this.decodeShared(),
      });
    return this.batcher ? this.batcher.generate(this.gpt, generate) : generate(this.gpt);
  }

  /** Whether other sequences share the step batcher's decode now (continuous batching with company). */
  private decodeShared(): boolean {
    return this.batcher instanceof StepBatcher && this.batcher.sequences > 1;
  }

  /**
   * Streams audio chunk by chunk: the first after `streamChunkCodes` codes of the first sentence,
   * later ones larger (`streamChunkGrowth`, up to `streamMaxChunkCodes`; the schedule runs on
   * across sentences, whose audio the listener already has ahead).
   */
  async *stream(input: SynthesisInput, checkCancelled?: () => void): AsyncGenerator<AudioChunk, void, void> {
    this.checkVoice(input.voice);
    const p = this.params(input.params);
    const sentences = this.sentenceIds(input.text, input.language);
    const rng = new UniformSource(p.seed);
    const sampleRate = this.sampleRate;
    const lastSentence = sentences.length - 1;
    let index = 0;
    let ended = false;
    const guard = new OutputGuard();
    const o = this.options;
    const schedule = this.chunkSchedule(p.speed);
    let chunk = 0;
    const runCodes = () => schedule(chunk++);
    // Where a stream's time to first audio goes (INFERENCE_PROFILE): its first codes (the prompt's pass,
    // the join and the first chunk's steps), then their HiFi-GAN window.
    const t0 = performance.now();
    let firstCodesAt: number | null = null;
    // When the listener started hearing (the first audio's yield) and the samples yielded since: a
    // window is due when those have played (its deadline for the HiFi-GAN queue, VocoderBatcher).
    let playingSince: number | null = null;
    let sent = 0;
    const deadline = () => (playingSince === null ? performance.now() : playingSince + (sent / sampleRate) * 1000);
    // Each chunk leaves as soon as it exists: the last one is known from the generator's own
    // `done`, so nothing is held back (holding one back would double the time to first audio).
    for (const [si, ids] of sentences.entries()) {
      let chunker: StreamChunker | null = null;
      if (si > 0 && this.options.sentencePauseSamples > 0) {
        playingSince ??= performance.now();
        sent += this.options.sentencePauseSamples;
        yield {
          samples: new Float32Array(this.options.sentencePauseSamples),
          sampleRate,
          index: index++,
          final: false,
        };
      }
      // Only where the decode is shared (see streamDecodeAhead): a lone stream's first window runs without
      // a decode beside it, as generateCodes' prefetchFirst.
      const ahead = (i: number) =>
        this.batcher instanceof StepBatcher && (i > 0 || this.decodeShared()) ? o.streamDecodeAhead : 0;
      const runs = readAhead(this.generation(input.voice, ids, p, rng, runCodes, checkCancelled), ahead);
      for await (const run of runs) {
        if (firstCodesAt === null) {
          firstCodesAt = performance.now();
          recordPhase('first audio: codes', firstCodesAt - t0, run.codes.length);
        }
        chunker ??= new StreamChunker(
          run.width,
          // Due when the audio already sent has played; the first window now (its listener waits).
          (lat, n) => this.hifigan.decode(lat, n, run.width, input.voice.speakerEmbedding, p.speed, deadline()),
          { ...DEFAULT_STREAM, samplesPerCode: DEFAULT_STREAM.samplesPerCode / p.speed },
        );
        const samples = await chunker.push(run.latents, run.codes.length, run.done);
        const final = si === lastSentence && run.done;
        if (samples.length === 0 && !final) continue;
        guard.check(samples, final);
        if (samples.length > 0 && playingSince === null) {
          playingSince = performance.now();
          recordPhase('first audio: HiFi-GAN', playingSince - (firstCodesAt ?? t0));
        }
        sent += samples.length;
        yield { samples, sampleRate, index: index++, final };
        ended ||= final;
      }
    }
    if (!ended) {
      guard.check(new Float32Array(0), true);
      yield { samples: new Float32Array(0), sampleRate, index, final: true };
    }
  }

  /**
   * Codes per streamed chunk at this speed: windows that fill HiFi-GAN's buckets where it has them
   * (streamBucketChunks; a speed below 1 stretches each window past its bucket, so those streams keep
   * chunkSchedule's growth), else chunkSchedule's.
   */
  chunkSchedule(speed: number): (chunk: number) => number {
    const o = this.options;
    const max = this.streamMaxChunk(speed);
    const buckets = this.hifigan.buckets;
    return o.streamBucketChunks && buckets && speed >= 1
      ? bucketChunkSchedule(o.streamChunkCodes, o.streamChunkGrowth, max, buckets)
      : chunkSchedule(o.streamChunkCodes, o.streamChunkGrowth, max);
  }

  /**
   * The largest streamed chunk at this speed: `streamMaxChunkCodes`, except that a speed below 1
   * stretches each window before HiFi-GAN, so chunks sized to fill a bucket at speed 1 would spill into
   * the next one: those streams keep the default largest chunk.
   */
  streamMaxChunk(speed: number): number {
    const o = this.options;
    return this.bucketSizedChunks && speed < 1
      ? Math.max(o.streamChunkCodes, Math.min(o.streamMaxChunkCodes, STREAM_MAX_CHUNK_CODES))
      : o.streamMaxChunkCodes;
  }

  /** The whole utterance at once: per sentence, HiFi-GAN over all its latents (the reference's inference()). */
  async render(
    input: SynthesisInput,
    checkCancelled?: () => void,
  ): Promise<{ samples: Float32Array; sampleRate: number; codes: number[][] }> {
    this.checkVoice(input.voice);
    const p = this.params(input.params);
    const sentences = this.sentenceIds(input.text, input.language);
    const rng = new UniformSource(p.seed);
    const parts: Float32Array[] = [];
    const codes: number[][] = [];
    for (const [si, ids] of sentences.entries()) {
      const runs: Float32Array[] = [];
      const sentenceCodes: number[] = [];
      let width = 0;
      for await (const run of this.generation(input.voice, ids, p, rng, this.options.renderRunCodes, checkCancelled)) {
        runs.push(run.latents.slice());
        sentenceCodes.push(...run.codes);
        width = run.width;
      }
      const latents = new Float32Array(sentenceCodes.length * width);
      let at = 0;
      for (const r of runs) {
        latents.set(r, at);
        at += r.length;
      }
      checkCancelled?.();
      if (si > 0) parts.push(new Float32Array(this.options.sentencePauseSamples));
      parts.push(
        await this.hifigan.decode(latents, sentenceCodes.length, width, input.voice.speakerEmbedding, p.speed),
      );
      codes.push(sentenceCodes);
    }
    const guard = new OutputGuard();
    for (const [i, x] of parts.entries()) guard.check(x, i === parts.length - 1);
    const total = parts.reduce((n, x) => n + x.length, 0);
    const samples = new Float32Array(total);
    let at = 0;
    for (const x of parts) {
      samples.set(x, at);
      at += x.length;
    }
    return { samples, sampleRate: this.sampleRate, codes };
  }
}

function allFinite(x: Float32Array): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i] as number)) return false;
  return true;
}

/**
 * Refuses output no one should hear as a success: a non-finite sample (the chunk is stopped
 * before it leaves), or an utterance that ends having never risen above silence. Streamed,
 * the error ends the transfer; whole, it is the response.
 */
export class OutputGuard {
  private peak = 0;
  check(samples: Float32Array, final: boolean): void {
    for (let i = 0; i < samples.length; i++) {
      const v = samples[i] as number;
      if (!Number.isFinite(v)) throw new EngineError('OUTPUT_INVALID', 'the model produced non-finite audio');
      const a = Math.abs(v);
      if (a > this.peak) this.peak = a;
    }
    if (final && this.peak < limits.synthesis.silencePeak) {
      throw new EngineError('OUTPUT_INVALID', 'the model produced only silence');
    }
  }
}
