"""Dataset builder: long recordings (or an LJSpeech folder) to a clean LJSpeech dataset."""
