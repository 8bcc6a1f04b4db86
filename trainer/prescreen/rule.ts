/**
 * The pre-screen's rule: which checkpoints are clearly broken and stay out of the crowd test.
 * Every threshold compares a checkpoint with the better of its references (the base model and the
 * voice's current checkpoint), so a rule tuned on one model family does not shut out a whole run
 * whose base already scores poorly on some measure; two faults (silence, length) also need an
 * absolute level, because there a reference can be as bad as the checkpoint.
 */

/** A checkpoint's objective scores, as trainer/prescreen/score.py summarises them. */
export type PrescreenScores = {
  n: number;
  wer?: number;
  cer?: number;
  silent_share?: number;
  end_fault_share?: number;
  missing_final_share?: number;
  duration_ratio?: number | null;
  /** Median (first sound → last sound) / (characters ÷ the speaker's rate): needs no transcript. */
  sound_ratio?: number | null;
  speaker_sim?: number | null;
  seed_cer_spread?: number | null;
};

export type PrescreenPolicy = {
  /** Left out when its mean character error rate exceeds the references' by this much. */
  cer_margin: number;
  /** Left out when at least this share of its renderings is silent. */
  silent_share: number;
  /** Left out when its share of renderings with sound, extra or repeated words after the text exceeds the references' by this much. */
  end_fault_margin: number;
  /** Left out when its share of renderings missing the final word(s) exceeds the references' by this much. */
  missing_final_margin: number;
  /** Too long: median duration at least this many times what the speaker's rate predicts, and `relative_duration` times the references'. */
  too_long_ratio: number;
  /** Too short: median duration at most this share of the speaker's rate, and 1/`relative_duration` of the references'. */
  too_short_ratio: number;
  relative_duration: number;
  /** Left out when its speaker similarity is below the references' by more than this. */
  speaker_margin: number;
  /** Keep only this many of the survivors, by combined score (0: all). */
  top_k: number;
  /**
   * When even the best reference has a higher character error rate than this, the transcription
   * cannot hear the voice (a model with random weights, a language the Whisper model does not
   * know): every measure that needs a transcript abstains, and only what the sound alone shows is
   * judged: silence, and a length far off both the speaker's rate and the references' (first
   * sound to last, `sound_ratio`, with the same thresholds as the transcribed length).
   */
  reference_cer_max: number;
};

export const DEFAULT_PRESCREEN_POLICY: PrescreenPolicy = {
  cer_margin: 0.25,
  silent_share: 0.5,
  end_fault_margin: 0.3,
  missing_final_margin: 0.35,
  too_long_ratio: 1.6,
  too_short_ratio: 0.6,
  relative_duration: 1.3,
  speaker_margin: 0.05,
  top_k: 0,
  reference_cer_max: 0.5,
};

export type PrescreenReason =
  | 'silent'
  | 'unintelligible'
  | 'end_fault'
  | 'missing_final'
  | 'too_long'
  | 'too_short'
  | 'speaker'
  /** Set by the studio, not the rule: the engine refused the checkpoint's output (api/prescreen.ts). */
  | 'render_failed';

export type PrescreenVerdict = {
  id: string;
  excluded: boolean;
  reasons: { code: PrescreenReason | 'top_k'; message: string }[];
  /** Higher is better: 1 − CER − the fault shares − the length error − the similarity shortfall. */
  combined: number;
};

const num = (v: number | null | undefined) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const pct = (v: number) => `${Math.round(v * 100)} %`;

/** The best value of a measure over the references (lowest for errors, highest for similarity). */
function best(refs: PrescreenScores[], key: keyof PrescreenScores, lowerIsBetter: boolean): number | undefined {
  const vals = refs.map((r) => num(r[key] as number | null | undefined)).filter((v): v is number => v !== undefined);
  if (vals.length === 0) return undefined;
  return lowerIsBetter ? Math.min(...vals) : Math.max(...vals);
}

/** The references' duration ratio closest to 1 (what the speaker's rate predicts). */
function bestRatio(
  refs: PrescreenScores[],
  key: 'duration_ratio' | 'sound_ratio' = 'duration_ratio',
): number | undefined {
  const vals = refs.map((r) => num(r[key])).filter((v): v is number => v !== undefined);
  if (vals.length === 0) return undefined;
  return vals.reduce((a, b) => (Math.abs(Math.log(b)) < Math.abs(Math.log(a)) ? b : a));
}

