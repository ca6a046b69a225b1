#!/usr/bin/env bash
# Sets Causeloop up on a Debian/Ubuntu machine that has Node and npm: bun (if missing), the packages,
# the compiled binary dist/causeloop, and a copy of it on PATH. Safe to run again.
#   ./install.sh [--prefix DIR] [--no-link] [--systemd [--root DIR]] [--binary FILE]
# --systemd (as root): also a `causeloop` system user, /etc/causeloop/causeloop.env (0600, kept if present),
# /var/lib/causeloop (0700) and the hardened unit scripts/deploy/causeloop.service; it does not start it.
# --binary FILE: install this release binary (bun run build --release) instead of building: no bun, no
# packages; checked against the SHA256SUMS beside it when there is one.
# --root DIR (with --systemd): install into DIR as if it were / (an image being built, or a test); DIR/etc
# must hold passwd, group, shadow and gshadow, which the service user is added to.
set -euo pipefail
caller="$PWD"
cd "$(dirname "$0")"

prefix=""
link=1
systemd=0
binary=""
root=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --no-link) link=0; shift ;;
    --systemd) systemd=1; shift ;;
    --binary) binary="${2:?--binary needs a file}"; shift 2 ;;
    --binary=*) binary="${1#--binary=}"; shift ;;
    --root) root="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) root="${1#--root=}"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$root" in ""|/*) ;; *) root="$caller/$root" ;; esac
if [ -n "$root" ] && [ "$systemd" != 1 ]; then echo "install.sh: --root goes with --systemd" >&2; exit 2; fi
if [ -z "$prefix" ]; then
  if [ "$(id -u)" = 0 ]; then prefix="$root/usr/local"; else prefix="$HOME/.local"; fi
fi

if [ -n "$binary" ]; then
  case "$binary" in /*) ;; *) binary="$caller/$binary" ;; esac
  # A release binary: verified, then installed as it is (nothing is built, nothing else is installed).
  [ -f "$binary" ] || { echo "install.sh: --binary $binary does not exist" >&2; exit 2; }
  sums="$(dirname "$binary")/SHA256SUMS"
  if [ -f "$sums" ]; then
    expected="$(awk -v f="$(basename "$binary")" '$2 == f { print $1 }' "$sums")"
    actual="$(sha256sum "$binary" | cut -d' ' -f1)"
    if [ -z "$expected" ]; then echo "install.sh: $(basename "$binary") is not in $sums" >&2; exit 2; fi
    if [ "$expected" != "$actual" ]; then echo "install.sh: $binary does not match $sums" >&2; exit 2; fi
    echo "install.sh: $(basename "$binary") matches SHA256SUMS"
  fi
  "$binary" --version >/dev/null 2>&1 || { echo "install.sh: $binary does not run on this machine" >&2; exit 2; }
  built="$binary"
else
  if ! command -v bun >/dev/null 2>&1; then
    echo "install.sh: installing bun with npm"
    npm install -g bun >/dev/null
    command -v bun >/dev/null 2>&1 || export PATH="$(npm prefix -g)/bin:$PATH"
  fi
  echo "install.sh: bun $(bun --version)"
  bun install --frozen-lockfile
  bun run build
  built=dist/causeloop
fi

if [ "$link" = 1 ]; then
  mkdir -p "$prefix/bin"
  install -m 0755 "$built" "$prefix/bin/causeloop"
  echo "install.sh: installed $prefix/bin/causeloop"
  case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) echo "install.sh: note: $prefix/bin is not on PATH; add it, or run $prefix/bin/causeloop" ;;
  esac
fi

if [ "$systemd" = 1 ]; then
  if [ "$(id -u)" != 0 ]; then echo "install.sh: --systemd needs root" >&2; exit 2; fi
  if [ "$link" != 1 ] || [ "$prefix" != "$root/usr/local" ]; then
    echo "install.sh: --systemd runs /usr/local/bin/causeloop: drop --no-link and --prefix" >&2; exit 2
  fi
  if [ -n "$root" ]; then
    for f in passwd group shadow gshadow; do
      [ -f "$root/etc/$f" ] || { echo "install.sh: --root $root has no etc/$f" >&2; exit 2; }
    done
    grep -q '^causeloop:' "$root/etc/passwd" ||
      useradd --prefix "$root" --system --home-dir /var/lib/causeloop --shell /usr/sbin/nologin causeloop
    owner="$(awk -F: '$1 == "causeloop" { print $3 ":" $4 }' "$root/etc/passwd")"
  else
    id causeloop >/dev/null 2>&1 || useradd --system --home-dir /var/lib/causeloop --shell /usr/sbin/nologin causeloop
    owner="causeloop:causeloop"
  fi
  install -d -m 0700 -o "${owner%%:*}" -g "${owner##*:}" "$root/var/lib/causeloop"
  install -d -m 0755 "$root/etc/causeloop"
  if [ ! -e "$root/etc/causeloop/causeloop.env" ]; then
    install -m 0600 scripts/deploy/causeloop.env "$root/etc/causeloop/causeloop.env"
    echo "install.sh: wrote $root/etc/causeloop/causeloop.env (edit it, or let causeloop setup fill it in)"
  fi
  install -d -m 0755 "$root/etc/systemd/system"
  install -m 0644 scripts/deploy/causeloop.service "$root/etc/systemd/system/causeloop.service"
  if [ -z "$root" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
  echo "install.sh: installed the causeloop service; start it with: systemctl enable --now causeloop"
fi
