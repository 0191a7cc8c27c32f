#!/usr/bin/env bash
# The man pages of tools/man: lint-clean under mandoc and groff, one page per
# applet of the binary, the sections every page has, and each page's options
# the same as its applet's --help, so that neither can drift.
# Usage: man_pages.sh DMKIT MAN_DIR
set -euo pipefail
dmkit=$1
man_dir=$2
work=$(mktemp -d /tmp/dmkit-man-XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

for tool in mandoc groff; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (third_party/install-deps.sh)"; exit 77; }
done

# --- lint --------------------------------------------------------------------
pages=("$man_dir"/*.8)
[ -e "${pages[0]}" ] || { echo "FAIL: no pages in $man_dir"; exit 1; }
for page in "${pages[@]}"; do
  name=$(basename "$page")
  # -Tlint reports every level down to STYLE; any line is a failure.
  mandoc -Tlint "$page" >"$work/lint" 2>&1 || true
  [ -s "$work/lint" ] && fail "$name: mandoc -Tlint:" && cat "$work/lint"
  groff -man -ww -z "$page" >"$work/lint" 2>&1 || fail "$name: groff failed"
  [ -s "$work/lint" ] && fail "$name: groff -man -ww -z:" && cat "$work/lint"
  for section in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
    grep -q -E "^\.SH \"?$section\"?\$" "$page" || fail "$name: no $section section"
  done
  # The page renders to text that names itself.
  title=$(sed -n 's/^\.TH \([^ ]*\) 8 .*/\1/p' "$page" | sed 's/\\-/-/g')
  [ "${title,,}.8" = "$name" ] || fail "$name: .TH names '$title'"
done

# --- every applet has a page -------------------------------------------------
mapfile -t applets < <("$dmkit" --list)
[ "${#applets[@]}" -ge 5 ] || fail "dmkit --list printed ${#applets[@]} applets"
for applet in "${applets[@]}"; do
  [ -f "$man_dir/dmkit-$applet.8" ] || fail "applet $applet has no page dmkit-$applet.8"
  grep -q "^\.BR dmkit\\\\-$applet (8)" "$man_dir/dmkit.8" || fail "dmkit.8 does not list dmkit-$applet(8)"
done

# --- options: page against --help --------------------------------------------
# Option words in plain text: "-x" or "--long-name" not glued to a word
# before it (so "target-version", "dm-zero", "read-only" are not options).
option_words() {
  { grep -o -E '(^|[^A-Za-z0-9_-])--?[A-Za-z][A-Za-z0-9-]*' || true; } | sed -E 's/^[^-]*//' | sort -u
}

# The options a page documents: the tags (the line after .TP or .TQ) of its
# OPTIONS section. $2 = main: outside, extra: inside a subsection titled
# "... usage text does not list" (options the applet has whose usage text is
# kept byte for byte as another program's).
page_options() {
  awk -v want="$2" '
    /^\.SH / { in_options = ($0 ~ /^\.SH "?OPTIONS"?$/); extra = 0; next }
    /^\.SS / { extra = ($0 ~ /usage text does not list/); next }
    !in_options { next }
    tag { tag = 0; if ((want == "extra") == (extra == 1)) print; next }
    /^\.(TP|TQ)/ { tag = 1 }
  ' "$1" | sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/^\.[A-Z]* //' | option_words
}

# The options an applet's help text names. --help is one by construction
# (it printed this), and -h when it prints the same.
help_options() {
  local -a cmd=("$dmkit" "$@")
  "${cmd[@]}" --help >"$work/help" 2>&1 || return 1
  # An applet whose commands have their own usage ("dmkit thin ls --help"):
  # the options are the union of theirs.
  local sub short=
  if "${cmd[@]}" -h >"$work/help-h" 2>&1 && cmp -s "$work/help" "$work/help-h"; then
    short=-h
  fi
  if grep -q "COMMAND --help" "$work/help"; then
    for sub in $(sed -n -E 's/^  ([a-z]+) {2,}.*/\1/p' "$work/help"); do
      "${cmd[@]}" "$sub" --help >>"$work/help" 2>&1 || return 1
    done
  fi
  {
    option_words <"$work/help"
    echo --help
    [ -z "$short" ] || echo "$short"
  } | sort -u
}

compare() {
  local name=$1 page=$2
  shift 2
  if ! help_options "$@" >"$work/help.opts"; then
    fail "$name: '$*' --help failed"
    return
  fi
  page_options "$page" main >"$work/page.opts"
  page_options "$page" extra >"$work/extra.opts"
  [ -s "$work/page.opts" ] || fail "$name: no options found in the page's OPTIONS"
  local missing stale misplaced
  missing=$(comm -23 "$work/help.opts" "$work/page.opts")
  stale=$(comm -13 "$work/help.opts" "$work/page.opts")
  misplaced=$(comm -12 "$work/help.opts" "$work/extra.opts")
  [ -z "$missing" ] || fail "$name: in --help but not in the page:" $missing
  [ -z "$stale" ] || fail "$name: in the page but not in --help:" $stale
  [ -z "$misplaced" ] || fail "$name: in --help, but listed as not in the usage text:" $misplaced
  # Options outside the usage text must be real options of the applet:
  # getopt does not call them unrecognised, and the run succeeds.
  local opt
  while read -r opt; do
    [ -n "$opt" ] || continue
    if ! "$dmkit" "$@" "$opt" 1 --help >/dev/null 2>"$work/err" ||
      grep -q -E 'unrecognized option|invalid option' "$work/err"; then
      fail "$name: $opt (not in the usage text) is not accepted: $(head -1 "$work/err")"
    fi
  done <"$work/extra.opts"
  echo "$name: $(wc -l <"$work/page.opts") options match --help" \
    "($(wc -l <"$work/extra.opts") more that the usage text does not list)"
}

compare dmkit.8 "$man_dir/dmkit.8"
for applet in bench dmsetup docker holders nsenter thin; do
  page=$man_dir/dmkit-$applet.8
  [ -f "$page" ] || { fail "no page for $applet"; continue; }
  if ! printf '%s\n' "${applets[@]}" | grep -qx "$applet"; then
    # The page may land before its applet: nothing to compare with yet.
    echo "dmkit-$applet.8: no $applet applet in this binary, comparison skipped"
    continue
  fi
  compare "dmkit-$applet.8" "$page" "$applet"
done

# The checker itself: a page missing an option of --help, and a page with an
# option --help lacks, are both caught.
sed '/^\.B \\-\\-lazy$/d' "$man_dir/dmkit-holders.8" >"$work/missing.8"
page_options "$work/missing.8" main | grep -qx -- --lazy && fail "self-check: --lazy still found after deleting it"
help_options holders >"$work/h" && page_options "$work/missing.8" main >"$work/p" &&
  [ -n "$(comm -23 "$work/h" "$work/p")" ] || fail "self-check: a missing option is not caught"
sed 's/^\.B \\-\\-json$/.B \\-\\-jsonl/' "$man_dir/dmkit-holders.8" >"$work/stale.8"
page_options "$work/stale.8" main >"$work/p"
[ -n "$(comm -13 "$work/h" "$work/p")" ] || fail "self-check: an option --help lacks is not caught"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "all ${#pages[@]} pages lint-clean and in step with --help"
