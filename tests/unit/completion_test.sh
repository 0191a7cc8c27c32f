#!/usr/bin/env bash
# The bash completion of tools/completion/dmkit, driven as bash drives it
# (COMP_LINE, COMP_POINT, COMP_WORDS, COMP_CWORD, then COMPREPLY): applets,
# commands and options (against --help and the man pages), device names
# from a real mapper directory ($DM_DEV_DIR/mapper), container names and
# ids from `dmkit docker ls` on a real Docker-shaped root, and which names
# `complete -F _dmkit` is registered for.
# Usage: completion_test.sh DMKIT COMPLETION_FILE MAN_DIR
set -uo pipefail
dmkit=$(readlink -f "$1")
completion=$2
man_dir=$3
# Under the binary's directory, so that hard links to it can be made.
work=$(mktemp -d "$(dirname "$dmkit")/completion-test-XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# shellcheck source=/dev/null
source "$completion" || { echo "FAIL: sourcing $completion"; exit 1; }

# run_completion LINE: runs _dmkit as bash would for LINE with the cursor at its
# end. COMP_WORDS is split as bash splits it (blanks, and '=' and ':' as
# words of their own, COMP_WORDBREAKS's defaults); the replies, sorted, are
# left in $got, one a line.
COMP_WORDBREAKS=$' \t\n"\'><=;|&(:'
run_completion() {
  COMP_LINE=$1
  COMP_POINT=${#1}
  COMP_WORDS=()
  local word
  for word in $1; do
    while [[ $word =~ ^([^=:]*)([=:]+)(.*)$ ]]; do
      [[ -n ${BASH_REMATCH[1]} ]] && COMP_WORDS+=("${BASH_REMATCH[1]}")
      COMP_WORDS+=("${BASH_REMATCH[2]}")
      word=${BASH_REMATCH[3]}
    done
    [[ -n $word ]] && COMP_WORDS+=("$word")
  done
  [[ $1 == *' ' ]] && COMP_WORDS+=("")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _dmkit
  got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort -u)
}

# The lines of $1 on one line.
flat() { tr '\n' ' ' <<<"$1" | sed 's/ $//'; }

# expect LINE WORD...: the replies are exactly these words.
expect() {
  local line=$1
  shift
  run_completion "$line"
  local want
  want=$(printf '%s\n' "$@" | sed '/^$/d' | sort -u)
  [ "$got" = "$want" ] || fail "[$line] gave [$(flat "$got")], want [$(flat "$want")]"
}

# expect_has LINE WORD...: the replies include these words.
expect_has() {
  local line=$1 word
  shift
  run_completion "$line"
  for word in "$@"; do
    grep -qxF -- "$word" <<<"$got" || fail "[$line] gave [$(flat "$got")], missing $word"
  done
}

# expect_lacks LINE WORD...: none of these words.
expect_lacks() {
  local line=$1 word
  shift
  run_completion "$line"
  for word in "$@"; do
    grep -qxF -- "$word" <<<"$got" && fail "[$line] offered $word"
  done
}

# The options a man page documents (the tags of its OPTIONS section).
page_options() {
  awk '/^\.SH / { in_options = ($0 ~ /^\.SH "?OPTIONS"?$/); next }
       !in_options { next }
       tag { tag = 0; print; next }
       /^\.(TP|TQ)/ { tag = 1 }' "$1" |
    sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/^\.[A-Z]* //' |
    { grep -o -E '(^|[^A-Za-z0-9_-])--?[A-Za-z][A-Za-z0-9-]*' || true; } |
    sed -E 's/^[^-]*//' | sort -u
}

mapfile -t applets < <("$dmkit" --list)

# --- applets and dmkit's own options -------------------------------------------
expect "$dmkit " "${applets[@]}"
mapfile -t d_applets < <(printf '%s\n' "${applets[@]}" | grep '^d')
expect "$dmkit d" "${d_applets[@]}"
run_completion "$dmkit -"
own=$got
run_completion "$dmkit --install -"
own=$(printf '%s\n%s\n' "$own" "$got" | sort -u)
[ "$own" = "$(page_options "$man_dir/dmkit.8")" ] ||
  fail "dmkit's options [$(flat "$own")] differ from dmkit.8's [$(flat "$(page_options "$man_dir/dmkit.8")")]"
mkdir "$work/dirs" "$work/dirs/rescue-bin"
expect "$dmkit --install $work/dirs/res" "$work/dirs/rescue-bin/"

# --- every applet's options are its page's (which man_pages.sh holds to --help)
# (thin's page and completion may land before the applet: compared anyway.)
for applet in $(printf '%s\n' "${applets[@]}" thin | sort -u); do
  page=$man_dir/dmkit-$applet.8
  [ -f "$page" ] || { fail "no page for $applet"; continue; }
  run_completion "$dmkit $applet -"
  want=$(page_options "$page")
  [ "$got" = "$want" ] || fail "$applet: completion offers [$(flat "$(comm -23 <(echo "$got") <(echo "$want"))")]" \
    "beyond the page, lacks [$(flat "$(comm -13 <(echo "$got") <(echo "$want"))")]"
done

# --- commands against the usage texts -------------------------------------------
dmsetup_commands=$("$dmkit" dmsetup --help 2>&1 | sed -n 's/^\t\([a-z_-]\+\).*/\1/p' | sort -u)
run_completion "$dmkit dmsetup "
[ "$got" = "$dmsetup_commands" ] || fail "dmsetup commands [$(flat "$got")] differ from --help's [$(flat "$dmsetup_commands")]"
docker_commands=$("$dmkit" docker --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]\+\) .*/\1/p' | sort -u)
[ -n "$docker_commands" ] || fail "no commands found in docker --help"
run_completion "$dmkit docker "
[ "$got" = "$docker_commands" ] || fail "docker commands [$(flat "$got")] differ from --help's [$(flat "$docker_commands")]"
expect "$dmkit bench " cycle
expect "$dmkit dmsetup re" reload remove remove_all rename resume
expect "$dmkit dmsetup --manglename " auto hex none
expect "$dmkit dmsetup -v --no" --noflush --noheadings --nolockfs --noopencount \
  --notable --noudevrules --noudevsync
