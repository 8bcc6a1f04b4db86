/**
 * Receives a dataset upload: multipart/form-data streamed straight to storage with busboy, so a
 * four-hour recording (or an 8 GB LJSpeech archive) keeps memory flat. Each file's first bytes
 * are sniffed before anything is stored, and the whole body is counted against the dataset
 * limit while it arrives. On any failure every file of the request is removed: the caller gets
 * either all the recordings stored or an error and nothing.
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { AudioInputError, probeAudio } from '../../inference/index.ts';
import { type Storage, StorageError } from '../../infra/index.ts';
import { audioErrorCode } from '../../voices/index.ts';
import { ApiError } from '../errors.ts';
import { uploadByteLimit } from '../middleware/body-limit.ts';

export type StoredFile = {
  id: string;
  name: string;
  path: string;
  bytes: number;
  sha256: string;
  transcript: string | null;
};

export type DatasetUpload = {
  id: string;
  /** The text fields (name, language, chunker, options), not yet validated as a whole. */
  fields: Record<string, string>;
  source: 'recordings' | 'ljspeech';
  files: StoredFile[];
  /** Removes every stored file of this upload (when registering it fails). */
  discard(): Promise<void>;
};

const TEXT_FIELDS = new Set(['name', 'language', 'chunker', 'options']);
const MAX_TRANSCRIPT_BYTES = 5 * 1024 * 1024;
const HEAD_BYTES = 262; // enough for tar's "ustar" magic at offset 257
/** Of a recording, enough to check its headers (probe.ts) before storing anything. */
const AUDIO_HEAD_BYTES = 64 * 1024;

const ascii = (b: Buffer, at: number, s: string) => b.subarray(at, at + s.length).toString('latin1') === s;

/** The audio container the first bytes announce, if one the builder decodes. */
export function audioKind(h: Buffer): string | undefined {
  if ((ascii(h, 0, 'RIFF') || ascii(h, 0, 'RF64')) && ascii(h, 8, 'WAVE')) return 'wav';
  if (ascii(h, 0, 'fLaC')) return 'flac';
  if (ascii(h, 0, 'OggS')) return 'ogg';
  if (ascii(h, 4, 'ftyp')) return 'm4a';
  if (ascii(h, 0, 'ID3') || ascii(h, 0, 'ADIF')) return 'mp3';
  // An MPEG audio frame (mp3) or an ADTS frame (aac) starts with 11 set sync bits.
  if (h.length >= 2 && h[0] === 0xff && ((h[1] ?? 0) & 0xe0) === 0xe0) return 'mpeg';
  return undefined;
}

export function archiveKind(h: Buffer): 'zip' | 'tar' | 'tar.gz' | undefined {
  if (ascii(h, 0, 'PK\x03\x04')) return 'zip';
  if (h[0] === 0x1f && h[1] === 0x8b) return 'tar.gz';
  if (ascii(h, 257, 'ustar')) return 'tar';
  return undefined;
}

/** A file name safe inside a storage key; the original name is kept in the row. */
export const safeName = (name: string) =>
  (name.split(/[\\/]/).pop() ?? '')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^\.+/, '')
    .slice(-100) || 'file';

/** Reads the first `n` bytes and gives back a stream that replays them followed by the rest. */
async function peek(
  stream: Readable,
  n: number,
): Promise<{ head: Buffer; body: Readable; ended: boolean; drain: () => Promise<void> }> {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < n) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    chunks.push(r.value);
    length += r.value.length;
  }
  const head = Buffer.concat(chunks);
  async function* replay() {
    if (head.length) yield head;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  // Reads and drops what is left of the part: busboy waits for each file stream to be read to
  // its end before it parses the rest of the body, so a part nobody reads stalls the request.
  const drain = async () => {
    if (ended) return;
    for (;;) {
      const r = await it.next().catch(() => ({ done: true as const, value: undefined }));
      if (r.done) return;
    }
  };
  return { head, body: Readable.from(replay()), ended, drain };
}

async function readText(stream: Readable, field: string): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > MAX_TRANSCRIPT_BYTES) {
      throw new ApiError('PAYLOAD_TOO_LARGE', `${field}: a transcript is limited to ${MAX_TRANSCRIPT_BYTES} bytes`, {
        field,
      });
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The recording's headers against the sane ranges (sample rate, channels, bit depth, claimed
 * sizes), from its first bytes: a forged header is refused now, not when a build decodes it.
 */