export function combinedScore(s: PrescreenScores, refSim?: number): number {
  const ratio = num(s.duration_ratio);
  const sim = num(s.speaker_sim);
  return (
    1 -
    (num(s.cer) ?? 1) -
    (num(s.silent_share) ?? 0) -
    (num(s.end_fault_share) ?? 0) -
    (num(s.missing_final_share) ?? 0) -
    (ratio !== undefined ? Math.min(1, Math.abs(Math.log(ratio))) : 0) -
    (sim !== undefined && refSim !== undefined ? Math.max(0, refSim - sim) : 0)
  );
}

/** Too long or too short: far off the speaker's rate and, when there is one, the references' ratio. */
function lengthFaults(
  reasons: PrescreenVerdict['reasons'],
  ratio: number,
  refRatio: number | undefined,
  p: PrescreenPolicy,
  measured?: string,
) {
  const rel = refRatio !== undefined ? ratio / refRatio : 1;
  const message = `${ratio.toFixed(2)}× the speaker's duration for the text${measured ? `, ${measured}` : ''} (references ${refRatio?.toFixed(2) ?? '–'}×)`;
  if (ratio >= p.too_long_ratio && rel >= p.relative_duration) reasons.push({ code: 'too_long', message });
  if (ratio <= p.too_short_ratio && rel <= 1 / p.relative_duration) reasons.push({ code: 'too_short', message });
}

/**
 * Judges each candidate against the references. References themselves are never left out:
 * they are the anchors the crowd compares against.
 */
export function judgeCheckpoints(
  candidates: { id: string; scores: PrescreenScores }[],
  references: PrescreenScores[],
  policy: Partial<PrescreenPolicy> = {},
): PrescreenVerdict[] {
  const p = { ...DEFAULT_PRESCREEN_POLICY, ...policy };
  const refCer = best(references, 'cer', true) ?? 1;
  const refEnd = best(references, 'end_fault_share', true) ?? 0;
  const refMissing = best(references, 'missing_final_share', true) ?? 0;
  const refRatio = bestRatio(references);
  const refSim = best(references, 'speaker_sim', false);
  // No reference at all, or none that Whisper understands: nothing to be clearly worse than.
  const relative = references.length > 0 && refCer <= p.reference_cer_max;
  const verdicts = candidates.map(({ id, scores: s }) => {
    const reasons: PrescreenVerdict['reasons'] = [];
    const silent = num(s.silent_share) ?? 0;
    if (silent >= p.silent_share)
      reasons.push({ code: 'silent', message: `${pct(silent)} of its renderings are silent` });
    if (!relative) {
      // Without a transcript the length is judged from the sound alone, and only against a
      // reference: a model whose every checkpoint runs to its length limit is not shut out.
      const ratio = num(s.sound_ratio);
      const refSound = bestRatio(references, 'sound_ratio');
      if (ratio !== undefined && refSound !== undefined)
        lengthFaults(reasons, ratio, refSound, p, 'first sound to last');
      return { id, excluded: reasons.length > 0, reasons, combined: combinedScore(s, refSim) };
    }
    const cer = num(s.cer);
    if (cer !== undefined && cer > refCer + p.cer_margin && silent < p.silent_share)
      reasons.push({
        code: 'unintelligible',
        message: `character error rate ${pct(cer)} against ${pct(refCer)} for the references`,
      });
    const end = num(s.end_fault_share) ?? 0;
    if (end > refEnd + p.end_fault_margin)
      reasons.push({
        code: 'end_fault',
        message: `${pct(end)} of its renderings go on after the text (sound, extra or repeated words), references ${pct(refEnd)}`,
      });
    const missing = num(s.missing_final_share) ?? 0;
    if (missing > refMissing + p.missing_final_margin)
      reasons.push({
        code: 'missing_final',
        message: `${pct(missing)} of its renderings lose the final word, references ${pct(refMissing)}`,
      });
    const ratio = num(s.duration_ratio);
    if (ratio !== undefined) lengthFaults(reasons, ratio, refRatio, p);
    const sim = num(s.speaker_sim);
    if (sim !== undefined && refSim !== undefined && sim < refSim - p.speaker_margin)
      reasons.push({
        code: 'speaker',
        message: `speaker similarity ${sim.toFixed(2)} against ${refSim.toFixed(2)} for the references`,
      });
    return { id, excluded: reasons.length > 0, reasons, combined: combinedScore(s, refSim) };
  });
  if (p.top_k > 0) {
    const kept = verdicts.filter((v) => !v.excluded).sort((a, b) => b.combined - a.combined);
    for (const v of kept.slice(p.top_k)) {
      v.excluded = true;
      v.reasons.push({ code: 'top_k', message: `not among the ${p.top_k} best by combined score` });
    }
  }
  return verdicts;
}
