#!/usr/bin/env bash
# Regenerates test/fixtures/coqui-model (reference.json and <case>/*.f32) from Coqui's own XTTS-v2
# classes: a throwaway virtual environment with the pinned packages of requirements-model.txt,
# coqui-tts 0.27.2 installed into it, then coqui_model.py (seeded random weights at full width and at
# a small width; see trainer/xtts/parity/fidelity_cases.py). Needs Python 3.10+ and PyPI; takes a few minutes.
# inference/xtts/fidelity.test.ts compares the TypeScript engine with the result.
# usage: bash trainer/reference/regenerate-model.sh   (COQUI_MODEL_VENV picks the environment's folder)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${COQUI_MODEL_VENV:-${TMPDIR:-/tmp}/coqui-model-venv}"
out="$root/test/fixtures/coqui-model"
quiet() { "$@" 2> >(grep -v "^WARNING: Location '" >&2); }
python3 -m venv "$venv"
quiet "$venv/bin/pip" install -q --no-deps -r "$here/requirements-model.txt"
quiet "$venv/bin/pip" install -q --no-deps coqui-tts==0.27.2 coqui-tts-trainer==0.3.3 torchaudio==2.11.1
# torchaudio's compiled extension is built against torch 2.11 and does not load on 2.13; without it
# torchaudio runs its pure-Python part, which holds everything Coqui's XTTS calls (MelSpectrogram,
# functional.resample). Loading files goes through soundfile (coqui_model.py says how).
rm -f "$venv"/lib/python3*/site-packages/torchaudio/lib/*.so
"$venv/bin/python" "$here/coqui_model.py" "$root" "$out"
echo "wrote $out"
