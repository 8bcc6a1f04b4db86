/**
 * Every limit on what a client may send, in one place: the request schemas, the pages, the
 * engine and the error messages all read these values, so the same request meets the same
 * limit (and the same error code) wherever it is checked. Byte limits on uploads are settings
 * (MAX_UPLOAD_BYTES, MAX_DATASET_UPLOAD_BYTES in config.ts) whose defaults are here.
 */
export const limits = {
  text: {
    /** Characters of one synthesis request; longer is TEXT_TOO_LONG before any work. */
    maxChars: 10_000,
  },
  upload: {
    /** Default of MAX_UPLOAD_BYTES: one multipart request with voice clips or a listening-test recording. */
    maxBytes: 512 * 1024 * 1024,
    /** Default of MAX_DATASET_UPLOAD_BYTES: long recordings or an LJSpeech archive. */
    maxDatasetBytes: 8 * 1024 * 1024 * 1024,
    /** Reference clips of one voice. */
    maxVoiceClips: 10,
  },
  audio: {
    /** Sample rates a header may claim (telephone speech up to studio masters). */
    minSampleRate: 4000,
    maxSampleRate: 192_000,
    /** Channels a header may claim. */
    maxChannels: 8,
    /** Integer PCM bit depths (float WAV: 32 or 64). */
    pcmBits: [8, 16, 24, 32] as readonly number[],
    /** Chunks a WAV file may have before its audio (a real one has a handful). */
    maxWavChunks: 64,
    /**
     * Audio examined of one uploaded clip: a longer clip is read this far and no further, so
     * the work and memory of one upload stay bounded whatever its size (decoding a compressed
     * clip is most of a voice upload's work: 120 s of Opus took 1 s on a 2-core machine at load 19).
     */
    maxAnalysisSeconds: 60,
    /** Samples (at the file's rate, one channel) decoded at most, whatever the rate. */
    maxAnalysisSamples: 120 * 48_000,
    /** A listening test's real recording of one sentence. */
    maxRecordingSeconds: 60,
    /** A voice reference keeps at most this much speech (the model's max_ref_len). */
    referenceSeconds: 30,
    /** Shortest reference: the model skips conditioning chunks shorter than 0.33 s. */
    minReferenceSeconds: 0.33,
    /** Speech a reference must contain, in seconds of speech-like frames. */
    minSpeechSeconds: 0.3,
    /** Time one clip's decoding and checks may take: a fixed part plus one per MB of file. */
    decodeBaseMs: 5_000,
    decodeMsPerMb: 50,
    /** Heap of a decoding worker; decoded audio is bounded by maxAnalysisSamples above. */
    decodeHeapMb: 96,
    /** Clips decoded at once; more wait in line, and past `decodeQueue` get 503. */
    decodeWorkers: 1,
    decodeQueue: 64,
  },
  synthesis: {
    /** A synthesis whose whole output peaks below this (−80 dBFS) is refused as silence. */
    silencePeak: 1e-4,
  },
  shutdown: {
    /** After SIGTERM the server exits within this, whatever is still running. */
    graceMs: 10_000,
  },
} as const;

export type Limits = typeof limits;
