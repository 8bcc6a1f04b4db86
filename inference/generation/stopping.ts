/**
 * Stopping criteria for the decode loop. Each looks at the codes generated so far (not
 * the dummy prefix) and says why generation should end, or null to go on.
 */

export type StopReason = 'stop_token' | 'max_new_tokens' | 'repeat_run' | 'too_long_for_text';
export type StoppingCriterion = (generated: readonly number[]) => StopReason | null;

/** HF eos: the last code is the stop token (1025); it is kept in the output, as in HF. */
export function stopToken(token: number): StoppingCriterion {
  return (generated) => (generated.at(-1) === token ? 'stop_token' : null);
}

/** HF max_length: prefix + start + `max` new codes at most (602 for XTTS-v2). */
export function maxNewTokens(max: number): StoppingCriterion {
  return (generated) => (generated.length >= max ? 'max_new_tokens' : null);
}

/**
 * Babble guard, part one: a code repeated `run` times in a row is the model stuck on one
 * sound (silence or a drone) rather than speech.
 */
export function repeatRun(run: number): StoppingCriterion {
  return (generated) => {
    if (generated.length < run) return null;
    const last = generated.at(-1);
    for (let i = generated.length - run; i < generated.length; i++) if (generated[i] !== last) return null;
    return 'repeat_run';
  };
}

/**
 * Babble guard, part two: far more audio than the text can need. ~21.5 codes are one
 * second; a text token is rarely more than half a second of speech.
 */
export function tooLongForText(textTokens: number, maxCodesPerTextToken: number): StoppingCriterion {
  const limit = Math.ceil(textTokens * maxCodesPerTextToken);
  return (generated) => (generated.length >= limit ? 'too_long_for_text' : null);
}

export function firstStop(criteria: readonly StoppingCriterion[], generated: readonly number[]): StopReason | null {
  for (const c of criteria) {
    const reason = c(generated);
    if (reason) return reason;
  }
  return null;
}
