"""pypinyin's phrase dictionary as JSON on stdout ({phrase: "yì bǎi"}), for trainer/reference/zh-phrases.ts,
which keeps the phrases pinyin-pro reads otherwise (inference/text/dict/zh-phrases.json).

usage: python zh_phrases.py > phrases.json"""
import json
import sys

from pypinyin.phrases_dict import phrases_dict

json.dump({k: " ".join(r[0] for r in v) for k, v in sorted(phrases_dict.items())}, sys.stdout, ensure_ascii=False)
