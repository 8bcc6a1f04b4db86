/**
 * Receives a multipart upload of audio files straight to a folder on disk with busboy, so
 * memory stays flat whatever the size and the number of uploads at once (the voice clips of
 * POST /v1/voices, a listening test's real recording). Text fields are collected; files are
 * written as they arrive, each checked by its first bytes before anything is stored. The
 * whole body is counted against `maxBytes` while it arrives. On any failure the folder is
 * removed; the rest of the body is read and dropped, so the client still gets its answer.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { ApiError } from '../errors.ts';
import { uploadByteLimit } from '../middleware/body-limit.ts';

export type ReceivedFile = { field: string; index: number; filename: string; path: string; bytes: number };

export type ReceivedUpload = {
  dir: string;
  fields: Record<string, string>;
  files: ReceivedFile[];
  /** Removes the folder and everything in it. */
  discard(): Promise<void>;
};

export type ReceiveOptions = {
  /** Folder under which this upload's own folder is made. */
  root: string;
  maxBytes: number;
  /** File field names accepted, and how many files each may carry. */
  fileFields: Record<string, number>;
  textFields: readonly string[];
};

const invalid = (field: string, message: string) =>
  new ApiError('VALIDATION_FAILED', `${field}: ${message}`, { field });

export async function receiveUpload(request: Request, options: ReceiveOptions): Promise<ReceivedUpload> {
  const type = request.headers.get('content-type') ?? '';
  if (!type.toLowerCase().startsWith('multipart/form-data') || !request.body) {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Send the files as multipart/form-data', { field: 'body' });
  }
  const dir = join(options.root, `.incoming-${randomUUID()}`);
  await mkdir(dir, { recursive: true });
  const discard = () => rm(dir, { recursive: true, force: true });
  const fields: Record<string, string> = {};
  const files: ReceivedFile[] = [];
  const counts: Record<string, number> = {};
  const tasks: Promise<unknown>[] = [];
  let failure: unknown;

  let bb: busboy.Busboy;
  try {
    bb = busboy({
      headers: { 'content-type': type },
      limits: { fieldSize: 64 * 1024, fields: 50, files: 50, parts: 100 },
    });
  } catch {
    await discard();
    throw invalid('body', 'a multipart/form-data body with a boundary');
  }
  const fail = (err: unknown) => {
    failure ??= err;
  };
  const counter = uploadByteLimit(options.maxBytes, fail);

  bb.on('field', (name, value, info) => {
    if (failure) return;
    if (info.valueTruncated) return fail(invalid(`body.${name}`, 'longer than 64 KiB'));
    if (options.textFields.includes(name)) fields[name] = value;
    else if (name in options.fileFields) fail(invalid(`body.${name}`, 'expected a file'));
    else fail(invalid(`body.${name}`, 'unknown field'));
  });
  bb.on('file', (name, stream, info) => {
    stream.on('error', () => {});
    if (failure) {
      stream.resume();
      return;
    }
    if (!(name in options.fileFields)) {
      stream.resume();
      return fail(invalid(`body.${name}`, 'unknown field'));
    }
    const index = counts[name] ?? 0;
    counts[name] = index + 1;
    const limit = options.fileFields[name] as number;
    if (index >= limit) {
      stream.resume();
      return fail(invalid(`body.${name}`, `at most ${limit} file${limit === 1 ? '' : 's'}`));
    }
    const file: ReceivedFile = {
      field: name,
      index,
      filename: info.filename || 'unnamed',
      path: join(dir, `${name}-${index}`),
      bytes: 0,
    };
    files.push(file);
    const sizer = new Transform({
      transform(chunk: Buffer, _enc, done) {
        file.bytes += chunk.length;
        done(null, chunk);
      },
    });
    tasks.push(
      pipeline(stream, sizer, createWriteStream(file.path)).catch((err) => {
        stream.resume();
        fail(err);
      }),
    );
  });
  for (const limit of ['partsLimit', 'filesLimit', 'fieldsLimit'] as const) {
    bb.on(limit, () => fail(invalid('body', `too many parts (${limit.replace('Limit', '')})`)));
  }

  try {
    await pipeline(Readable.fromWeb(request.body as never), counter, bb).catch(fail);
    await Promise.allSettled(tasks);
    if (failure) throw failure;
    return { dir, fields, files, discard };
  } catch (err) {
    await discard();
    throw toUploadError(err);
  }
}

function toUploadError(err: unknown): unknown {
  if (err instanceof ApiError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC') return new ApiError('DISK_FULL', 'No space left to store the upload');
  // busboy's own complaints (a cut-off body, a broken boundary) and a client that went away are the client's.
  if (
    err instanceof Error &&
    (/^(Unexpected end of form|Malformed|Part terminated)/i.test(err.message) ||
      code === 'ECONNRESET' ||
      err.name === 'AbortError')
  ) {
    return new ApiError('VALIDATION_FAILED', `body: ${err.message}`, { field: 'body' });
  }
  return err;
}
