#!/usr/bin/env bash
# bench/size.sh [--record] — size of the default image against its peers.
#
# Builds the default image (fresh cache), and reports:
#   - out/dist/rootfs.tar.xz bytes (target: <= 1.4 MB = 1,400,000 bytes),
#     its uncompressed tar size, content bytes (regular files) and entry count;
#   - whether every glibc/libgcc runtime library the target names is in the
#     image (every versioned lib*.so.N that libc6 and libgcc-s1 ship in the
#     library directory, except those the base manifest leaves out on
#     purpose: the preload/debugger-only ones, libmvec and libBrokenLocale);
#   - peer: `mmdebstrap --variant=extract --include=busybox,libc6,libgcc-s1
#     stable` written as .tar, and that tar compressed with `xz -T1 -9e`;
#   - the per-file xz floor: libc.so.6, libm.so.6, busybox, ld.so and
#     libgcc_s.so.1 each compressed alone with `xz -T1 --x86 --lzma2=preset=9e`.
# With --record, rewrites the size section of BENCHMARKS.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LIMIT=1400000
ensure_microroot
ensure_cmd jq jq
MIRROR=$(host_mirror)
note "mirror (from host apt sources): $MIRROR"

# --- microroot ---------------------------------------------------------------
note "microroot build (fresh cache)"
"$MICROROOT" build -q --json --out "$SCRATCH/out" --cache-dir "$SCRATCH/cache" >"$SCRATCH/build.json" ||
  die "microroot build failed"
IMG="$SCRATCH/out/rootfs.tar.xz"
[[ -f "$IMG" ]] || die "no rootfs.tar.xz in the build output"
img_xz=$(stat -c %s "$IMG")
xz -dc "$IMG" >"$SCRATCH/image.tar"
img_tar=$(stat -c %s "$SCRATCH/image.tar")
img_entries=$(tar -tf "$SCRATCH/image.tar" | wc -l)
img_content=$(tar -tvf "$SCRATCH/image.tar" | awk '$1 ~ /^-/ { s += $3 } END { print s + 0 }')
img_reported_entries=$(jq -r '.entries' "$SCRATCH/build.json")
codename=$(jq -r '.codename' "$SCRATCH/build.json")
pkgs=$(jq -r '[.packages[] | select(.version != null) | "\(.owner) \(.version)"] | join(", ")' "$SCRATCH/build.json")
mkdir -p "$SCRATCH/image"
tar --no-same-owner -xf "$SCRATCH/image.tar" -C "$SCRATCH/image"

# --- mmdebstrap ----------------------------------------------------------------
ensure_cmd mmdebstrap mmdebstrap
mm_mode=""
for m in ${BENCH_MM_MODES:-root unshare}; do
  note "mmdebstrap --mode=$m --variant=extract --include=$PACKAGES $SUITE"
  if mm_run "$m" "$SCRATCH/mm.tar" >"$SCRATCH/mm.log" 2>&1; then
    mm_mode=$m
    break
  fi
  note "mmdebstrap --mode=$m failed: $(tail -n1 "$SCRATCH/mm.log")"
done
[[ -n "$mm_mode" ]] || die "no mmdebstrap mode works here"
mm_tar=$(stat -c %s "$SCRATCH/mm.tar")
mm_entries=$(tar -tf "$SCRATCH/mm.tar" | wc -l)
mm_content=$(tar -tvf "$SCRATCH/mm.tar" | awk '$1 ~ /^-/ { s += $3 } END { print s + 0 }')
note "xz -T1 -9e on mmdebstrap's tar"
mm_xz=$(xz -T1 -9e -c "$SCRATCH/mm.tar" | wc -c)
mkdir -p "$SCRATCH/mm"
tar --no-same-owner --exclude='./dev/*' -xf "$SCRATCH/mm.tar" -C "$SCRATCH/mm"

