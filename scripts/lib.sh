# shellcheck shell=bash
# shellcheck disable=SC2034 # ROOT and CACHE_DIR are for the scripts that source this file
# Helpers shared by the scripts in scripts/: sourced, never run. Each script starts with
#
#   set -euo pipefail
#   LOG_PREFIX=name                 # optional: the prefix of log/die (default: the script's file name;
#                                   # empty: no prefix)
#   # shellcheck source-path=SCRIPTDIR source=lib.sh
#   . "$(dirname "$0")/lib.sh"
#
# and gets ROOT (the repository, absolute), CACHE_DIR (${INCIDENT_CACHE_DIR:-$HOME/.cache/incident-core})
# and the functions below. Nothing here changes the working directory or exports a variable.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${INCIDENT_CACHE_DIR:-$HOME/.cache/incident-core}"
LOG_PREFIX="${LOG_PREFIX-$(basename "$0")}"

# --- messages ------------------------------------------------------------------------------------------

# log MESSAGE...: one line on stderr, "LOG_PREFIX: MESSAGE".
log() { printf '%s%s\n' "${LOG_PREFIX:+$LOG_PREFIX: }" "$*" >&2; }
# die MESSAGE...: log it and exit 1.
die() {
  log "$*"
  exit 1
}
# die_log FILE MESSAGE...: the last 20 lines of FILE (a server's log) on stderr, then die MESSAGE.
die_log() {
  tail -20 "$1" >&2 || true
  shift
  die "$*"
}
# usage TEXT: "usage: TEXT" on stderr and exit 2 (a wrong command line).
usage() {
  printf 'usage: %s\n' "$*" >&2
  exit 2
}
# step TITLE: the heading of a test suite's step, with the UTC time; STEP_PREFIX (if set) names the suite.
step() { printf '\n=== %s%s (%s)\n' "${STEP_PREFIX:+$STEP_PREFIX: }" "$1" "$(date -u +%H:%M:%S)"; }

# --- small predicates ----------------------------------------------------------------------------------

# have COMMAND: whether COMMAND is on PATH (or a function or builtin).
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" = 0 ]; }
# is_count VALUE: whether VALUE is a whole number (digits only, not empty).
is_count() { [[ "$1" =~ ^[0-9]+$ ]]; }
# now: seconds since the epoch.
now() { date +%s; }
# free_port: a TCP port on 127.0.0.1 that is free right now (another process may take it before we do).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- processes -----------------------------------------------------------------------------------------

# pid_alive FILE: whether FILE holds the pid of a live process.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

# wait_gone PID [TENTHS]: wait up to TENTHS tenths of a second (default 50) for PID to exit; 1 if it has not.
wait_gone() {
  local pid="$1" tries="${2:-50}" i
  for ((i = 0; i < tries; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  ! kill -0 "$pid" 2>/dev/null
}

# stop_pid PID [TENTHS]: SIGTERM PID and wait_gone PID TENTHS; 1 if it is still alive (SIGKILL is the
# caller's choice).
stop_pid() {
  kill "$1" 2>/dev/null || true
  wait_gone "$@"
}

# wait_ready TRIES SECONDS PID CMD...: run CMD every SECONDS until it succeeds (0). Gives up with 1 as soon
# as process PID has exited (PID "": no such check) and with 2 after TRIES failed tries.
wait_ready() {
  local tries="$1" interval="$2" pid="$3" i
  shift 3
  for ((i = 0; i < tries; i++)); do
    "$@" && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep "$interval"
  done
  return 2
}

# --- files ---------------------------------------------------------------------------------------------

# write_private FILE: stdin to FILE, readable by its owner only (umask 077), replaced atomically (FILE.tmp,
# then mv): env files and kubeconfigs hold passwords and tokens.
write_private() {
  (
    umask 077
    cat >"$1.tmp"
  )
  mv "$1.tmp" "$1"
}

# replace_dir DIR: DIR.tmp (a finished build) becomes DIR, replacing what was there.
replace_dir() {
  rm -rf "$1"
  mv "$1.tmp" "$1"
}

# --- installing ----------------------------------------------------------------------------------------

# apt_install WHAT PKG...: install the Debian packages PKG... (quietly; `apt-get update` only when the
# first attempt fails). Needs root: otherwise dies naming the command to run.
apt_install() {
  local what="$1"
  shift
  log "installing $what"
  is_root || die "$what is missing and we are not root: apt-get install $*"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq "$@" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    apt-get install -y -qq "$@" >/dev/null
  fi
}

# check_go MIN PURPOSE [HINT]: die unless `go` is installed and at least version MIN (major.minor), naming
# PURPOSE (what needs it) and HINT (what to try) in the message.
check_go() {
  local min="$1" purpose="$2" hint="${3:-}" v
  have go || die "go is missing: $purpose needs go >= $min"
  v="$(go env GOVERSION)"
  v="${v#go}"
  local major="${v%%.*}" rest="${v#*.}" min_major="${min%%.*}" min_minor="${min#*.}"
  local minor="${rest%%.*}"
  if [ "$major" -lt "$min_major" ] || { [ "$major" -eq "$min_major" ] && [ "$minor" -lt "$min_minor" ]; }; then
    die "go $v is too old: $purpose needs go >= $min${hint:+ ($hint)}"
  fi
}

# --- fuzzing (scripts/fuzz, scripts/reliability) ---------------------------------------------------------

# fuzz_targets: the fuzz targets declared in fuzz/Cargo.toml, one a line.
fuzz_targets() {
  sed -n 's/^name = "\([a-z0-9_]*\)"$/\1/p' "$ROOT/fuzz/Cargo.toml" | grep -v '^incident-fuzz$' || true
}

# fuzz_table HEADING: the table of fuzz results from the TSV rows on stdin (target, executions, exec/s,
# crashes, artifact), with HEADING over the target column.
fuzz_table() {
  local t e s c
  printf '%-22s %14s %10s %8s\n' "$1" executions exec/s crashes
  while IFS=$'\t' read -r t e s c _; do
    [ -n "$t" ] || continue
    printf '%-22s %14s %10s %8s\n' "$t" "$e" "$s" "$c"
  done
}
