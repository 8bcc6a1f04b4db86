// A synthetic speaker for the dataset tests and benchmark: espeak-ng speaks known sentences one
// word at a time, so every word's start and end in the recording is known to the sample, and
// faults (clipping, a long silence, a noise burst, a wrong transcript) are planted at known times.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RATE = 22050;

export const SENTENCES = [
  'The old lighthouse stood at the edge of the cliff for more than a century.',
  'Every night its beam swept across the dark water, warning ships away from the rocks.',
  'The keeper climbed the spiral stairs each evening to light the great lamp.',
  'In winter the storms were so fierce that the whole tower seemed to tremble.',
  'Yet the light never failed, not even once in all those years.',
  'Children from the village would sometimes visit and listen to his stories.',
  'He told them about shipwrecks, strange fish, and a sailor who sang at dawn.',
  'One morning a small boat drifted into the harbour with nobody on board.',
  'The fishermen pulled it onto the beach and searched it carefully.',
  'They found a wooden box, a map, and a letter sealed with red wax.',
  'Nobody in the village could read the language of the letter.',
  'The teacher suggested that they send it to a museum in the city.',
  'Two weeks later a professor arrived on the afternoon train.',
  'She studied the letter for a long time before she said a word.',
  'It was written by a captain who had lost his ship in a storm.',
  'He asked whoever found it to tell his family that he was safe.',
  'The professor spent the whole summer looking for his descendants.',
  'At last she found a woman who ran a bakery near the river.',
  'The woman cried when she heard the story of her great grandfather.',
  'She kept the letter in a frame above the counter of her shop.',
  'Visitors came from far away to see it and to buy her bread.',
  'The bakery became famous for a cake shaped like a lighthouse.',
  'Every year the village held a festival to remember the captain.',
  'People lit candles along the harbour wall when the sun went down.',
  'Musicians played old songs about the sea until late at night.',
  'The keeper grew old, and his daughter took over his work.',
  'She painted the tower white and planted flowers around its base.',
  'Ships no longer needed the lamp, because they had radios and maps.',
  'But the village decided to keep the light burning all the same.',
  'It reminded them that someone was always watching over the water.',
  'Tourists climbed the stairs in summer to enjoy the wide view.',
  'On clear days they could see the mountains on the other side.',
  'The museum later built a small room to display the wooden box.',
  'And the story of the lost captain is still told to this day.',
];

// Said instead of sentence WRONG_SENTENCE in the second recording's user transcript.
export const WRONG_TEXT = 'A green umbrella was forgotten beside the railway station bench yesterday.';
export const WRONG_SENTENCE = 6; // index within the second recording

export interface Word {
  text: string;
  start: number;
  end: number;
}
export interface Fault {
  kind: 'CLIPPING' | 'LONG_SILENCE' | 'NON_SPEECH' | 'TRANSCRIPT_MISMATCH';
  start: number;
  end: number;
}
export interface Recording {
  id: string;
  path: string;
  words: Word[];
  transcript: string | null;
  faults: Fault[];
  seconds: number;
}

// espeak-ng's output for a word is the same on every call with the same espeak-ng and data, and a
// call costs a process start (about 20 ms of CPU; a recording speaks hundreds of words, many of
// them more than once). So each word's output is kept, in this process and on disk under
// node_modules/.cache/espeak-words/<key of espeak-ng's version and data path>/, where other test
// files and later runs find it.
const cacheRoot = join(import.meta.dirname, '..', '..', 'node_modules', '.cache', 'espeak-words');
const spoken = new Map<string, Buffer>();
let cacheDir: string | undefined;

function espeakOutput(token: string): Buffer {
  const known = spoken.get(token);
  if (known) return known;
  if (cacheDir === undefined) {
    const v = spawnSync('espeak-ng', ['--version'], { encoding: 'utf8' });
    if (v.status !== 0) throw new Error(`espeak-ng failed: ${v.stderr}`);
    cacheDir = join(cacheRoot, createHash('sha256').update(v.stdout).digest('hex').slice(0, 16));
    mkdirSync(cacheDir, { recursive: true });
  }
  const file = join(cacheDir, `${createHash('sha256').update(token).digest('hex').slice(0, 32)}.wav`);
  let b: Buffer;
  if (existsSync(file)) b = readFileSync(file);
  else {
    const r = spawnSync('espeak-ng', ['--stdout', token], { maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`espeak-ng failed: ${r.stderr}`);
    b = r.stdout;
    // Written whole, then renamed: a test file reading alongside never sees half of it.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, b);
    renameSync(tmp, file);
  }
  spoken.set(token, b);
  return b;
}

function speak(token: string): Int16Array {
  const b = espeakOutput(token);
  const data = b.indexOf('data');
  if (b.readUInt32LE(24) !== RATE || data < 0) throw new Error('unexpected espeak-ng output');
  const pcm = new Int16Array(
    b.buffer.slice(b.byteOffset + data + 8, b.byteOffset + b.length - ((b.length - data - 8) % 2)),
  );
  // The word is where the samples are not silent; espeak-ng's own lead-in and tail are dropped.
  let a = 0;
  let z = pcm.length;
  while (a < z && Math.abs(pcm[a]!) <= 64) a++;
  while (z > a && Math.abs(pcm[z - 1]!) <= 64) z--;
  return pcm.slice(a, z);
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function wavBytes(pcm: Int16Array, rate = RATE, channels = 1): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + pcm.byteLength, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(pcm.byteLength, 40);
  return Buffer.concat([h, Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength)]);
}