expect "$dmkit bench cycle --target " linear thin
expect "$dmkit docker mount -" --root --pool -h --help --rw --device-id
expect "$dmkit docker gc -" --root --pool -h --help --dry-run
expect "$dmkit docker ls --o" --orphans
expect "$dmkit docker mount --device-id " # an id: nothing to offer
expect "$dmkit docker df --" --root --pool --help --json --no-activate
expect "$dmkit thin ls meta -o DEV,MAPPED_B" DEV,MAPPED_BLOCKS DEV,MAPPED_BYTES
expect "$dmkit thin dump meta --format " xml

# --- device names: a real mapper directory ----------------------------------------
mkdir -p "$work/dev/mapper"
touch "$work/dev/mapper/control" "$work/dev/mapper/dmkit-ct-data" \
  "$work/dev/mapper/dmkit-ct-253:2-77-pool"
export DM_DEV_DIR=$work/dev
expect "$dmkit dmsetup remove dmkit-ct-" dmkit-ct-data dmkit-ct-253:2-77-pool
expect "$dmkit dmsetup -f remove dmkit-ct-data dmkit-ct-d" dmkit-ct-data
expect "$dmkit thin ls --pool dmkit-ct-2" dmkit-ct-253:2-77-pool
expect "$dmkit thin dump -m --pool dmkit-ct-d" dmkit-ct-data
expect "$dmkit dmsetup table --target thin dmkit-ct-d" dmkit-ct-data
expect_lacks "$dmkit dmsetup info " control
expect "$dmkit dmsetup create dmkit-ct-"            # a new name: nothing to offer
expect "$dmkit dmsetup rename dmkit-ct-data dmkit-" # the new name
# bash replaces only the part after the last ':'; the reply is that part.
expect "$dmkit holders dmkit-ct-253:2-7" 2-77-pool
expect "$dmkit docker --pool=dmkit-ct-253:2" 2-77-pool
unset DM_DEV_DIR

# --- container names and ids: `docker ls` on a real Docker-shaped root ------------
root=$work/docker
add_container() {  # ID NAME MOUNT_ID DEVICE_ID
  mkdir -p "$root/containers/$1" "$root/image/devicemapper/layerdb/mounts/$1" \
    "$root/devicemapper/metadata"
  printf '{"State":{"Running":false},"ID":"%s","Name":"/%s","Driver":"devicemapper"}' \
    "$1" "$2" >"$root/containers/$1/config.v2.json"
  printf '%s' "$3" >"$root/image/devicemapper/layerdb/mounts/$1/mount-id"
  printf '{"device_id":%s,"size":10737418240,"transaction_id":1,"initialized":false,"deleted":false}' \
    "$4" >"$root/devicemapper/metadata/$3"
}
add_container f34cee76e36a0000000000000000000000000000000000000000000000000001 \
  kubesql-server dad0ce9e1adc0000000000000000000000000000000000000000000000000001 34709
