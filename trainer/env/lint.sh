#!/usr/bin/env bash
# Lints the trainer's Python with ruff from the project's environment (.venv, where
# trainer/env/requirements.txt pins it); the rules are in ruff.toml at the repository root.
# `npm run lint` runs it after biome. Arguments go to `ruff check` (e.g. --fix).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
ruff="$root/.venv/bin/ruff"
if [ ! -x "$ruff" ]; then
  echo "Python lint: $ruff is missing: run npm run setup:python first" >&2
  exit 1
fi
cd "$root"
exec "$ruff" check "$@" trainer
