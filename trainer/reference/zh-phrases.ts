// From pypinyin's dictionary (argv[2], made by zh_phrases.py), keeps what the engine needs where
// pinyin-pro (tone sandhi off) reads otherwise: the phrases pinyin-pro reads differently, the phrases
// pypinyin reads with a neutral tone (the engine reads a neutral tone only there), the characters
// whose default reading differs, and the other phrases without their readings; writes them to inference/text/dict/zh-phrases.json (argv[3]).
// usage: node trainer/reference/zh-phrases.ts PYPINYIN_JSON OUT_JSON
import { readFileSync, writeFileSync } from 'node:fs';
import { pinyin } from 'pinyin-pro';

const [input, output] = process.argv.slice(2);
if (!input || !output) throw new Error('usage: node trainer/reference/zh-phrases.ts PYPINYIN_JSON OUT_JSON');
const source = JSON.parse(readFileSync(input, 'utf8')) as {
  phrases: Record<string, string>;
  chars: Record<string, string>;
};
const TONED = /[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ]/u;
const phrases: Record<string, string> = {};
// the other phrases, which pinyin-pro reads as pypinyin does: the engine cuts sentences into phrases as pypinyin does
const words: string[] = [];
for (const [phrase, reading] of Object.entries(source.phrases)) {
  const neutral = reading.split(' ').some((syllable) => !TONED.test(syllable));
  if (neutral || pinyin(phrase, { type: 'array', toneSandhi: false }).join(' ') !== reading) phrases[phrase] = reading;
  else words.push(phrase);
}
const chars: Record<string, string> = {};
for (const [c, reading] of Object.entries(source.chars)) {
  // the common ideographs (U+4E00–U+9FFF); rarer ones are left to pinyin-pro
  const cp = c.codePointAt(0) as number;
  if (cp >= 0x4e00 && cp <= 0x9fff && pinyin(c, { toneSandhi: false }) !== reading) chars[c] = reading;
}
writeFileSync(output, `${JSON.stringify({ phrases, chars, words: words.join(' ') }, null, 2)}\n`);
console.log(
  `${Object.keys(phrases).length} of ${Object.keys(source.phrases).length} phrases, ` +
    `${Object.keys(chars).length} of ${Object.keys(source.chars).length} characters kept -> ${output}`,
);
