import { type AudioChunk, EngineError, engineErrorCodes, type VoiceConditioning } from '../engine/types.ts';

/**
 * The wire between the API and an inference pod. Audio travels as frames so the receiver can
 * tell a finished stream from a cut one: a pod that dies mid-stream leaves no `final` frame.
 *
 * Frame: u32 LE payload length (bytes after these 16), u32 sample rate, u32 chunk index,
 * u32 flags, then the payload. Flags: bit 0, the chunk is final; bit 1, end of stream (no
 * payload); bit 2, heartbeat (no payload); bit 3, an error (payload: UTF-8 JSON `ErrorJson`).
 * Audio frames carry float32 LE samples. The pod writes the end-of-stream frame itself once
 * the engine is done, and an error frame instead when the engine fails.
 *
 * Heartbeats: a pod answers as soon as it admits a request and sends a heartbeat whenever it
 * has had nothing else to send for a while (waiting in its queue, or a slow device between
 * two chunks). The pool's time-out therefore measures whether the pod is alive and sending,
 * never how fast the device is: a running stream is not cut because the GPU is busy.
 */
const HEADER = 16;
const FINAL = 1;
const END = 2;
const HEARTBEAT = 4;
const ERROR = 8;

export function encodeFrame(chunk: AudioChunk): Uint8Array {
  const payload = chunk.samples.byteLength;
  const out = new Uint8Array(HEADER + payload);
  const v = new DataView(out.buffer);
  v.setUint32(0, payload, true);
  v.setUint32(4, chunk.sampleRate, true);
  v.setUint32(8, chunk.index, true);
  v.setUint32(12, chunk.final ? FINAL : 0, true);
  out.set(new Uint8Array(chunk.samples.buffer, chunk.samples.byteOffset, payload), HEADER);
  return out;
}

function flagFrame(flags: number, payload = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(HEADER + payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, payload.length, true);
  v.setUint32(12, flags, true);
  out.set(payload, HEADER);
  return out;
}

export const endFrame = (): Uint8Array => flagFrame(END);

export const heartbeatFrame = (): Uint8Array => flagFrame(HEARTBEAT);

/** An engine error as a frame: the stream ends with it instead of the end-of-stream frame. */
export function errorFrame(err: EngineError): Uint8Array {
  const body: ErrorJson = { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) };
  return flagFrame(ERROR, new TextEncoder().encode(JSON.stringify(body)));
}

/** Splits a byte stream into frames, whatever the network's chunk boundaries. */
export class FrameReader {
  private buf = new Uint8Array(0);
  /** Whether the end-of-stream frame arrived: a stream that stops without it was cut. */
  ended = false;
  /** The error the pod reported in an error frame; nothing after it is read. */
  error: EngineError | undefined;

  push(bytes: Uint8Array): AudioChunk[] {
    const joined = new Uint8Array(this.buf.length + bytes.length);
    joined.set(this.buf);
    joined.set(bytes, this.buf.length);
    const out: AudioChunk[] = [];
    let at = 0;
    while (joined.length - at >= HEADER && !this.error) {
      const v = new DataView(joined.buffer, at, HEADER);
      const payload = v.getUint32(0, true);
      const flags = v.getUint32(12, true);
      const audio = (flags & (END | HEARTBEAT | ERROR)) === 0;
      if (audio && payload % 4 !== 0)
        throw new EngineError('ENGINE_FAILED', 'inference pod sent a malformed audio frame');
      if (joined.length - at < HEADER + payload) break;
      if (flags & ERROR) {
        let body: unknown;
        try {
          body = JSON.parse(new TextDecoder().decode(joined.subarray(at + HEADER, at + HEADER + payload)));
        } catch {
          body = undefined;
        }
        this.error = errorFromJson(500, body);
      } else if (flags & END) {
        this.ended = true;
      } else if (flags & HEARTBEAT) {
        // Only keeps the connection's idle time-out from firing.
      } else {
        const samples = new Float32Array(joined.slice(at + HEADER, at + HEADER + payload).buffer);
        out.push({
          samples,
          sampleRate: v.getUint32(4, true),
          index: v.getUint32(8, true),
          final: (flags & FINAL) === FINAL,
        });
      }
      at += HEADER + payload;
    }
    this.buf = joined.slice(at);
    return out;
  }

  get pending(): number {
    return this.buf.length;
  }
}

export type VoiceJson = {
  package_key: string;
  gpt_cond_latent: string;
  gpt_cond_shape: number[];
  speaker_embedding: string;
  speaker_shape: number[];
};

const b64 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const floats = (s: string) => {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

export function voiceToJson(v: VoiceConditioning): VoiceJson {
  return {
    package_key: v.packageKey,
    gpt_cond_latent: b64(v.gptCondLatent),
    gpt_cond_shape: v.gptCondShape,
    speaker_embedding: b64(v.speakerEmbedding),
    speaker_shape: v.speakerShape,
  };
}

export function voiceFromJson(j: VoiceJson): VoiceConditioning {
  return {
    packageKey: j.package_key,
    gptCondLatent: floats(j.gpt_cond_latent),
    gptCondShape: j.gpt_cond_shape,
    speakerEmbedding: floats(j.speaker_embedding),
    speakerShape: j.speaker_shape,
  };
}

export type ErrorJson = { code: string; message: string; field?: string };

/** An error a pod answered with, as the engine error it was on the pod. */
export function errorFromJson(status: number, body: unknown): EngineError {
  const e = (body ?? {}) as Partial<ErrorJson>;
  const code = engineErrorCodes.find((c) => c === e.code) ?? (status === 503 ? 'ENGINE_OVERLOADED' : 'ENGINE_FAILED');
  return new EngineError(code, e.message ?? `inference pod answered ${status}`, e.field);
}
