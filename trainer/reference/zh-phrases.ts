// Keeps the phrases of pypinyin's dictionary (argv[2], from zh_phrases.py) that pinyin-pro, with tone
// sandhi off, reads otherwise, and writes them to inference/text/dict/zh-phrases.json (argv[3]).
// usage: node trainer/reference/zh-phrases.ts PHRASES_JSON OUT_JSON
import { readFileSync, writeFileSync } from 'node:fs';
import { pinyin } from 'pinyin-pro';

const [input, output] = process.argv.slice(2);
if (!input || !output) throw new Error('usage: node trainer/reference/zh-phrases.ts PHRASES_JSON OUT_JSON');
const phrases = JSON.parse(readFileSync(input, 'utf8')) as Record<string, string>;
const differing: Record<string, string> = {};
for (const [phrase, reading] of Object.entries(phrases)) {
  if (pinyin(phrase, { type: 'array', toneSandhi: false }).join(' ') !== reading) differing[phrase] = reading;
}
writeFileSync(output, `${JSON.stringify(differing, null, 2)}\n`);
console.log(`${Object.keys(differing).length} of ${Object.keys(phrases).length} phrases differ -> ${output}`);
