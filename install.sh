#!/usr/bin/env bash
# Sets Causeloop up on a Debian/Ubuntu machine that has Node and npm: bun (if missing), the packages,
# the compiled binary dist/causeloop, and a copy of it on PATH. Safe to run again.
#   ./install.sh [--prefix DIR] [--no-link]
set -euo pipefail
cd "$(dirname "$0")"

prefix=""
link=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --no-link) link=0; shift ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$prefix" ]; then
  if [ "$(id -u)" = 0 ]; then prefix=/usr/local; else prefix="$HOME/.local"; fi
fi

if ! command -v bun >/dev/null 2>&1; then
  echo "install.sh: installing bun with npm"
  npm install -g bun >/dev/null
  command -v bun >/dev/null 2>&1 || export PATH="$(npm prefix -g)/bin:$PATH"
fi
echo "install.sh: bun $(bun --version)"

bun install --frozen-lockfile
bun run build

if [ "$link" = 1 ]; then
  mkdir -p "$prefix/bin"
  install -m 0755 dist/causeloop "$prefix/bin/causeloop"
  echo "install.sh: installed $prefix/bin/causeloop"
  case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) echo "install.sh: note: $prefix/bin is not on PATH; add it, or run $prefix/bin/causeloop" ;;
  esac
fi