add_container 9b1d00000000000000000000000000000000000000000000000000000000002a \
  web e85dd793000000000000000000000000000000000000000000000000000000002b 34719
"$dmkit" docker ls --root "$root" >"$work/ls" 2>/dev/null || fail "docker ls --root failed"
grep -q kubesql-server "$work/ls" || fail "docker ls does not list the test root: $(cat "$work/ls")"
expect "$dmkit docker inspect --root $root " f34cee76e36a kubesql-server 9b1d00000000 web
expect "$dmkit docker --root=$root mount k" kubesql-server
expect "$dmkit docker mount --rw --root $root f" f34cee76e36a
expect "$dmkit docker mount --root $root web $work/dirs/res" "$work/dirs/rescue-bin/"
# With --device-id N the one argument is the mountpoint.
expect "$dmkit docker mount --device-id 34709 $work/dirs/res" "$work/dirs/rescue-bin/"
expect "$dmkit docker mount --device-id=34709 --root $root $work/dirs/res" "$work/dirs/rescue-bin/"
expect "$dmkit docker mount --device-id 34709 $work/dirs/rescue-bin " # one only
expect_has "$dmkit docker umount --root $root " kubesql-server web
expect "$dmkit docker inspect --root $root web " # one CONTAINER only
expect "$dmkit docker --root $root ls " # ls takes no argument
expect "$dmkit docker --root $work/do" "$root/"

# --- nsenter --------------------------------------------------------------------
expect_has "$dmkit nsenter -t " 1 "$$"
expect_has "$dmkit nsenter -m -t 1 mou" mount mountpoint
expect "$dmkit nsenter --root=$work/dirs/res" "$work/dirs/rescue-bin/"

# --- registration ----------------------------------------------------------------
# A rescue bin directory: hard links made by `dmkit --install`, dmkit itself,
# and a docker that is another program. Sourced in a fresh shell with it on
# PATH, the file completes the applet names that are dmkit, and leaves the
# other docker alone.
bin=$work/bin
mkdir "$bin"
ln "$dmkit" "$bin/dmkit"
"$dmkit" --install "$bin"
rm "$bin/docker"
printf '#!/bin/sh\necho not dmkit\n' >"$bin/docker"
chmod +x "$bin/docker"
PATH=$bin:$PATH bash -c 'source "$1"; complete -p' _ "$completion" >"$work/complete" 2>&1 ||
  fail "sourcing in a fresh shell failed: $(cat "$work/complete")"
for name in dmkit "${applets[@]}"; do
  if [ "$name" = docker ]; then
    grep -q -- " docker\$" "$work/complete" && fail "registered for a docker that is not dmkit"
  else
    grep -qx -- "complete -F _dmkit $name" "$work/complete" ||
      fail "not registered for $name: $(flat "$(cat "$work/complete")")"
  fi
done
# Symbolic links count too, and a name on PATH that is not dmkit never does.
mkdir "$work/sbin"
"$dmkit" --install -s "$work/sbin"
PATH=$work/sbin:$PATH bash -c 'source "$1"; complete -p holders; complete -p docker' _ "$completion" \
  >"$work/complete" 2>/dev/null
grep -qx "complete -F _dmkit docker" "$work/complete" || fail "not registered for a docker symlink to dmkit"
# Through a link, the link's name is the applet.
expect "$bin/holders --j" --json
expect "$bin/bench " cycle

# Behind sudo: bash-completion's _sudo hands the rest of the line over
# (_command_offset rewrites COMP_LINE and COMP_WORDS).
loader=/usr/share/bash-completion/bash_completion
if [ -f "$loader" ]; then
  got=$(bash -c 'source "$1"; source "$2"
    COMP_LINE="sudo $3 dmsetup re"; COMP_POINT=${#COMP_LINE}
    COMP_WORDS=(sudo "$3" dmsetup re); COMP_CWORD=3
    _command_offset 1; printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$loader" "$completion" "$dmkit")
  [ "$(flat "$got")" = "reload remove remove_all rename resume" ] || fail "behind sudo: [$(flat "$got")]"
else
  echo "bash-completion is not installed: completion behind sudo not tried"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "completion: applets, commands, options, devices, containers and registration as expected"
