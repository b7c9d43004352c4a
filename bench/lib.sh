# shellcheck shell=bash
# Shared helpers for the bench/ scripts. Source it; do not run it.
#
# Knobs (environment):
#   BENCH_RUNS_COLD   timed runs per side for cold builds / mmdebstrap (default 3, min 2)
#   BENCH_RUNS_WARM   timed runs per side for warm builds / xz (default 5, min 3)
#   BENCH_MM_MODES    mmdebstrap modes to try, in order (default "root unshare")
#   BENCH_NO_BUILD=1  do not run `cargo build --release -p microroot` first
#   BENCH_KEEP=1      keep the scratch directory (path printed at exit)

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
MICROROOT="$REPO_ROOT/target/release/microroot"
BENCHMARKS_MD="$REPO_ROOT/BENCHMARKS.md"
SUITE=stable
COMPONENTS=main
ARCH=amd64
# The packages the default image asks for; mmdebstrap gets the same list.
PACKAGES=busybox,libc6,libgcc-s1
# xz settings microroot's encoder uses (byte-identical output); xz refuses
# `-9e` together with `--x86`, so the preset goes through the lzma2 filter.
# shellcheck disable=SC2034 # used by the scripts that source this file
XZ_IMAGE_ARGS=(-T1 --x86 --lzma2=preset=9e)
export NO_COLOR=1

RECORD=0
for arg in "$@"; do
  case "$arg" in
    --record) RECORD=1 ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0
      ;;
    *)
      echo "error: unknown argument: $arg (expected --record)" >&2
      exit 2
      ;;
  esac
done

die() {
  echo "error: $*" >&2
  exit 1
}
note() { echo "== $*" >&2; }

# --- scratch space ---------------------------------------------------------

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/microroot-bench.XXXXXX")
cleanup_scratch() {
  if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
    echo "scratch kept: $SCRATCH" >&2
  else
    rm -rf "$SCRATCH"
  fi
}
trap cleanup_scratch EXIT

# --- tools -----------------------------------------------------------------

ensure_cmd() { # ensure_cmd COMMAND DEBIAN_PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "$1 is missing and apt-get is not available"
  note "installing $2"
  if ! apt-get install -y -qq "$2" >"$SCRATCH/apt.log" 2>&1; then
    apt-get update -qq >>"$SCRATCH/apt.log" 2>&1 || true
    apt-get install -y -qq "$2" >>"$SCRATCH/apt.log" 2>&1 ||
      { cat "$SCRATCH/apt.log" >&2; die "could not install $2"; }
  fi
}

ensure_microroot() {
  if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
    note "cargo build --release -p microroot"
    (cd "$REPO_ROOT" && cargo build --release -q -p microroot) || die "release build failed"
  fi
  [[ -x "$MICROROOT" ]] || die "$MICROROOT not found (run cargo build --release -p microroot)"
  # The revision the binary was built from (others may commit while we run).
  if [[ -z "${BENCH_REV:-}" ]]; then BENCH_REV=$(microroot_rev); fi
}

# --- the mirror, from the host's apt sources --------------------------------

# Prints the first Debian mirror URI: the first `URIs:` value ending in
# /debian of a `Types: deb` stanza in /etc/apt/sources.list.d/*.sources,
# else the first `deb` line's URI in /etc/apt/sources.list.
host_mirror() {
  local uri="" f
  shopt -s nullglob
  for f in /etc/apt/sources.list.d/*.sources; do
    uri=$(awk '
      function flush() { if (!done && deb && uris != "") { n = split(uris, u, /[ \t]+/); for (i = 1; i <= n; i++) if (u[i] ~ /\/debian\/?$/) { print u[i]; done = 1; exit } } deb = 0; uris = "" }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
      tolower($1) == "uris:" { uris = ""; for (i = 2; i <= NF; i++) uris = uris " " $i }
      END { flush() }' "$f")
    [[ -n "$uri" ]] && break
  done
  shopt -u nullglob
  if [[ -z "$uri" && -r /etc/apt/sources.list ]]; then
    uri=$(awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } print $i; exit }' /etc/apt/sources.list)
  fi
  [[ -n "$uri" ]] || die "no Debian mirror in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
  echo "${uri%/}"
}

# --- timing ----------------------------------------------------------------

# time_run LABEL LOGFILE CMD...: runs CMD once with stdout+stderr to LOGFILE
# and appends "wall cpu" (seconds; cpu = user+sys of the command and its
# waited-for children) to $SCRATCH/times/LABEL. Fails the script if CMD fails.
time_run() {
  local label=$1 log=$2
  shift 2
  mkdir -p "$SCRATCH/times"
  local tf="$SCRATCH/times/.last" TIMEFORMAT='%3R %3U %3S'
  if ! { time "$@" >"$log" 2>&1; } 2>"$tf"; then
    echo "--- $label failed: $*" >&2
    tail -n 30 "$log" >&2
    die "$label failed"
  fi
  awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$tf" >>"$SCRATCH/times/$label"
}

# stat_of LABEL COLUMN(1=wall,2=cpu) WHAT(median|min|max|n)
stat_of() {
  sort -n -k"$2,$2" "$SCRATCH/times/$1" | awk -v c="$2" -v w="$3" '
    { v[NR] = $c }
    END {
      if (w == "n") { print NR; exit }
      if (w == "min") { printf "%.2f\n", v[1]; exit }
      if (w == "max") { printf "%.2f\n", v[NR]; exit }
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%.3f\n", m
    }'
}
median() { stat_of "$1" 1 median; }

# Markdown row: | NAME | runs | median | min | max | cpu median |
time_row() { # time_row LABEL DISPLAY_NAME
  printf '| %s | %s | %.2f | %s | %s | %.2f |\n' "$2" "$(stat_of "$1" 1 n)" \
    "$(stat_of "$1" 1 median)" "$(stat_of "$1" 1 min)" "$(stat_of "$1" 1 max)" "$(stat_of "$1" 2 median)"
}
time_header() {
  echo '| command | runs | median wall (s) | min (s) | max (s) | median CPU user+sys (s) |'
  echo '|---|---:|---:|---:|---:|---:|'
}

# ratio A B -> A/B with 2 decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a / b }'; }
# paired_ratio A B -> median over runs i of A_i/B_i (wall); runs are
# interleaved, so each pair saw about the same load from other work.
paired_ratio() {
  paste -d' ' "$SCRATCH/times/$1" "$SCRATCH/times/$2" | awk '{ print $1 / $3 }' | sort -g | awk '
    { v[NR] = $1 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f\n", m }'
}
# verdict VALUE LIMIT -> MET if VALUE <= LIMIT else MISSED
verdict() { awk -v v="$1" -v l="$2" 'BEGIN { print (v <= l) ? "MET" : "MISSED" }'; }

# --- microroot phases --------------------------------------------------------

# phase_breakdown OUT CACHE: one extra build with -v, every log line stamped
# on arrival; prints "phase seconds" lines (resolve, fetch, assemble, write).
phase_breakdown() {
  local out=$1 cache=$2
  {
    "$MICROROOT" build -v -q --out "$out" --cache-dir "$cache" 2>&1 >/dev/null |
      while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done
    printf '%s END\n' "$(date +%s.%N)"
  } | awk '
    / microroot::progress: [a-z]+:/ || / END$/ {
      name = ($2 == "END") ? "END" : $0
      sub(/.* microroot::progress: /, "", name); sub(/:.*/, "", name)
      if (prev != "") printf "%s %.2f\n", prev, $1 - t
      prev = (name == "END") ? "" : name; t = $1
    }'
}

