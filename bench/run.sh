#!/usr/bin/env bash
# bench/run.sh [--record] — every benchmark: size, cold build, warm build, nginx microVM.
#
# Builds the release binary once, then runs bench/size.sh, bench/cold.sh,
# bench/warm.sh and bench/boot.sh with the same argument. With --record each rewrites its own
# section of BENCHMARKS.md. Exits non-zero only on errors; a missed target
# is printed as MISSED. Knobs: see bench/lib.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Arguments are checked by each script; --help shows this header.
if [[ " $* " == *" -h "* || " $* " == *" --help "* ]]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit 0
fi
echo "== cargo build --release -p microroot" >&2
(cd "$here/.." && cargo build --release -q -p microroot)
export BENCH_NO_BUILD=1
BENCH_REV=$(git -C "$here/.." describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
export BENCH_REV
status=0
for s in size cold warm boot; do
  echo >&2
  echo "==== bench/$s.sh" >&2
  "$here/$s.sh" "$@" | tee "${TMPDIR:-/tmp}/microroot-bench-$s.$$.md" || status=1
done
echo
echo "==== summary"
for s in size cold warm boot; do
  f="${TMPDIR:-/tmp}/microroot-bench-$s.$$.md"
  [[ -f "$f" ]] && grep -m1 '^## ' "$f" | sed 's/^## /- /'
  rm -f "$f"
done
exit "$status"
