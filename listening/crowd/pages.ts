/**
 * The rater's pages. Nothing on them names a checkpoint: clips are fetched by opaque trial id,
 * and the page knows only which slots to play and what to ask.
 */
import { html, raw } from 'hono/html';
import { HEADPHONE_QUESTIONS, HEADPHONE_TONES } from '../service/audio.ts';
import type { TrialView } from '../service/sessions.ts';
import { layout } from './layout.ts';
import { playerScript } from './player.ts';

/** ITU-T P.800 Absolute Category Rating labels. */
export const ACR_LABELS = ['Bad', 'Poor', 'Fair', 'Good', 'Excellent'] as const;
export const SIMILARITY_LABELS = [
  'Not at all similar',
  'Slightly similar',
  'Moderately similar',
  'Very similar',
  'Extremely similar',
] as const;

export function instructionsPage(input: {
  name: string;
  action: string;
  workerId: string | undefined;
  kinds: string[];
}) {
  return layout(
    'Listening test: instructions',
    html`<h1>Listening test</h1>
<p>Thank you for helping. You will hear short recordings of speech and answer a question about each. It takes about 10–15 minutes.</p>
<ul>
<li><strong>Use headphones</strong> in a quiet place. A short check comes first.</li>
<li>Each clip must play to the end before you can answer. You may play a clip again.</li>
${input.kinds.some((k) => k.startsWith('ab_')) ? html`<li>Comparisons: choose the sample, <strong>A</strong> or <strong>B</strong>, that sounds more natural (or more like the reference speaker, when asked).</li>` : ''}
${input.kinds.includes('mos') ? html`<li>Ratings: judge how natural the speech sounds on the scale Excellent, Good, Fair, Poor, Bad.</li>` : ''}
${input.kinds.includes('similarity') ? html`<li>Similarity: judge how much the voice sounds like the reference speaker's voice, not what is said.</li>` : ''}
<li>Some questions check attention, and some clips tell you what to choose: please follow them.</li>
<li>At the end you get a completion code.</li>
</ul>
<h2>Consent</h2>
<p class="hint">We store your answers, how long each took, and ${input.workerId ? 'your crowd-platform worker id' : 'nothing that identifies you'}. Answers are used only to compare synthetic voices. You may stop at any time.</p>
<form method="post" action="${input.action}">
${input.workerId ? html`<input type="hidden" name="worker_id" value="${input.workerId}">` : ''}
<p><label><input type="checkbox" name="consent" value="yes" required> I agree to take part and that my answers are stored as described.</label></p>
<button type="submit" id="start">Start</button>
</form>`,
  );
}

export function headphonePage(token: string, failedMessage?: string) {
  const base = `/listen/s/${token}`;
  const questions = Array.from({ length: HEADPHONE_QUESTIONS }, (_, q) => q);
  return layout(
    'Listening test: headphone check',
    html`<h1>Headphone check</h1>
<p>Each sound plays three tones. <strong>Which tone is the quietest?</strong> Play each sound to the end, then choose.</p>
${failedMessage ? html`<p class="error" role="alert">${failedMessage}</p>` : ''}
<form method="post" action="${base}/headphones" id="vote-form">
${questions.map(
  (q) => html`<fieldset><legend>Sound ${q + 1}</legend>
<button type="button" class="play" data-src="${base}/headphones/${q}.wav" aria-describedby="status-${q}">Play sound ${q + 1}</button>
<span id="status-${q}" class="hint" aria-live="polite">not played yet</span>
<div>${Array.from({ length: HEADPHONE_TONES }, (_, t) => html`<label class="tone"><input type="radio" name="q${q}" value="${t}" required> Tone ${t + 1}</label>`)}</div>
</fieldset>`,
)}
<button type="submit" class="vote" id="submit" disabled>Continue</button>
</form>`,
    playerScript({ mode: 'form' }),
  );
}

const TASKS = {
  ab_naturalness: { question: 'Which sample sounds more natural?', hint: 'Listen to both, then choose A or B.' },
  ab_similarity: {
    question: 'Which sample sounds more like the speaker in the reference?',
    hint: 'Listen to the reference and to both samples; judge the voice, not the words.',
  },
  mos: { question: 'How natural does this speech sound?', hint: 'Rate the quality of the speech you heard.' },
  similarity: {
    question: 'How similar is this voice to the voice in the reference?',
    hint: 'Judge the speaker, not the words or the recording quality.',
  },
} as const;

export function trialPage(token: string, trial: TrialView) {
  const task = TASKS[trial.task];
  const clipName = { ref: 'Reference', a: 'Sample A', b: 'Sample B' } as const;
  const choices =
    trial.task === 'ab_naturalness' || trial.task === 'ab_similarity'
      ? [
          { value: 'a', label: 'A', key: 'a' },
          { value: 'b', label: 'B', key: 'b' },
        ]
      : (trial.task === 'mos' ? ACR_LABELS : SIMILARITY_LABELS)
          .map((label, i) => ({ value: String(i + 1), label: `${i + 1} ${label}`, key: String(i + 1) }))
          .reverse();
  return layout(
    `Listening test: question ${trial.position} of ${trial.total}`,
    html`<p><label>Question ${trial.position} of ${trial.total}
<progress max="${trial.total}" value="${trial.position - 1}">${trial.position - 1} of ${trial.total}</progress></label></p>
<h1 id="question">${task.question}</h1><p class="hint">${task.hint}</p>
<div class="clips">${trial.slots.map(
      (
        s,
      ) => html`<button type="button" class="play" data-src="/listen/audio/${trial.trialId}/${s}" aria-describedby="status-${s}">▶ ${clipName[s]}</button>
<span id="status-${s}" class="hint" aria-live="polite">not played yet</span>`,
    )}</div>
<div class="choices" role="group" aria-labelledby="question">${choices.map(
      (c) =>
        html`<button type="button" class="vote" data-answer="${c.value}" data-key="${c.key}" disabled>${c.label}</button>`,
    )}</div>
<p id="locked" class="hint" aria-live="polite">Play every clip to the end to answer.</p>
<p id="error" class="error" role="alert"></p>`,
    playerScript({ mode: 'vote', voteUrl: `/listen/s/${token}/trials/${trial.trialId}/vote` }),
  );
}

export function finishPage(token: string, answered: number, total: number) {
  return layout(
    'Listening test: finish',
    html`<h1>All done</h1><p>You answered ${answered} of ${total} questions. Thank you!</p>
<form method="post" action="/listen/s/${token}/complete"><button type="submit" id="finish">Get my completion code</button></form>`,
  );
}

export function completedPage(code: string) {
  return layout(
    'Listening test: completion code',
    html`<h1>Thank you</h1><p>Your completion code:</p><p class="code" id="completion-code">${code}</p>
<p class="hint">Copy it into the crowd platform to finish. You can close this page.</p>`,
  );
}

export function messagePage(title: string, message: string) {
  return layout(title, html`<h1>${title}</h1><p>${message}</p>${raw('')}`);
}
