/**
 * A reader for the Hugging Face `tokenizers` JSON that XTTS-v2 ships as vocab.json: added
 * special tokens, the `Whitespace` pre-tokenizer and a BPE model, as Rust `tokenizers`
 * runs them. @huggingface/tokenizers (npm) was tried and not used: its Whitespace
 * pre-tokenizer is an ASCII-only JavaScript regex, so "über" or "привет" split at every
 * non-ASCII letter, unlike the Rust library the reference calls.
 */

type TokenizerJson = {
  added_tokens?: Array<{ id: number; content: string }>;
  pre_tokenizer?: { type: string } | null;
  model: {
    type: string;
    vocab: Record<string, number>;
    merges: Array<string | [string, string]>;
    unk_token?: string | null;
    continuing_subword_prefix?: string | null;
    end_of_word_suffix?: string | null;
  };
};

export class TokenizerFormatError extends Error {
  override name = 'TokenizerFormatError';
}

// Rust `tokenizers` compiles `\w+|[^\w\s]+` with Oniguruma, whose \w is Unicode
// (alphabetic, marks, decimal digits, connector punctuation) and \s White_Space.
const W = String.raw`\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\u200c\u200d`;
const WHITESPACE_SPLIT = new RegExp(`[${W}]+|[^${W}\\p{White_Space}]+`, 'gu');

export function whitespacePreTokenize(text: string): string[] {
  return text.match(WHITESPACE_SPLIT) ?? [];
}

export class BpeTokenizer {
  readonly vocab: ReadonlyMap<string, number>;
  readonly idToToken: ReadonlyMap<number, string>;
  readonly addedTokens: ReadonlyMap<string, number>;
  private readonly ranks: Map<string, number>;
  private readonly unkId: number | undefined;
  private readonly cache = new Map<string, number[]>();

  constructor(json: TokenizerJson) {
    const { model } = json;
    if (model?.type !== 'BPE') throw new TokenizerFormatError(`expected a BPE model, got ${model?.type}`);
    if (model.continuing_subword_prefix || model.end_of_word_suffix) {
      throw new TokenizerFormatError('subword prefixes/suffixes are not used by XTTS vocabularies');
    }
    const pre = json.pre_tokenizer?.type;
    if (pre !== undefined && pre !== 'Whitespace') {
      throw new TokenizerFormatError(`unsupported pre-tokenizer ${pre}`);
    }
    const vocab = new Map(Object.entries(model.vocab));
    const added = new Map<string, number>();
    for (const t of json.added_tokens ?? []) {
      added.set(t.content, t.id);
      vocab.set(t.content, t.id);
    }
    this.vocab = vocab;
    this.addedTokens = added;
    this.idToToken = new Map([...vocab].map(([t, id]) => [id, t]));
    this.unkId = model.unk_token ? vocab.get(model.unk_token) : undefined;
    this.ranks = new Map();
    model.merges.forEach((m, rank) => {
      const [a, b] = typeof m === 'string' ? (m.split(' ') as [string, string]) : m;
      this.ranks.set(`${a} ${b}`, rank);
    });
  }

  static fromJson(text: string): BpeTokenizer {
    return new BpeTokenizer(JSON.parse(text) as TokenizerJson);
  }

  /** Largest id + 1: the GPT's text-token count (the reference's `get_number_tokens`). */
  get numberOfTokens(): number {
    return Math.max(...this.vocab.values()) + 1;
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    for (const piece of this.splitAddedTokens(text)) {
      if (piece.added !== undefined) ids.push(piece.added);
      else for (const word of whitespacePreTokenize(piece.text)) ids.push(...this.bpe(word));
    }
    return ids;
  }

  decode(ids: readonly number[]): string {
    // Rust's default decoder joins tokens with spaces when the file has no decoder.
    return ids.map((id) => this.idToToken.get(id) ?? '').join(' ');
  }

  /** Leftmost-longest match of the added tokens, as the Rust AddedVocabulary does. */
  private *splitAddedTokens(text: string): Generator<{ text: string; added?: number }> {
    const contents = [...this.addedTokens.keys()].filter((c) => c.length > 0);
    let start = 0;
    let i = 0;
    while (i < text.length) {
      let best: string | undefined;
      for (const c of contents) {
        if ((best === undefined || c.length > best.length) && text.startsWith(c, i)) best = c;
      }
      if (best === undefined) {
        i++;
        continue;
      }
      if (i > start) yield { text: text.slice(start, i) };
      yield { text: best, added: this.addedTokens.get(best) as number };
      i += best.length;
      start = i;
    }
    if (start < text.length) yield { text: text.slice(start) };
  }

  /** BPE on one pre-token: merge the lowest-ranked adjacent pair, leftmost first. */
  private bpe(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const symbols = Array.from(word);
    for (;;) {
      let bestRank = Number.POSITIVE_INFINITY;
      let bestAt = -1;
      for (let k = 0; k + 1 < symbols.length; k++) {
        const rank = this.ranks.get(`${symbols[k]} ${symbols[k + 1]}`);
        if (rank !== undefined && rank < bestRank && this.vocab.has(`${symbols[k]}${symbols[k + 1]}`)) {
          bestRank = rank;
          bestAt = k;
        }
      }
      if (bestAt < 0) break;
      symbols.splice(bestAt, 2, `${symbols[bestAt]}${symbols[bestAt + 1]}`);
    }
    const ids: number[] = [];
    for (const s of symbols) {
      const id = this.vocab.get(s);
      if (id !== undefined) ids.push(id);
      else if (this.unkId !== undefined) ids.push(this.unkId);
    }
    if (this.cache.size < 10_000) this.cache.set(word, ids);
    return ids;
  }
}
