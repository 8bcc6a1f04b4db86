/**
 * Stimulus sets that imitate broken checkpoints, from espeak-ng speech of known text (and sox
 * for the edits), for the pre-screen's bench and tests. No model weights are needed.
 *
 * - the speaker's "real recordings": espeak-ng en-us at 165 words a minute;
 * - `base` and `clean`: the same voice at 155 and 175 words a minute, slightly different pitch;
 * - `cut`: the clean rendering stopped 40 % into its final word;
 * - `babble`: 1.5 s of time-reversed speech appended (speech-like, no words);
 * - `noise`: 1.5 s of white noise appended;
 * - `other_speaker`: a different voice (espeak-ng's female variant f4, higher pitch);
 * - `slow`: the clean rendering at half tempo (sox tempo 0.5);
 * - `silence`: digital silence as long as the clean rendering.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { PrescreenItem } from './run.ts';

export const PLANTED_SETS = ['clean', 'cut', 'babble', 'noise', 'other_speaker', 'slow', 'silence'] as const;
export type PlantedSet = (typeof PLANTED_SETS)[number];

/** The reason each planted set must be flagged for (clean: none). */
export const EXPECTED_REASON: Record<PlantedSet, string | null> = {
  clean: null,
  cut: 'missing_final',
  babble: 'end_fault',
  noise: 'end_fault',
  other_speaker: 'speaker',
  slow: 'too_long',
  silence: 'silent',
};

/** Twenty held-out-style sentences, with the hard cases: very short, long, ending in ?" and !". */
export const BENCH_SENTENCES = [
  'Yes.',
  'Go on!',
  'The garden was quiet after the rain had stopped.',
  'She opened the window and listened to the birds outside.',
  '"Are you coming with us tomorrow?"',
  '"Stop right there!"',
  'Our train leaves the station at seven in the morning.',
  'He wrote a long letter to his brother, but never sent it.',
  'Nobody knew where the old map had come from.',
  'The children laughed as the kite rose above the hill.',
  'Please turn off the lights when you leave the room.',
  'A cold wind blew across the empty field all night long, and the farmer stayed inside by the fire.',
  'Where did you put the keys?',
  'The library closes early on Sundays.',
  'I think we should wait until the storm has passed.',
  'Her voice was calm, yet everyone in the hall could hear every word she said.',
  'Thank you.',
  'The river rose quickly during the spring flood.',
  'Can you hear the music from the next street?',
  'We painted the fence green last summer.',
];

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });

function espeak(out: string, text: string, voice: string, speed: number, pitch: number) {
  sh('espeak-ng', ['-v', voice, '-s', String(speed), '-p', String(pitch), '-w', out, text]);
}

const duration = (path: string) => Number(sh('soxi', ['-D', path]).toString().trim());

/** The last word's text: what is dropped to find where the final word starts. */
function withoutLastWord(text: string): string {
  const words = text.trim().split(/\s+/);
  return words.slice(0, -1).join(' ');
}

/**
 * Writes the references and the chosen sets under `dir`; returns the scorer's inputs. Each set
 * (and `base`) is one group of items, one rendering per sentence.
 */
export function makePlantedSets(
  dir: string,
  sentences: readonly string[] = BENCH_SENTENCES,
  sets: readonly PlantedSet[] = PLANTED_SETS,
): { references: { path: string; text: string }[]; items: PrescreenItem[] } {
  const references: { path: string; text: string }[] = [];
  const items: PrescreenItem[] = [];
  const noise = join(dir, 'noise.wav');
  sh('sox', ['-n', '-r', '22050', '-c', '1', '-b', '16', noise, 'synth', '1.5', 'whitenoise', 'vol', '0.2']);
  for (const [i, text] of sentences.entries()) {
    const p = (name: string) => join(dir, `${name}-${i}.wav`);
    espeak(p('real'), text, 'en-us', 165, 50);
    references.push({ path: p('real'), text });
    espeak(p('base'), text, 'en-us', 155, 46);
    items.push({ group: 'base', sentence: i, text, path: p('base') });
    espeak(p('clean'), text, 'en-us', 175, 54);
    for (const set of sets) {
      const out = p(set);
      if (set === 'clean') {
        items.push({ group: set, sentence: i, text, path: p('clean') });
        continue;
      }
      if (set === 'cut') {
        const head = withoutLastWord(text);
        const full = duration(p('clean'));
        let at = full * 0.4;
        if (head) {
          espeak(p('head'), head, 'en-us', 175, 54);
          // espeak-ng ends every utterance with ~0.2 s of release; the final word starts before that.
          const start = Math.max(0, duration(p('head')) - 0.25);
          at = start + 0.4 * Math.max(0.1, full - 0.25 - start);
        }
        sh('sox', [p('clean'), out, 'trim', '0', at.toFixed(3)]);
      } else if (set === 'babble') {
        const other = sentences[(i + 7) % sentences.length] as string;
        espeak(p('other'), other, 'en-us', 175, 54);
        sh('sox', [p('other'), p('rev'), 'reverse', 'trim', '0', '1.5']);
        sh('sox', [p('clean'), p('rev'), out]);
      } else if (set === 'noise') {
        sh('sox', [p('clean'), noise, out]);
      } else if (set === 'other_speaker') {
        espeak(out, text, 'en-us+f4', 175, 70);
      } else if (set === 'slow') {
        sh('sox', [p('clean'), out, 'tempo', '0.5']);
      } else if (set === 'silence') {
        sh('sox', [p('clean'), out, 'vol', '0']);
      }
      items.push({ group: set, sentence: i, text, path: out });
    }
  }
  return { references, items };
}