interface Plan {
  clipSentence?: number;
  silenceSentence?: number;
  noiseSentence?: number;
  gain?: number;
}

function render(sentences: string[], seed: number, plan: Plan) {
  const rand = rng(seed);
  const pieces: Int16Array[] = [];
  const words: Word[] = [];
  const faults: Fault[] = [];
  const sentenceSpans: [number, number][] = [];
  let t = Math.round(0.5 * RATE);
  pieces.push(new Int16Array(t));
  sentences.forEach((sentence, si) => {
    const tokens = sentence.split(' ');
    const first = t;
    tokens.forEach((token, wi) => {
      const pcm = speak(token);
      pieces.push(pcm);
      words.push({ text: token, start: t / RATE, end: (t + pcm.length) / RATE });
      t += pcm.length;
      let gap = wi === tokens.length - 1 ? 0.6 + 0.3 * rand() : 0.12 + 0.08 * rand();
      if (si === plan.silenceSentence && wi === Math.floor(tokens.length / 2)) {
        gap = 3.0;
        faults.push({ kind: 'LONG_SILENCE', start: t / RATE, end: (t + gap * RATE) / RATE });
      }
      const n = Math.round(gap * RATE);
      pieces.push(new Int16Array(n));
      t += n;
    });
    sentenceSpans.push([first, t]);
  });
  pieces.push(new Int16Array(Math.round(0.5 * RATE)));
  const out = new Int16Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  if (plan.clipSentence !== undefined) {
    const [a, z] = sentenceSpans[plan.clipSentence]!;
    for (let i = a; i < z; i++) out[i] = Math.max(-32768, Math.min(32767, out[i]! * 6));
    faults.push({ kind: 'CLIPPING', start: a / RATE, end: z / RATE });
  }
  if (plan.noiseSentence !== undefined) {
    const w = words.filter((x) => x.start * RATE >= sentenceSpans[plan.noiseSentence!]![0])[2]!;
    const a = Math.round(w.start * RATE);
    const z = a + RATE;
    for (let i = a; i < z; i++) {
      const g = Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
      out[i] = Math.max(-32768, Math.min(32767, Math.round(out[i]! + g * 0.2 * 32767)));
    }
    faults.push({ kind: 'NON_SPEECH', start: a / RATE, end: z / RATE });
  }
  if (plan.gain !== undefined) for (let i = 0; i < out.length; i++) out[i] = Math.round(out[i]! * plan.gain);
  return { pcm: out, words, faults, sentenceSpans };
}

/** Two recordings: r1, a mono 22.05 kHz WAV with clipping, a long silence and noise planted;
 * r2, quieter, a 44.1 kHz stereo FLAC (converted by sox) whose user transcript has one wrong sentence. */
export function makeRecordings(dir: string, count = SENTENCES.length): Recording[] {
  const half = Math.floor(count / 2);
  const s1 = SENTENCES.slice(0, half);
  const s2 = SENTENCES.slice(half, count);
  const r1 = render(s1, 1, { clipSentence: 3, silenceSentence: 8, noiseSentence: 13 });
  const p1 = join(dir, 'chapter1.wav');
  writeFileSync(p1, wavBytes(r1.pcm));
  const r2 = render(s2, 2, { gain: 0.25 });
  const raw = join(dir, 'chapter2-raw.wav');
  const p2 = join(dir, 'chapter2.flac');
  writeFileSync(raw, wavBytes(r2.pcm));
  const sx = spawnSync('sox', ['-D', raw, '-r', '44100', '-c', '2', p2]);
  if (sx.status !== 0) throw new Error(`sox failed: ${sx.stderr}`);
  const told = s2.map((s, i) => (i === WRONG_SENTENCE ? WRONG_TEXT : s));
  const [a, z] = r2.sentenceSpans[WRONG_SENTENCE]!;
  return [
    { id: 'r1', path: p1, words: r1.words, transcript: null, faults: r1.faults, seconds: r1.pcm.length / RATE },
    {
      id: 'r2',
      path: p2,
      words: r2.words,
      transcript: told.join(' '),
      faults: [{ kind: 'TRANSCRIPT_MISMATCH', start: a / RATE, end: z / RATE }],
      seconds: r2.pcm.length / RATE,
    },
  ];
}
