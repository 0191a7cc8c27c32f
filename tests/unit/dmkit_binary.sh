#!/usr/bin/env bash
# The multi-call binary itself: static, no libdevmapper, within its size
# budget, dispatching on argv[0] and on its first argument, and --install.
# Usage: dmkit_binary.sh DMKIT
set -euo pipefail
dmkit=$1
work=$(mktemp -d /tmp/dmkit-binary-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

file -b "$dmkit" | grep -q 'statically linked' || fail "not statically linked: $(file -b "$dmkit")"
if ldd "$dmkit" >/dev/null 2>&1; then fail "ldd sees a dynamic executable"; fi
if nm "$dmkit" | grep -q -E ' (dm_task_|dm_lib_)'; then fail "libdevmapper symbols linked in"; fi
strip -o "$work/stripped" "$dmkit"
size=$(stat -c %s "$work/stripped")
budget=$((5 * 1024 * 1024 / 2))
echo "stripped size: $size bytes (budget $budget)"
[ "$size" -le "$budget" ] || fail "stripped binary is $size bytes, over 2.5 MiB"

[ "$("$dmkit" --list | tr '\n' ' ')" = "bench dmsetup docker holders nsenter thin " ] || fail "--list"
"$dmkit" --version >"$work/out" && grep -q '^dmkit [0-9]' "$work/out" || fail "--version"
"$dmkit" --help >"$work/out" && grep -q '^Usage: dmkit APPLET' "$work/out" || fail "--help"
if "$dmkit" frobnicate 2>"$work/err"; then fail "unknown applet accepted"; fi
grep -q "unknown applet 'frobnicate'" "$work/err" || fail "unknown applet message"
if "$dmkit" 2>/dev/null; then fail "no arguments accepted"; fi

mkdir "$work/hard" "$work/soft"
"$dmkit" --install "$work/hard"
"$dmkit" --install -s "$work/soft"
for applet in bench dmsetup docker holders nsenter thin; do
  [ -f "$work/hard/$applet" ] && [ ! -L "$work/hard/$applet" ] || fail "hard link $applet"
  [ -L "$work/soft/$applet" ] || fail "symlink $applet"
done
# argv[0] dispatch through both kinds of link. Outputs go to files first:
# with pipefail, `cmd | grep -q` fails whenever grep exits before cmd has
# written everything (SIGPIPE), which happened about once in 30 runs.
"$work/hard/holders" --help >"$work/out" || fail "holders --help via hard link"
grep -q '^Usage: dmkit holders' "$work/out" || fail "holders via hard link"
"$work/soft/nsenter" --help >"$work/out" || fail "nsenter --help via symlink"
grep -q 'nsenter' "$work/out" || fail "nsenter via symlink"
"$work/soft/dmsetup" help >"$work/out" 2>&1 || fail "dmsetup help via symlink"
grep -q 'dmsetup' "$work/out" || fail "dmsetup via symlink"
# An existing entry is reported, not replaced.
if "$dmkit" --install "$work/hard" 2>"$work/err"; then fail "--install over existing links"; fi
grep -q "File exists" "$work/err" || fail "--install existing message"
echo "binary checks passed"
