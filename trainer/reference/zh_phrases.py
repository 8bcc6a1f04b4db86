"""pypinyin's phrase dictionary and each character's default reading as JSON on stdout
({"phrases": {"一百": "yì bǎi"}, "chars": {"了": "le"}}), for trainer/reference/zh-phrases.ts, which keeps
what pinyin-pro reads otherwise (inference/text/dict/zh-phrases.json).

usage: python zh_phrases.py > pypinyin.json"""
import json
import sys

from pypinyin.phrases_dict import phrases_dict
from pypinyin.pinyin_dict import pinyin_dict

json.dump({"phrases": {k: " ".join(r[0] for r in v) for k, v in sorted(phrases_dict.items())},
           "chars": {chr(cp): readings.split(",")[0] for cp, readings in sorted(pinyin_dict.items())}},
          sys.stdout, ensure_ascii=False)