# --- runtime libraries -----------------------------------------------------------
# Every versioned shared object libc6 and libgcc-s1 put in the library
# directory (as mmdebstrap extracted them). The target names libc, libm,
# libresolv, libpthread, libdl, librt, libutil, libanl, libgcc_s and the NSS
# modules; the base manifest's [prune] exclude drops the preload/debugger-only
# objects, libmvec (vector math for -ffast-math builds) and libBrokenLocale,
# which are listed apart with their cost.
LIBDIR=usr/lib/x86_64-linux-gnu
NOT_LINKED="libc_malloc_debug.so.0 libthread_db.so.1 libmvec.so.1 libBrokenLocale.so.1"
required=() missing=() optional_missing=()
for f in "$SCRATCH/mm/$LIBDIR"/*.so.[0-9]*; do
  n=$(basename "$f")
  if [[ " $NOT_LINKED " == *" $n "* ]]; then
    [[ -e "$SCRATCH/image/$LIBDIR/$n" ]] || optional_missing+=("$n")
    continue
  fi
  required+=("$n")
  [[ -e "$SCRATCH/image/$LIBDIR/$n" ]] || missing+=("$n")
done
((${#required[@]} > 0)) || die "found no runtime libraries in mmdebstrap's tree"
[[ -e "$SCRATCH/image/lib64/ld-linux-x86-64.so.2" ]] ||
  missing+=("/lib64/ld-linux-x86-64.so.2 (the ELF interpreter path)")

# --- per-file xz floor --------------------------------------------------------------
floor_file() { xz "${XZ_IMAGE_ARGS[@]}" -c "$1" | wc -c; }
declare -A FLOOR_PATH=(
  [libc.so.6]=$LIBDIR/libc.so.6
  [libm.so.6]=$LIBDIR/libm.so.6
  [busybox]=usr/bin/busybox
  [ld-linux-x86-64.so.2]=$LIBDIR/ld-linux-x86-64.so.2
  [libgcc_s.so.1]=$LIBDIR/libgcc_s.so.1
)
FLOOR_ORDER=(libc.so.6 libm.so.6 busybox ld-linux-x86-64.so.2 libgcc_s.so.1)
floor_rows="" floor_sum=0 floor_raw=0
for n in "${FLOOR_ORDER[@]}"; do
  p="$SCRATCH/image/${FLOOR_PATH[$n]}"
  [[ -f "$p" ]] || p="$SCRATCH/mm/${FLOOR_PATH[$n]}"
  [[ -f "$p" ]] || die "$n not found in the image or in mmdebstrap's tree"
  raw=$(stat -c %s "$p")
  fl=$(floor_file "$p")
  floor_sum=$((floor_sum + fl))
  floor_raw=$((floor_raw + raw))
  floor_rows+=$(printf '| `%s` | %s | %s |' "$n" "$raw" "$fl")$'\n'
done
extra_rows=""
for n in "${missing[@]}" "${optional_missing[@]}"; do
  p="$SCRATCH/mm/$LIBDIR/$n"
  [[ -f "$p" ]] || continue
  extra_rows+=$(printf '| `%s` (not in the image) | %s | %s |' "$n" "$(stat -c %s "$p")" "$(floor_file "$p")")$'\n'
done

# --- verdicts ------------------------------------------------------------------------
size_verdict=$(verdict "$img_xz" "$LIMIT")
if ((${#missing[@]} == 0)); then libs_verdict=MET; else libs_verdict=MISSED; fi
if [[ $size_verdict == MET && $libs_verdict == MET ]]; then overall=MET; else overall=MISSED; fi
mb() { awk -v b="$1" 'BEGIN { printf "%.2f MB", b / 1e6 }'; }

out="$SCRATCH/size.md"
{
  echo "## Size: \`out/dist/rootfs.tar.xz\` ≤ 1.4 MB — **$overall**"
  echo
  echo "Debian $SUITE ($codename), $ARCH: $pkgs. 1 MB = 10^6 bytes. Measured by \`bench/size.sh\`."
  echo
  echo '| artifact | bytes | |'
  echo '|---|---:|---|'
  echo "| microroot \`rootfs.tar.xz\` | $img_xz | $(mb "$img_xz"), target ≤ $(mb $LIMIT): **$size_verdict** ($(ratio "$img_xz" $LIMIT)× the target) |"
  echo "| microroot uncompressed tar (\`xz -dc\`) | $img_tar | $img_entries tar entries ($img_reported_entries reported by microroot) |"
  echo "| microroot content (regular files) | $img_content | |"
  echo "| mmdebstrap \`--mode=$mm_mode --variant=extract\` \`.tar\` | $mm_tar | $mm_entries tar entries |"
  echo "| mmdebstrap content (regular files) | $mm_content | |"
  echo "| mmdebstrap \`.tar\` → \`xz -T1 -9e\` | $mm_xz | microroot is $(ratio "$img_xz" "$mm_xz")× of this |"
  echo
  echo "Runtime libraries kept (every versioned \`lib*.so.N\` libc6 and libgcc-s1 ship, and \`/lib64\`'s ELF interpreter): **$libs_verdict** — $((${#required[@]} + 1)) paths checked, missing: ${missing[*]:-none}."
  if ((${#optional_missing[@]} > 0)); then
    echo "Left out by the base manifest's \`[prune] exclude\` (debugging helpers, vector math, the broken-locale shim; drop the line to keep one): ${optional_missing[*]}."
  fi
  echo
  echo 'Per-file xz floor: each file compressed alone with `xz -T1 --x86 --lzma2=preset=9e`:'
  echo
  echo '| file | bytes | xz alone |'
  echo '|---|---:|---:|'
  printf '%s' "$floor_rows"
  echo "| **sum of the five** | $floor_raw | **$floor_sum** ($(mb "$floor_sum")) |"
  printf '%s' "$extra_rows"
  echo
  echo "The five files alone, each at xz's strongest setting, come to $(mb "$floor_sum"), $(ratio "$floor_sum" $LIMIT)× the target; everything else in the image costs $((img_xz - floor_sum)) bytes on top."
  echo
  env_block mm
} >"$out"
finish size "$out"
