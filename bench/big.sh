#!/usr/bin/env bash
# bench/big.sh [big|huge|all] — big images: microroot against mmdebstrap and curl.
#
# Manifests: bench/big.toml (compilers and interpreters, ~77 packages,
# ~440 MB of content) and bench/huge.toml (that plus LLVM/Clang/MLIR dev
# files, C++/Fortran, SciPy, Go, Rust: ~151 packages, ~2.5 GB). Both write
# an uncompressed tar with no init. For each manifest asked for (default: big), one run of each:
#   microroot cold:  `microroot build -v --json M --out OUT --cache-dir EMPTY`
#     (log lines stamped on arrival: the phase breakdown, fetch included);
#   microroot no-op: the same again, outputs current (the up-to-date stamp:
#     the plan is confirmed, nothing is written);
#   microroot warm:  OUT deleted, same cache: a real rebuild from cached .debs
#     (InRelease is still fetched to learn whether the suite moved);
#   the plan:        `microroot lock` on a copy of M (same cache) gives the
#     exact package list, versions and pool file names;
#   curl, 1 connection: ONE `curl -K LIST` invocation fetching every planned
#     .deb from MIRROR in turn (keep-alive; the connection count is checked
#     with %{num_connects}) — against microroot's downloads in the cold
#     build (8 parallel connections, sha256 checked while streaming): from
#     the start of its fetch phase until its "downloads verified" log line,
#     while the .debs that arrived are already being unpacked;
#   curl, N connections: the same with `--parallel --parallel-max N`
#     (N = BENCH_BIG_CURL_PARALLEL, default 8 like microroot; 0 skips it);
#   mmdebstrap cold: `mmdebstrap --mode=MODE --variant=extract
#     --include=<every planned package> CODENAME OUT.tar MIRROR` (MODE: the
#     first of BENCH_MM_MODES that works here);
#   mmdebstrap warm: the same with the curl-fetched .debs (named as apt names
#     them) synced into /var/cache/apt/archives by --setup-hook, so apt
#     downloads nothing ("Need to get 0 B", checked); it still runs
#     apt-get update into a fresh directory, as it always does.
# Every timed command runs under `/usr/bin/time -v`: wall time, user+sys CPU
# and peak RSS (Maximum resident set size: the largest single process of
# the command's tree, for mmdebstrap usually apt or tar).
# DNS probe: 8 parallel loops of `getent ahosts MIRROR_HOST`, printed with
# the results: a resolver that drops concurrent queries (glibc retries after
# 5 s) is why microroot looks each host up once per run and shares it.
# MIRROR is the host's first Debian apt source (microroot reads the same
# file itself; checked against its log). Prints a table per manifest; records
# nothing in BENCHMARKS.md. Knobs: BENCH_BIG_CURL_PARALLEL, those of bench/lib.sh.
set -euo pipefail
WHICH=big
lib_args=()
for arg in "$@"; do
  case "$arg" in
    big | huge | all) WHICH=$arg ;;
    -h | --help) lib_args+=("$arg") ;;
    *)
      echo "error: unknown argument: $arg (expected big, huge or all)" >&2
      exit 2
      ;;
  esac
done
set -- "${lib_args[@]+"${lib_args[@]}"}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CURL_PAR=${BENCH_BIG_CURL_PARALLEL:-8}
case "$WHICH" in
  all) NAMES=(big huge) ;;
  *) NAMES=("$WHICH") ;;
esac
ensure_microroot
ensure_cmd mmdebstrap mmdebstrap
ensure_cmd curl curl
ensure_cmd /usr/bin/time time
ensure_cmd jq jq
MIRROR=$(host_mirror)
note "mirror (from host apt sources): $MIRROR"

# --- timing with /usr/bin/time -v ------------------------------------------------