# --- machine & versions --------------------------------------------------------

machine_line() {
  local cpu
  cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  printf '%s cores (`nproc`), %s, load average at start %s' "$(nproc)" "${cpu:-unknown CPU}" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
}
microroot_rev() { git -C "$REPO_ROOT" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown; }
xz_version() { xz --version | head -n1 | awk '{ print $NF }'; }
mmdebstrap_version() { mmdebstrap --version 2>/dev/null | awk '{ print $NF }'; }

# env_block mm|xz-only: the "measured on" lines for a section.
env_block() {
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- machine: $(machine_line)"
  echo "- microroot: \`${BENCH_REV:-$(microroot_rev)}\` (release build), $("$MICROROOT" --version)"
  local tools
  tools="xz $(xz_version)"
  if [[ "$1" == mm ]]; then tools+=", mmdebstrap $(mmdebstrap_version)"; fi
  echo "- tools: $tools"
}

# --- mmdebstrap ----------------------------------------------------------------

# mm_run MODE OUT.tar: runs mmdebstrap for the image's packages, as a tar.
mm_run() {
  local mode=$1 out=$2
  mmdebstrap --quiet --mode="$mode" --variant=extract --architectures="$ARCH" \
    --components="$COMPONENTS" --include="$PACKAGES" "$SUITE" "$out" "$MIRROR"
}

# mm_probe_modes: the modes from BENCH_MM_MODES that work here (one probe run each);
# sets the array MM_MODES.
mm_probe_modes() {
  ensure_cmd mmdebstrap mmdebstrap
  MM_MODES=()
  local m
  for m in ${BENCH_MM_MODES:-root unshare}; do
    if mm_run "$m" "$SCRATCH/probe-$m.tar" >"$SCRATCH/probe-$m.log" 2>&1; then
      MM_MODES+=("$m")
    else
      note "mmdebstrap --mode=$m does not work here (skipped): $(tail -n1 "$SCRATCH/probe-$m.log")"
    fi
    rm -f "$SCRATCH/probe-$m.tar"
  done
  ((${#MM_MODES[@]} > 0)) || die "no mmdebstrap mode works here (tried: ${BENCH_MM_MODES:-root unshare})"
}

# --- BENCHMARKS.md -----------------------------------------------------------------

# record_section NAME FILE: replaces the text between
# <!-- bench:NAME:begin --> and <!-- bench:NAME:end --> in BENCHMARKS.md
# with FILE's content (appends a new marked section if there is none).
record_section() {
  local name=$1 file=$2 begin="<!-- bench:$1:begin -->" end="<!-- bench:$1:end -->"
  [[ -f "$BENCHMARKS_MD" ]] || printf '# Benchmarks\n' >"$BENCHMARKS_MD"
  local tmp="$BENCHMARKS_MD.tmp.$$"
  if grep -qF "$begin" "$BENCHMARKS_MD" && grep -qF "$end" "$BENCHMARKS_MD"; then
    awk -v b="$begin" -v e="$end" -v f="$file" '
      $0 == b { print; while ((getline l < f) > 0) print l; skip = 1; next }
      $0 == e { skip = 0 }
      !skip { print }' "$BENCHMARKS_MD" >"$tmp"
  else
    { cat "$BENCHMARKS_MD"; printf '\n%s\n' "$begin"; cat "$file"; printf '%s\n' "$end"; } >"$tmp"
  fi
  mv "$tmp" "$BENCHMARKS_MD"
  note "recorded the $name section in BENCHMARKS.md"
}

# finish NAME FILE: prints the section; records it with --record.
finish() {
  echo
  cat "$2"
  if [[ "$RECORD" == 1 ]]; then record_section "$1" "$2"; fi
}
