/**
 * XTTS-v2's VoiceBpeTokenizer: text → GPT text-token ids. START/STOP are not added here;
 * the GPT input adds them.
 */
import { BpeTokenizer } from './bpe.ts';
import { preprocessText } from './cleaners.ts';
import { charLimit, languageTag } from './languages.ts';

/** The GPT's text positions allow fewer than 402 text tokens (`gpt_max_text_tokens`). */
export const MAX_TEXT_TOKENS = 402;

export class TextTooLongError extends Error {
  readonly code = 'TEXT_TOO_LONG';
  readonly tokens: number;
  constructor(tokens: number) {
    super(`text has ${tokens} tokens; XTTS-v2 accepts fewer than ${MAX_TEXT_TOKENS}`);
    this.name = 'TextTooLongError';
    this.tokens = tokens;
  }
}

export type EncodeOptions = {
  /** Called when the text is longer than the language's character limit (the reference warns). */
  onOverLimit?: (limit: number) => void;
};

export class VoiceTokenizer {
  readonly bpe: BpeTokenizer;
  constructor(bpe: BpeTokenizer) {
    this.bpe = bpe;
  }

  static fromJson(vocabJson: string): VoiceTokenizer {
    return new VoiceTokenizer(BpeTokenizer.fromJson(vocabJson));
  }

  get startId(): number {
    return this.requireToken('[START]');
  }

  get stopId(): number {
    return this.requireToken('[STOP]');
  }

  /** Text-token count the GPT was built for: largest id + 1. */
  get numberOfTokens(): number {
    return this.bpe.numberOfTokens;
  }

  /**
   * The reference's `Xtts.inference` strips and lowercases each sentence, then `encode`
   * cleans it, prefixes `[lang]` (`[zh-cn]` for zh) and writes every space as `[SPACE]`.
   */
  encode(text: string, lang: string, options: EncodeOptions = {}): number[] {
    const sentence = text.trim().toLowerCase();
    const limit = charLimit(lang);
    if (sentence.length > limit) options.onOverLimit?.(limit);
    const cleaned = preprocessText(sentence, lang);
    const tagged = `[${languageTag(lang)}]${cleaned}`.replaceAll(' ', '[SPACE]');
    const ids = this.bpe.encode(tagged);
    if (ids.length >= MAX_TEXT_TOKENS) throw new TextTooLongError(ids.length);
    return ids;
  }

  /** The reference's `decode`: drop the joining spaces, [SPACE] → space, drop [STOP]/[UNK]. */
  decode(ids: readonly number[]): string {
    return this.bpe
      .decode(ids)
      .replaceAll(' ', '')
      .replaceAll('[SPACE]', ' ')
      .replaceAll('[STOP]', '')
      .replaceAll('[UNK]', '');
  }

  private requireToken(token: string): number {
    const id = this.bpe.tokenToId(token);
    if (id === undefined) throw new Error(`vocabulary has no ${token} token`);
    return id;
  }
}
