#!/usr/bin/env bash
# What `cmake --install` puts beside the binary: a man page per applet that
# man(1) finds under the prefix, and the bash completion where
# bash-completion's loader finds it, for dmkit and for the applet names.
# Usage: install_docs.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d /tmp/dmkit-install-docs-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
dmkit=$prefix/sbin/dmkit
[ -x "$dmkit" ] || fail "no $dmkit"

man8=$prefix/share/man/man8
for page in dmkit $("$dmkit" --list | sed 's/^/dmkit-/'); do
  [ -f "$man8/$page.8" ] || fail "$page.8 is not installed"
  if command -v man >/dev/null; then
    found=$(man -M "$prefix/share/man" -w 8 "$page" 2>/dev/null) || fail "man does not find $page(8)"
    [ "$found" = "$man8/$page.8" ] || fail "man found $found for $page(8)"
  fi
done
echo "man pages: $(ls "$man8" | wc -l) installed, each applet's found by man"

completions=$prefix/share/bash-completion/completions
[ -f "$completions/dmkit" ] || fail "no completion file for dmkit"
for link in "$completions"/*; do
  [ "$link" = "$completions/dmkit" ] && continue
  [ "$(readlink "$link")" = dmkit ] || fail "$link is not a link to dmkit"
done

loader=/usr/share/bash-completion/bash_completion
if [ ! -f "$loader" ]; then
  echo "bash-completion is not installed: its loader is not tried (third_party/install-deps.sh)"
  exit 0
fi
# Links named after the applets on PATH, as a rescue image has them; the
# loader finds the completion through XDG_DATA_DIRS (the prefix's share/).
mkdir "$work/bin"
"$dmkit" --install -s "$work/bin"
ln -s "$dmkit" "$work/bin/dmkit"
names=()
for path in "$completions"/*; do names+=("${path##*/}"); done
PATH=$work/bin:$PATH XDG_DATA_DIRS=$prefix/share bash -c '
  source "$1"
  shift
  for name in "$@"; do
    __load_completion "$name" && complete -p "$name"
  done' _ "$loader" "${names[@]}" >"$work/complete" 2>&1 || true
for name in "${names[@]}"; do
  grep -qx "complete -F _dmkit $name" "$work/complete" ||
    fail "bash-completion's loader does not complete $name: $(cat "$work/complete")"
done
echo "bash completion: loaded by bash-completion for ${names[*]}"
