#!/usr/bin/env bash
# Regenerates test/fixtures/coqui-text/reference.json from Coqui's own XTTS-v2 tokenizer,
# test/fixtures/coqui-text/split.json from its split_sentence (with
# inference/text/dict/spacy-abbreviations.json, spaCy's abbreviations the splitter keeps), and
# inference/text/dict/zh-phrases.json (pypinyin's phrase readings that pinyin-pro lacks) and
# inference/text/dict/cutlet.json (cutlet's kana table and exceptions),
# inference/text/dict/unidic-foreign.json.gz (UniDic's spellings of loanwords) and
# inference/text/dict/unidic-units.json.gz (words UniDic cuts, files or reads otherwise than kuromoji's IPADIC):
# a throwaway virtual environment with the pinned packages of requirements.txt, the coqui-tts wheel
# unpacked (not installed) beside it, then coqui_text.py. Needs Python 3.10+ and PyPI.
# usage: bash trainer/reference/regenerate.sh   (COQUI_REF_VENV picks the environment's folder)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${COQUI_REF_VENV:-${TMPDIR:-/tmp}/coqui-ref-venv}"
coqui_version="0.27.2"
python3 -m venv "$venv"
"$venv/bin/pip" install -q -r "$here/requirements.txt"
src="$(mktemp -d)"
trap 'rm -rf "$src"' EXIT
"$venv/bin/pip" download -q --no-deps "coqui-tts==$coqui_version" -d "$src"
"$venv/bin/python" -m zipfile -e "$src/coqui_tts-$coqui_version-py3-none-any.whl" "$src/wheel"
cd "$root"
"$venv/bin/python" "$here/zh_phrases.py" > "$src/pypinyin.json"
node trainer/reference/zh-phrases.ts "$src/pypinyin.json" inference/text/dict/zh-phrases.json
"$venv/bin/python" "$here/cutlet_tables.py" > inference/text/dict/cutlet.json
"$venv/bin/python" "$here/unidic_foreign.py" inference/text/dict/unidic-foreign.json.gz
"$venv/bin/python" "$here/unidic_units.py" node_modules/@sglkc/kuromoji/dict/tid_pos.dat.gz \
  inference/text/dict/unidic-units.json.gz
"$venv/bin/python" "$here/coqui_text.py" "$src/wheel" test/fixtures/tiny/package/vocab.json \
  test/fixtures/coqui-text/reference.json
"$venv/bin/python" "$here/coqui_split.py" "$src/wheel" test/fixtures/coqui-text/split.json \
  inference/text/dict/spacy-abbreviations.json
