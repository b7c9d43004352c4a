#!/usr/bin/env bash
# bench/warm.sh [--record] — warm build time against bare xz.
#
# Target: a warm microroot build (second run, cache populated) takes
# <= 1.15x the time `xz -T1 --x86 --lzma2=preset=9e` takes to compress the
# image's uncompressed tar (the same filters microroot's encoder uses; its
# output is checked to be byte-identical to microroot's rootfs.tar.xz).
#   microroot: `microroot build -q --out DIR --cache-dir CACHE`, CACHE filled
#     by one untimed first build, DIR deleted before each run (with its
#     outputs in place the build is up to date and writes nothing). A warm
#     build still fetches InRelease (about 150 kB) to learn whether the
#     suite moved; the plan and .debs come from the cache.
#   xz: `xz -T1 --x86 --lzma2=preset=9e -c image.tar > image.tar.xz`, where
#     image.tar = `xz -dc out/rootfs.tar.xz`.
# Runs are interleaved (microroot, xz, microroot, ...) so load from other
# work on the machine hits both sides alike; the verdict is the median of
# the per-run ratios (microroot run i / xz run i).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LIMIT=1.15
RUNS=${BENCH_RUNS_WARM:-5}
((RUNS >= 3)) || die "BENCH_RUNS_WARM must be >= 3"
ensure_microroot

CACHE="$SCRATCH/cache"
OUT="$SCRATCH/out"
note "first build (untimed, fills the cache)"
"$MICROROOT" build -q --out "$OUT" --cache-dir "$CACHE" >"$SCRATCH/first.log" 2>&1 ||
  { tail "$SCRATCH/first.log" >&2; die "microroot build failed"; }
xz -dc "$OUT/rootfs.tar.xz" >"$SCRATCH/image.tar"
xz "${XZ_IMAGE_ARGS[@]}" -c "$SCRATCH/image.tar" >"$SCRATCH/image.tar.xz"
if cmp -s "$SCRATCH/image.tar.xz" "$OUT/rootfs.tar.xz"; then
  identical="byte-identical to microroot's \`rootfs.tar.xz\`"
else
  identical="**not** byte-identical to microroot's \`rootfs.tar.xz\` ($(stat -c %s "$SCRATCH/image.tar.xz") vs $(stat -c %s "$OUT/rootfs.tar.xz") bytes)"
  note "warning: xz output differs from microroot's"
fi

bare_xz() { xz "${XZ_IMAGE_ARGS[@]}" -c "$SCRATCH/image.tar" >"$SCRATCH/image.tar.xz"; }
for ((i = 1; i <= RUNS; i++)); do
  note "run $i/$RUNS: microroot (warm)"
  # Without its outputs the build is not up to date: it really rebuilds.
  rm -rf "$OUT"
  time_run microroot "$SCRATCH/microroot-$i.log" "$MICROROOT" build -q --out "$OUT" --cache-dir "$CACHE"
  note "run $i/$RUNS: xz"
  time_run xz "$SCRATCH/xz-$i.log" bare_xz
done

note "phase breakdown (one more warm build, untimed)"
rm -rf "$OUT"
phases=$(phase_breakdown "$OUT" "$CACHE")

mr=$(median microroot)
xr=$(median xz)
r=$(paired_ratio microroot xz)
v=$(verdict "$r" "$LIMIT")
over=$(awk -v a="$mr" -v b="$xr" 'BEGIN { printf "%.2f", a - b }')

out="$SCRATCH/warm.md"
{
  echo "## Warm build: ≤ 1.15× bare xz — **$v**"
  echo
  echo "Second and later builds with the cache populated, against \`xz ${XZ_IMAGE_ARGS[*]}\` on the image's uncompressed tar ($(stat -c %s "$SCRATCH/image.tar") bytes; xz's output is $identical). Medians of $RUNS interleaved runs. Measured by \`bench/warm.sh\`."
  echo
  time_header
  time_row microroot '`microroot build` (warm cache) → `rootfs.tar.xz`'
  time_row xz "\`xz ${XZ_IMAGE_ARGS[*]}\` on the tar"
  echo
  echo "- microroot / xz: **$r×** median of per-run pair ratios, vs target ≤ $LIMIT× → **$v**"
  echo "- ratio of median wall times: $(ratio "$mr" "$xr")× (microroot spends $over s more than xz alone); ratio of median CPU times: $(ratio "$(stat_of microroot 2 median)" "$(stat_of xz 2 median)")×"
  echo
  echo "Where a warm microroot build spends its time (one extra run, log lines stamped as they arrive):"
  echo
  echo '| phase | seconds |'
  echo '|---|---:|'
  awk '{ printf "| %s | %.2f |\n", $1, $2 }' <<<"$phases"
  echo
  env_block xz-only
} >"$out"
finish warm "$out"
