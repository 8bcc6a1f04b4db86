#!/usr/bin/env bash
# The Debian packages the test suite uses: espeak-ng (speech for the tests' recordings), sox with its
# format plugins (audio measurements), chromium (browser tests, driven by playwright-core) and
# python3-venv (the trainer's environment). Idempotent: when all are installed it only asks dpkg
# (well under a second). When some are missing it installs them with apt-get as root (or through
# sudo without a password); otherwise it prints the one command to run and fails.
# Skipped entirely with SKIP_SYSTEM_SETUP=1 (for hosts that provide the tools another way).
set -euo pipefail
[ "${SKIP_SYSTEM_SETUP:-}" = "1" ] && exit 0
packages=(python3-venv espeak-ng sox libsox-fmt-all chromium)
if ! command -v dpkg-query >/dev/null 2>&1; then
  for tool in espeak-ng sox chromium; do
    command -v "$tool" >/dev/null 2>&1 || { echo "infra/setup-system.sh: not a Debian host and '$tool' is not on PATH; install ${packages[*]} (or their equivalents), or set SKIP_SYSTEM_SETUP=1" >&2; exit 1; }
  done
  exit 0
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
install=(apt-get install -y -qq --no-install-recommends "${missing[@]}")
if [ "$(id -u)" = "0" ]; then
  run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  run=(sudo -n)
else
  echo "The tests need these Debian packages: ${missing[*]}. Install them once with:" >&2
  echo "  sudo apt-get update && sudo ${install[*]}" >&2
  exit 1
fi
echo "installing the Debian packages the tests use: ${missing[*]}"
"${run[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${run[@]}" "${install[@]}" >/dev/null
