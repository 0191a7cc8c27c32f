# Shell functions shared by the guest scripts that drive dmkit as a user
# would (incident_replay.sh, docker_grow_guest.sh, docker_orphans_guest.sh).
# Sourced, not run; the guest finds it at /usr/lib/dmkit-tests/guest_checks.sh
# (FILES in CMakeLists.txt).
#
# The caller defines fail MESSAGE (report and exit non-zero) and ok MESSAGE
# (count a passed check). $out holds the output of the last must* command.

# step HEADING: a heading in the log; $current_step names it for fail().
step() { current_step=$1; echo; echo "=================== $*"; }

# must COMMAND...: runs a command that must succeed, showing it and its
# output (stdout and stderr).
must() {
  echo "# $*"
  out=$("$@" 2>&1); rc=$?
  printf '%s\n' "$out"
  [ $rc = 0 ] || fail "'$*' exited with $rc"
}

# must_refuse WANT COMMAND...: a refusal as dmkit must give one: exit
# status 1 and one line, which says WANT.
must_refuse() {
  want=$1; shift
  echo "# $*   (must be refused)"
  out=$("$@" 2>&1); rc=$?
  printf '%s\n' "$out"
  [ $rc = 1 ] || fail "'$*' exited with $rc"
  [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "'$*' printed more than one line"
  case $out in *"$want"*) ;; *) fail "'$*' did not say '$want'" ;; esac
  ok "refused: $*"
}

# must_fail WANT COMMAND...: a command that must fail (any non-zero status,
# any number of lines) and say WANT.
must_fail() {
  want=$1; shift
  echo "# $*   (must be refused)"
  out=$("$@" 2>&1); rc=$?
  printf '%s\n' "$out"
  [ $rc != 0 ] || fail "'$*' succeeded"
  case $out in *"$want"*) ;; *) fail "'$*' did not say '$want'" ;; esac
  ok "refused: $*"
}

# wait_for WHAT COMMAND...: polls COMMAND every 0.1 s, up to $WAIT_TENTHS
# times (default 600: 60 s; the guest is slow when the host is busy).
wait_for() {
  what=$1; shift
  _tries=0
  until "$@"; do
    _tries=$((_tries + 1))
    [ $_tries -lt "${WAIT_TENTHS:-600}" ] || fail "timed out waiting for $what"
    sleep 0.1
  done
}