# tv_parse FILE -> "wall cpu rss_kib" from a `/usr/bin/time -v` report.
tv_parse() {
  awk -F': ' '
    /Elapsed \(wall clock\) time/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
    /User time \(seconds\)/ { u = $2 }
    /System time \(seconds\)/ { s = $2 }
    /Maximum resident set size/ { r = $2 }
    END { printf "%.2f %.2f %d\n", w, u + s, r }' "$1"
}
# tv_run LABEL LOG CMD...: runs CMD under /usr/bin/time -v, output to LOG;
# stores "wall cpu rss_kib" in $SCRATCH/res/LABEL. Fails the script if CMD fails.
tv_run() {
  local label=$1 log=$2
  shift 2
  mkdir -p "$SCRATCH/res"
  if ! /usr/bin/time -v -o "$SCRATCH/res/$label.time" "$@" >"$log" 2>&1; then
    echo "--- $label failed: $*" >&2
    tail -n 30 "$log" >&2
    die "$label failed"
  fi
  tv_parse "$SCRATCH/res/$label.time" >"$SCRATCH/res/$label"
}
# tv_stamped LABEL STDOUT LOG CMD...: CMD under /usr/bin/time -v, its stdout
# to the file STDOUT (or, with "-", into LOG too), its stderr stamped line
# by line on arrival into LOG, then an END line.
tv_stamped() {
  local label=$1 outf=$2 log=$3
  shift 3
  mkdir -p "$SCRATCH/res"
  local rc=0 tf="$SCRATCH/res/$label.time"
  {
    if [[ "$outf" == - ]]; then
      /usr/bin/time -v -o "$tf" "$@" 2>&1
    else
      /usr/bin/time -v -o "$tf" "$@" 2>&1 >"$outf"
    fi | while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done
    printf '%s END\n' "$(date +%s.%N)"
  } >"$log" || rc=$?
  if ((rc != 0)); then
    echo "--- $label failed: $*" >&2
    tail -n 30 "$log" >&2
    die "$label failed"
  fi
  tv_parse "$tf" >"$SCRATCH/res/$label"
}
res() { # res LABEL FIELD(1=wall,2=cpu,3=rss_kib)
  awk -v f="$2" '{ print $f }' "$SCRATCH/res/$1"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.0f MB", b / 1e6 }'; }

# phases LOG: "phase seconds" lines from a stamped -v log (resolve, fetch,
# assemble, write); the last phase ends when the process closes stderr.
phases() {
  awk '
    / microroot::progress: [a-z]+:/ || / END$/ {
      name = ($2 == "END") ? "END" : $0
      sub(/.* microroot::progress: /, "", name); sub(/:.*/, "", name)
      if (prev != "") { d[prev] += $1 - t; if (!(prev in seen)) { seen[prev] = 1; order[++n] = prev } }
      prev = (name == "END") ? "" : name; t = $1
    }
    END { for (i = 1; i <= n; i++) printf "%s %.2f\n", order[i], d[order[i]] }' "$1"
}
# mm_phases LOG: "step seconds" lines from a stamped `mmdebstrap --verbose`
# log: setup (hooks; sync-in), update (apt-get update), download, extract,
# finish (clean, tarball); the last step ends when the process exits.
mm_phases() {
  awk '
    function mark(n) { if (prev != "") { d[prev] += $1 - t; order[++k] = prev } prev = n; t = $1 }
    NR == 1 { mark("setup"); next }
    / I: running apt-get update/ { mark("update"); next }
    / I: downloading packages/ { mark("download"); next }
    / I: extracting archives/ { mark("extract"); next }
    / I: cleaning package lists/ { mark("finish"); next }
    / END$/ { mark("") }
    END { for (i = 1; i <= k; i++) printf "%s %.2f\n", order[i], d[order[i]] }' "$1"
}
phase_of() { awk -v p="$2" '$1 == p { print $2 }' <<<"$1"; }

# --- the lockfile ----------------------------------------------------------------

# lock_packages LOCK: "name version architecture filename size" per [[package]].
lock_packages() {
  awk '
    function flush() { if (name != "") print name, version, arch, file, size; name = version = arch = file = size = "" }
    /^\[\[package\]\]/ { flush(); inpkg = 1; next }
    /^\[/ { flush(); inpkg = 0; next }
    inpkg && /^[a-z_]+ *= */ {
      k = $1; v = $0; sub(/^[^=]*= */, "", v); gsub(/"/, "", v)
      if (k == "name") name = v; else if (k == "version") version = v
      else if (k == "architecture") arch = v; else if (k == "filename") file = v
      else if (k == "size") size = v
    }
    END { flush() }' "$1"
}
lock_codename() { awk -F'"' '/^codename *=/ { print $2; exit }' "$1"; }

# curl_sum FIELD LOG: the sum of a field of curl's -w lines
# ("num_connects size_download http_code"; the log also has stderr).
curl_sum() {
  awk -v f="$1" 'NF == 3 && $1 ~ /^[0-9]+$/ && $3 ~ /^[0-9][0-9][0-9]$/ { s += $f } END { print s + 0 }' "$2"
}

# --- mmdebstrap --------------------------------------------------------------------

# mm_pick_mode: the first mode of BENCH_MM_MODES that works here (probed with
# the base image's packages); sets MM_MODE.
mm_pick_mode() {
  local m
  MM_MODE=""
  for m in ${BENCH_MM_MODES:-root unshare}; do
    if mm_run "$m" "$SCRATCH/probe-$m.tar" >"$SCRATCH/probe-$m.log" 2>&1; then
      MM_MODE=$m
      rm -f "$SCRATCH/probe-$m.tar"
      return 0
    fi
    note "mmdebstrap --mode=$m does not work here (skipped): $(tail -n1 "$SCRATCH/probe-$m.log")"
    rm -f "$SCRATCH/probe-$m.tar"
  done
  die "no mmdebstrap mode works here (tried: ${BENCH_MM_MODES:-root unshare})"
}
# mm_big OUT.tar INCLUDE CODENAME [EXTRA_OPTIONS...]: the mmdebstrap command line
# (for /usr/bin/time, which runs executables only), in the array MM_CMD.
mm_big() {
  local out=$1 include=$2 codename=$3
  shift 3
  MM_CMD=(mmdebstrap --verbose --mode="$MM_MODE" --variant=extract --architectures="$ARCH"
    --components="$COMPONENTS" --include="$include" "$@" "$codename" "$out" "$MIRROR")
}

# dns_probe: 8 parallel loops of 5 `getent ahosts MIRROR_HOST` each; a slow
# resolver shows as lookups that wait for glibc's 5 s retry timeout.
MIRROR_HOST=$(sed -E 's|^[a-z]+://([^/:]+).*|\1|' <<<"$MIRROR")
dns_probe() {
  local f="$SCRATCH/dns.times" i
  : >"$f"
  for i in 1 2 3 4 5 6 7 8; do
    (for _ in 1 2 3 4 5; do /usr/bin/time -f %e -a -o "$f" getent ahosts "$MIRROR_HOST" >/dev/null || true; done) &
  done
  wait
  awk '$1 ~ /^[0-9.]+$/ { n++; if ($1 >= 1) slow++; if ($1 > max) max = $1 }
    END { printf "%d of %d lookups took ≥ 1 s (slowest %.2f s)", slow, n, max }' "$f"
}
note "probing DNS (8 parallel lookups of the mirror's host)"
DNS_PROBE=$(dns_probe)
note "DNS: $DNS_PROBE"

note "probing mmdebstrap modes"
mm_pick_mode
note "mmdebstrap mode: $MM_MODE"

# --- one manifest ------------------------------------------------------------------

bench_one() { # bench_one NAME
  local name=$1 d="$SCRATCH/$1"
  local manifest="$d/$name.toml" cache="$d/cache" out="$d/out"
  mkdir -p "$d/lock" "$cache"
  # Copies, so that no microroot.lock beside the checked-in manifests is read
  # or written; the builds' copy never gets one (a lockfile would spare the
  # warm build its InRelease fetch).
  cp "$BENCH_DIR/$name.toml" "$manifest"
  cp "$BENCH_DIR/$name.toml" "$d/lock/$name.toml"

  note "$name: microroot build, cold (empty cache)"
  tv_stamped "$name.mr-cold" "$d/cold.json" "$d/cold.log" "$MICROROOT" \
    build -v -q --json "$manifest" --out "$out" --cache-dir "$cache"
  local tar_mr content entries
  tar_mr=$(stat -c %s "$out/rootfs.tar")
  content=$(jq -r .content_bytes "$d/cold.json")
  entries=$(jq -r .entries "$d/cold.json")
  note "$name: microroot build, no-op (outputs current)"
  tv_stamped "$name.mr-noop" "$d/noop.json" "$d/noop.log" "$MICROROOT" \
    build -v -q --json "$manifest" --out "$out" --cache-dir "$cache"
  [[ $(jq -r .up_to_date "$d/noop.json") == true ]] || note "warning: the no-op build was not up to date"
  note "$name: microroot build, warm (same cache, output deleted)"
  rm -rf "$out"
  tv_stamped "$name.mr-warm" "$d/warm.json" "$d/warm.log" "$MICROROOT" \
    build -v -q --json "$manifest" --out "$out" --cache-dir "$cache"
  cmp -s <(jq -S 'del(.seconds)' "$d/cold.json") <(jq -S 'del(.seconds)' "$d/warm.json") ||
    note "warning: the warm build's report differs from the cold build's"
  rm -rf "$out"

  note "$name: microroot lock (the plan)"
  MICROROOT_LOG=microroot_fetch=debug "$MICROROOT" lock -v -q "$d/lock/$name.toml" --cache-dir "$cache" \
    >"$d/lock.log" 2>&1 || { tail "$d/lock.log" >&2; die "microroot lock failed"; }
  grep -qF "$MIRROR/" "$d/lock.log" "$d/cold.log" ||
    die "microroot did not fetch from the host mirror (see its log: $(grep -m1 -o 'GET url=.*' "$d/lock.log" || true))"
  local lock="$d/lock/microroot.lock" codename
  codename=$(lock_codename "$lock")
  lock_packages "$lock" >"$d/packages"
  local npkg deb_bytes include
  npkg=$(wc -l <"$d/packages")
  deb_bytes=$(awk '{ s += $5 } END { print s }' "$d/packages")
  include=$(awk '{ print $1 }' "$d/packages" | paste -sd, -)
  note "$name: $npkg packages, $(mb "$deb_bytes") of .debs, $(mb "$content") of content, suite $codename"

  # curl: every .deb, named as apt names it in /var/cache/apt/archives
  # (NAME_VERSION_ARCH.deb, the epoch's colon as %3a) for mmdebstrap's warm run.
  local debs="$d/debs"
  mkdir -p "$debs"
  awk -v m="$MIRROR" -v dir="$debs" '{
      v = $2; gsub(/:/, "%3a", v)
      printf "url = \"%s/%s\"\noutput = \"%s/%s_%s_%s.deb\"\n", m, $4, dir, $1, v, $3
    }' "$d/packages" >"$d/curl.cfg"
  local wout='%{num_connects} %{size_download} %{http_code}\n'
  note "$name: curl, one connection, $npkg .debs"
  tv_run "$name.curl-1" "$d/curl-1.log" curl -sS --fail -w "$wout" -K "$d/curl.cfg"
  local conns got
  conns=$(curl_sum 1 "$d/curl-1.log")
  got=$(curl_sum 2 "$d/curl-1.log")
  [[ "$got" == "$deb_bytes" ]] || die "curl fetched $got bytes, the plan has $deb_bytes"
  local conns_par=""
  if ((CURL_PAR > 0)); then
    note "$name: curl, $CURL_PAR connections"
    mkdir -p "$d/debs-par"
    sed "s|^output = \"$debs/|output = \"$d/debs-par/|" "$d/curl.cfg" >"$d/curl-par.cfg"
    tv_run "$name.curl-par" "$d/curl-par.log" curl -sS --fail -w "$wout" \
      --parallel --parallel-immediate --parallel-max "$CURL_PAR" -K "$d/curl-par.cfg"
    conns_par=$(curl_sum 1 "$d/curl-par.log")
    [[ $(curl_sum 2 "$d/curl-par.log") == "$deb_bytes" ]] || die "curl --parallel fetched fewer bytes than the plan has"
    rm -rf "$d/debs-par"
  fi

  note "$name: mmdebstrap --mode=$MM_MODE --variant=extract, cold"
  mm_big "$d/mm-cold.tar" "$include" "$codename"
  tv_stamped "$name.mm-cold" - "$d/mm-cold.log" "${MM_CMD[@]}"
  local tar_mm mm_entries mr_entries_tar
  tar_mm=$(stat -c %s "$d/mm-cold.tar")
  mm_entries=$(tar tf "$d/mm-cold.tar" | wc -l)
  rm -f "$d/mm-cold.tar"
  note "$name: mmdebstrap, warm (.debs synced into /var/cache/apt/archives)"
  mm_big "$d/mm-warm.tar" "$include" "$codename" \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
    --setup-hook="sync-in $debs /var/cache/apt/archives/"
  tv_stamped "$name.mm-warm" - "$d/mm-warm.log" "${MM_CMD[@]}"
  local mm_warm_note="apt downloaded nothing"
  grep -q '^[0-9.]* Need to get 0 B' "$d/mm-warm.log" ||
    mm_warm_note="apt still downloaded: $(grep -m1 -o 'Need to get.*' "$d/mm-warm.log" || echo '?')"
  local tar_mm_warm
  tar_mm_warm=$(stat -c %s "$d/mm-warm.tar")
  rm -f "$d/mm-warm.tar"
  local mm_got
  mm_got=$(grep -m1 -o 'Need to get.*' "$d/mm-cold.log" | sed 's/^Need to get //; s/ of archives\.$//' || true)

  local mm_cold_phases mm_warm_phases
  mm_cold_phases=$(mm_phases "$d/mm-cold.log")
  mm_warm_phases=$(mm_phases "$d/mm-warm.log")
  local cold_phases warm_phases fetch_s
  cold_phases=$(phases "$d/cold.log")
  warm_phases=$(phases "$d/warm.log")
  fetch_s=$(grep -m1 'downloads verified' "$d/cold.log" | grep -o 'seconds=[0-9.]*' | cut -d= -f2)
  [[ -n "$fetch_s" ]] || die "no \"downloads verified\" line in microroot's -v log ($d/cold.log)"

  rm -rf "$cache" "$debs" "$out"

  # --- the table ---
  row() { # row WHAT MR_LABEL PEER_NAME PEER_LABEL
    local mr_w peer_w mr_rss peer_rss
    mr_w=$(res "$2" 1)
    mr_rss=$(mib "$(res "$2" 3)")
    if [[ -n "$4" ]]; then
      peer_w=$(res "$4" 1)
      peer_rss=$(mib "$(res "$4" 3)")
      printf '| %s | %.2f | %s | %.2f | **%s** | %s | %s |\n' "$1" "$mr_w" "$3" "$peer_w" "$(ratio "$mr_w" "$peer_w")" "$mr_rss" "$peer_rss"
    else
      printf '| %s | %.2f | %s | — | — | %s | — |\n' "$1" "$mr_w" "$3" "$mr_rss"
    fi
  }
  fetch_row() { # fetch_row WHAT PEER_NAME PEER_LABEL
    local pw
    pw=$(res "$3" 1)
    printf '| %s | %.2f (%s/s) | %s | %.2f (%s/s) | **%s** | — | %s |\n' "$1" "$fetch_s" \
      "$(mb "$(awk -v b="$deb_bytes" -v s="$fetch_s" 'BEGIN { print b / s }')")" "$2" "$pw" \
      "$(mb "$(awk -v b="$deb_bytes" -v s="$pw" 'BEGIN { print b / s }')")" "$(ratio "$fetch_s" "$pw")" "$(mib "$(res "$3" 3)")"
  }
  local mm="mmdebstrap --mode=$MM_MODE --variant=extract"
  {
    echo "### \`bench/$name.toml\`: $npkg packages, $(mb "$deb_bytes") of .debs, $(mb "$content") of content"
    echo
    echo "Debian $codename, $ARCH, component $COMPONENTS, the host's mirror on every side; one run each, in this order: microroot cold, no-op, warm; curl; mmdebstrap cold, warm. Measured by \`bench/big.sh $name\`."
    echo
    echo "| what | microroot (s) | peer | peer (s) | ratio microroot/peer | microroot peak RSS | peer peak RSS |"
    echo "|---|---:|---|---:|---:|---:|---:|"
    row "cold build (empty cache) → .tar" "$name.mr-cold" "$mm, cold" "$name.mm-cold"
    row "warm build (cached .debs, output deleted) → .tar" "$name.mr-warm" "$mm, .debs synced in" "$name.mm-warm"
    row "warm build vs mmdebstrap cold" "$name.mr-warm" "$mm, cold" "$name.mm-cold"
    row "no-op build (outputs current: plan confirmed, nothing written)" "$name.mr-noop" "—" ""
    fetch_row "fetch $npkg .debs (microroot: the cold build's downloads, 8 connections, sha256 checked, unpacking as they arrive)" \
      "curl, 1 connection ($conns connect)" "$name.curl-1"
    if ((CURL_PAR > 0)); then
      fetch_row "fetch $npkg .debs, same" "curl --parallel-max $CURL_PAR ($conns_par connects)" "$name.curl-par"
    fi
    echo
    echo "CPU (user+sys, s): microroot cold $(res "$name.mr-cold" 2), warm $(res "$name.mr-warm" 2), no-op $(res "$name.mr-noop" 2); mmdebstrap cold $(res "$name.mm-cold" 2), warm $(res "$name.mm-warm" 2); curl 1 connection $(res "$name.curl-1" 2)$( ((CURL_PAR > 0)) && echo ", $CURL_PAR connections $(res "$name.curl-par" 2)")."
    echo
    echo "Where microroot's time goes (\`-v\` log lines stamped on arrival):"
    echo
    echo "| phase | cold (s) | warm (s) |"
    echo "|---|---:|---:|"
    awk 'NR == FNR { w[$1] = $2; next } { printf "| %s | %.2f | %s |\n", $1, $2, ($1 in w) ? sprintf("%.2f", w[$1]) : "—" }' \
      <(echo "$warm_phases") <(echo "$cold_phases")
    echo
    echo "Where mmdebstrap's time goes (\`--verbose\` lines stamped on arrival; setup includes the warm run's sync-in of the .debs):"
    echo
    echo "| step | cold (s) | warm (s) |"
    echo "|---|---:|---:|"
    awk 'NR == FNR { w[$1] = $2; next } { printf "| %s | %.2f | %s |\n", $1, $2, ($1 in w) ? sprintf("%.2f", w[$1]) : "—" }' \
      <(echo "$mm_warm_phases") <(echo "$mm_cold_phases")
    echo
    echo "- outputs: microroot rootfs.tar $tar_mr bytes ($entries entries); mmdebstrap .tar $tar_mm bytes ($mm_entries entries; warm run $tar_mm_warm bytes)"
    echo "- mmdebstrap cold: apt's \"Need to get\" $mm_got; warm: $mm_warm_note (its apt-get update of the Packages index still runs)"
    echo "- peak RSS is \`/usr/bin/time -v\`'s Maximum resident set size: the largest single process (mmdebstrap: apt, dpkg-deb or tar, not their sum)"
    echo
  } >"$d/section.md"
  cat "$d/section.md" >>"$SCRATCH/big.md"
}

{
  echo "## Big images: microroot against mmdebstrap and curl"
  echo
  env_block mm
  echo "- curl: $(curl --version | head -n1 | awk '{ print $2 }'), mirror: the host's apt source"
  echo "- DNS, 8 parallel loops of 5 \`getent ahosts\` of the mirror's host: $DNS_PROBE. microroot looks each host up once per run; curl and apt once per connection."
  echo
} >"$SCRATCH/big.md"
for n in "${NAMES[@]}"; do
  bench_one "$n"
done
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (2-core machine: other work running at the same time shows here)." >>"$SCRATCH/big.md"
echo
cat "$SCRATCH/big.md"