function checkAudioHead(head: Buffer, ended: boolean, field: string, filename: string): void {
  const bytes = new Uint8Array(head.buffer, head.byteOffset, head.byteLength);
  try {
    probeAudio(
      {
        size: ended ? bytes.length : Number.POSITIVE_INFINITY,
        read: (offset, length) => bytes.subarray(offset, Math.min(bytes.length, offset + length)),
      },
      ['wav', 'flac', 'ogg', 'mp3', 'aac', 'm4a'],
    );
  } catch (err) {
    if (!(err instanceof AudioInputError)) throw err;
    throw new ApiError(audioErrorCode(err), `${field}: "${filename}": ${err.message}`, { field });
  }
}

const invalid = (field: string, message: string) =>
  new ApiError('VALIDATION_FAILED', `${field}: ${message}`, { field });

export async function receiveDatasetUpload(
  request: Request,
  deps: { storage: Storage; maxBytes: number; checkField(name: string, value: string): void },
): Promise<DatasetUpload> {
  const type = request.headers.get('content-type') ?? '';
  if (!type.toLowerCase().startsWith('multipart/form-data') || !request.body) {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'A dataset is uploaded as multipart/form-data', { field: 'body' });
  }
  const id = randomUUID();
  const prefix = `datasets/${id}`;
  const discard = () => deps.storage.remove(prefix);
  const fields: Record<string, string> = {};
  const recordings: Array<StoredFile & { index: number }> = [];
  let archive: StoredFile | undefined;
  const ordered: string[] = [];
  const byName = new Map<string, string>();
  let recordingCount = 0;
  let archiveSeen = false;
  let failure: unknown;
  const tasks: Promise<unknown>[] = [];

  let bb: busboy.Busboy;
  try {
    bb = busboy({
      headers: { 'content-type': type },
      limits: { fieldSize: 1024 * 1024, fields: 2000, files: 1000, parts: 3000 },
    });
  } catch {
    throw new ApiError('VALIDATION_FAILED', 'body: a multipart/form-data body with a boundary', { field: 'body' });
  }
  // After a failure the rest of the body is still read (and dropped, never stored) so the
  // client, still sending, gets the answer instead of a reset connection; the byte limit
  // still ends a body that goes on for too long.
  const fail = (err: unknown) => {
    failure ??= err;
  };
  const counter = uploadByteLimit(deps.maxBytes, fail);

  const store = async (stream: Readable, field: string, filename: string, kind: 'audio' | 'archive') => {
    const { head, body, ended, drain } = await peek(stream, kind === 'audio' ? AUDIO_HEAD_BYTES : HEAD_BYTES);
    try {
      checkHead(head, ended, field, filename, kind);
    } catch (err) {
      body.resume(); // the rest of this file is read and dropped
      throw err;
    }
    const fileId = randomUUID();
    const path = `${prefix}/recordings/${fileId}-${safeName(filename)}`;
    try {
      const { bytes, sha256 } = await deps.storage.write(path, body);
      return { id: fileId, name: filename, path, bytes, sha256, transcript: null };
    } catch (err) {
      // A write that failed (a full disk) left the part half read: read the rest and drop it.
      void drain();
      throw err;
    }
  };
  const checkHead = (head: Buffer, ended: boolean, field: string, filename: string, kind: 'audio' | 'archive') => {
    if (head.length === 0) throw new ApiError('UPLOAD_EMPTY', `${field}: "${filename}" is empty`, { field });
    if (kind === 'audio' && !audioKind(head)) {
      throw new ApiError(
        'AUDIO_UNSUPPORTED',
        `${field}: "${filename}" is not audio the builder reads (wav, flac, mp3, ogg/opus, m4a/aac)`,
        { field },
      );
    }
    if (kind === 'audio') checkAudioHead(head, ended, field, filename);
    if (kind === 'archive' && !archiveKind(head)) {
      throw new ApiError('ARCHIVE_UNSUPPORTED', `${field}: "${filename}" is not a zip, tar or tar.gz archive`, {
        field,
      });
    }
  };

  bb.on('field', (name, value, info) => {
    try {
      if (info.valueTruncated) throw invalid(`body.${name}`, 'longer than 1 MiB; send long transcripts as files');
      if (TEXT_FIELDS.has(name)) {
        deps.checkField(name, value);
        fields[name] = value;
      } else if (name === 'transcripts') ordered.push(value);
      else if (name.startsWith('transcript:')) byName.set(name.slice('transcript:'.length), value);
      else if (name === 'recordings' || name === 'ljspeech') throw invalid(`body.${name}`, 'expected a file');
      else throw invalid(`body.${name}`, 'unknown field');
    } catch (err) {
      fail(err);
    }
  });
  bb.on('file', (name, stream, info) => {
    // Failures surface through the task or the pipeline; a stream destroyed on the way must not also throw.
    stream.on('error', () => {});
    if (failure) {
      stream.resume();
      return;
    }
    const filename = info.filename || 'unnamed';
    let task: Promise<unknown>;
    if (name === 'recordings') {
      const index = recordingCount++;
      task = store(stream, `body.recordings.${index}`, filename, 'audio').then((f) => recordings.push({ ...f, index }));
    } else if (name === 'ljspeech') {
      if (archiveSeen) {
        stream.resume();
        task = Promise.reject(invalid('body.ljspeech', 'one archive only'));
      } else {
        archiveSeen = true;
        task = store(stream, 'body.ljspeech', filename, 'archive').then((f) => {
          archive = f;
        });
      }
    } else if (name === 'transcripts') {
      const slot = ordered.push('') - 1;
      task = readText(stream, `body.transcripts.${slot}`).then((t) => {
        ordered[slot] = t;
      });
    } else if (name.startsWith('transcript:')) {
      task = readText(stream, `body.${name}`).then((t) => byName.set(name.slice('transcript:'.length), t));
    } else {
      stream.resume();
      task = Promise.reject(invalid(`body.${name}`, 'unknown field'));
    }
    tasks.push(task.catch(fail));
  });
  for (const limit of ['partsLimit', 'filesLimit', 'fieldsLimit'] as const) {
    bb.on(limit, () => fail(invalid('body', `too many parts (${limit.replace('Limit', '')})`)));
  }

  try {
    await pipeline(Readable.fromWeb(request.body as never), counter, bb).catch((err) => {
      failure ??= err;
    });
    await Promise.allSettled(tasks);
    if (failure) throw failure;
    if (archive && recordingCount > 0) {
      throw invalid('body.ljspeech', 'send either recordings or one ljspeech archive, not both');
    }
    if (!archive && recordingCount === 0) {
      throw invalid('body.recordings', 'at least one recording file (or an ljspeech archive)');
    }
    if (archive && (ordered.length || byName.size)) {
      throw invalid('body.transcripts', 'an LJSpeech archive carries its own metadata.csv');
    }
    if (ordered.length && ordered.length !== recordingCount) {
      throw invalid('body.transcripts', `${ordered.length} transcripts for ${recordingCount} recordings`);
    }
    recordings.sort((a, b) => a.index - b.index);
    for (const name of byName.keys()) {
      if (!recordings.some((r) => r.name === name))
        throw invalid(`body.transcript:${name}`, 'no recording of that name');
    }
    const files = recordings.map(({ index, ...r }) => {
      const text = (byName.get(r.name) ?? ordered[index] ?? '').trim();
      return { ...r, transcript: text || null };
    });
    return { id, fields, source: archive ? 'ljspeech' : 'recordings', files: archive ? [archive] : files, discard };
  } catch (err) {
    await discard();
    throw toUploadError(err);
  }
}

function toUploadError(err: unknown): unknown {
  if (err instanceof StorageError) {
    if (err.code === 'DISK_FULL') return new ApiError('DISK_FULL', 'No space left to store the upload');
    if (err.code === 'TOO_LARGE') return new ApiError('PAYLOAD_TOO_LARGE', err.message, { field: 'body' });
  }
  // busboy's own complaints (a cut-off body, a broken boundary) are the client's.
  if (err instanceof Error && !(err instanceof ApiError) && /^(Unexpected end of form|Malformed)/i.test(err.message)) {
    return new ApiError('VALIDATION_FAILED', `body: ${err.message}`, { field: 'body' });
  }
  return err;
}
