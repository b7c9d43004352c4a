#!/usr/bin/env bash
# bench/boot.sh [--record] — the nginx microVM against the recipe's image.
#
# microroot: `microroot build examples/nginx.toml` (rootfs.ext4 + stage-1
# initramfs.cpio.zst), and `microroot run examples/nginx.toml` timed from
# the command's start to the first HTTP 200 on the forwarded port.
#
# The recipe (option 1: a distro with nginx copied whole into an ext4 image,
# /sbin/init replaced by a script that starts nginx in the foreground):
#   - size image: `mmdebstrap --variant=minbase --include=nginx stable`,
#     its postinsts run (welcome page, default site), written with
#     `mke2fs -t ext4 -d` at its content size + 20% (microroot's headroom);
#   - boot image: the same plus Debian's cloud kernel, so that it boots the
#     distro's way with the same kernel: its own initramfs-tools initrd,
#     `init=` the script. Booted by `microroot run --kernel --initrd --disk`
#     (the same QEMU command line), timed the same way.
# Targets: microroot's ext4 + initramfs <= 25% of the recipe's bytes; nginx
# serves with --memory 64; time to the first 200 <= 0.5x the recipe's.
# Debian's cloud kernel alone spans 16-66 MiB of guest RAM, so the 64 MiB
# run is made twice: with it, and with a microVM kernel built from Debian's
# linux-source by bench/microvm-kernel.sh (cached after the first run).
# Knobs: BENCH_RUNS_BOOT (default 3), and those of bench/lib.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=${BENCH_RUNS_BOOT:-3}
ensure_microroot
ensure_cmd mmdebstrap mmdebstrap
ensure_cmd mke2fs e2fsprogs
ensure_cmd qemu-system-x86_64 qemu-system-x86
ensure_cmd curl curl
MIRROR=$(host_mirror)
MANIFEST="$REPO_ROOT/examples/nginx.toml"
CACHE="$SCRATCH/cache"

# --- microroot ---------------------------------------------------------------
note "microroot build examples/nginx.toml (fresh cache)"
"$MICROROOT" build -q --json "$MANIFEST" --out "$SCRATCH/mr" --cache-dir "$CACHE" >"$SCRATCH/mr.json"
mr_ext4=$(stat -c %s "$SCRATCH/mr/rootfs.ext4")
mr_cpio=$(stat -c %s "$SCRATCH/mr/initramfs.cpio.zst")
mr_total=$((mr_ext4 + mr_cpio))
mr_used=$(($(tune2fs -l "$SCRATCH/mr/rootfs.ext4" | awk -F: '/^Block count/ { b = $2 } /^Free blocks/ { f = $2 } END { print b - f }') * 4096))

# --- the recipe -----------------------------------------------------------------
recipe_tree() { # recipe_tree DIR EXTRA_PACKAGES
  mmdebstrap --quiet --mode=root --variant=minbase --architectures="$ARCH" --components="$COMPONENTS" \
    --include="nginx$2" "$SUITE" "$1" "$MIRROR"
  cat >"$1/sbin/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
ip link set lo up
ip addr add 10.0.2.15/24 dev eth0
ip link set eth0 up
ip route add default via 10.0.2.2
exec /usr/sbin/nginx -g 'daemon off;'
EOF
  chmod 0755 "$1/sbin/init"
}
ext4_of() { # ext4_of DIR IMAGE: content + 20%, whole MiB, like the recipe's dd + mkfs.ext4
  local kib
  kib=$(du -sk --apparent-size "$1" | cut -f1)
  local mib=$(((kib * 12 / 10 + 1023) / 1024 + 8))
  mke2fs -q -F -t ext4 -d "$1" "$2" "${mib}M"
}
note "recipe: mmdebstrap --variant=minbase --include=nginx $SUITE"
recipe_tree "$SCRATCH/recipe" ""
ext4_of "$SCRATCH/recipe" "$SCRATCH/recipe.ext4"
recipe_bytes=$(stat -c %s "$SCRATCH/recipe.ext4")
note "recipe boot image: + linux-image-cloud-amd64 (its initramfs-tools initrd)"
recipe_tree "$SCRATCH/recipe-boot" ",linux-image-cloud-amd64"
ext4_of "$SCRATCH/recipe-boot" "$SCRATCH/recipe-boot.ext4"
R_KERNEL=$(ls "$SCRATCH"/recipe-boot/boot/vmlinuz-*)
R_INITRD=$(ls "$SCRATCH"/recipe-boot/boot/initrd.img-*)

# --- boot timing -------------------------------------------------------------------
port=18080
time_to_200() { # time_to_200 LABEL CMD...: starts CMD, times until HTTP 200, stops it
  local label=$1
  shift
  port=$((port + 1))
  local start log="$SCRATCH/$label.$port.log"
  start=$(date +%s.%N)
  "$@" -p "$port:80" >"$log" 2>&1 &
  local pid=$! t=""
  for _ in $(seq 1 1200); do
    if [[ $(curl -s -o /dev/null -w '%{http_code}' -m 2 "http://127.0.0.1:$port/" || true) == 200 ]]; then
      t=$(echo "$(date +%s.%N) - $start" | bc)
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [[ -n "$t" ]] || { tail -n 20 "$log" >&2; die "$label never served HTTP 200"; }
  mkdir -p "$SCRATCH/times"
  echo "$t 0" >>"$SCRATCH/times/$label"
}
for i in $(seq 1 "$RUNS"); do
  note "boot run $i/$RUNS: microroot run examples/nginx.toml"
  time_to_200 mr "$MICROROOT" run -q "$MANIFEST" --out "$SCRATCH/mr" --cache-dir "$CACHE"
  note "boot run $i/$RUNS: recipe image, same kernel, its initrd, script init"
  time_to_200 recipe "$MICROROOT" run -q --kernel "$R_KERNEL" --initrd "$R_INITRD" --disk "$SCRATCH/recipe-boot.ext4" \
    --memory 128 --append "init=/sbin/init"
done
note "microroot run with --memory 64"
mem64="serves"
if ! (time_to_200 mem64 "$MICROROOT" run -q "$MANIFEST" --out "$SCRATCH/mr" --cache-dir "$CACHE" --memory 64 --timeout 120) 2>"$SCRATCH/mem64.err"; then
  mem64="does not boot: $(grep -m1 -o 'Kernel panic[^]]*\|Out of memory[^.]*' "$SCRATCH"/mem64.*.log | head -n1 || true)"
fi
# Where the kernel image sits in guest RAM: it is loaded at its physical
# addresses (from 16 MiB up), so no smaller guest can hold all of it.
kernel_end=0
while read -r type _ _ paddr _ memsz _; do
  [[ $type == LOAD ]] && ((paddr + memsz > kernel_end)) && kernel_end=$((paddr + memsz))
done < <(readelf -lW "$SCRATCH/mr/vmlinux")
kernel_end_mib=$(awk -v e="$kernel_end" 'BEGIN { printf "%.1f", e / 1048576 }')
mem_floor=$(((kernel_end + 1048575) / 1048576))
note "microroot run with --memory $mem_floor (the kernel image's end)"
memfloor="serves"
if ! (time_to_200 memfloor "$MICROROOT" run -q "$MANIFEST" --out "$SCRATCH/mr" --cache-dir "$CACHE" --memory "$mem_floor" --timeout 120) 2>"$SCRATCH/memfloor.err"; then
  memfloor="does not boot: $(grep -m1 -o 'Kernel panic[^]]*\|Out of memory[^.]*' "$SCRATCH"/memfloor.*.log | head -n1 || true)"
fi

# The same image on a kernel made for microVMs: tinyconfig plus virtio,
# ext4 and ACPI, built in, from Debian's linux-source (bench/microvm-kernel.sh).
note "microVM kernel from Debian's linux-source (built once, then cached)"
small_kernel=$("$BENCH_DIR/microvm-kernel.sh")
small_kernel_bytes=$(stat -c %s "$small_kernel")
small_kernel_from=$(basename "$(dirname "$small_kernel")" | cut -d_ -f1,2)
debian_kernel_bytes=$(stat -c %s "$SCRATCH/mr/vmlinuz")
small_manifest="$SCRATCH/nginx-microvm-kernel.toml"
{
  cat "$MANIFEST"
  printf '\n[kernel]\npath = "%s"\n' "$small_kernel"
} >"$small_manifest"
small64="serves"
if ! (time_to_200 small64 "$MICROROOT" run -q "$small_manifest" --out "$SCRATCH/small" --cache-dir "$CACHE" --memory 64 --timeout 120) 2>"$SCRATCH/small64.err"; then
  small64="does not boot: $(tail -n 3 "$SCRATCH"/small64.*.log | tr '\n' ' ')"
fi

mr_med=$(median mr)
recipe_med=$(median recipe)
size_ratio=$(ratio "$mr_total" "$recipe_bytes")
time_ratio=$(paired_ratio mr recipe)
out="$SCRATCH/section.md"
{
  mem_verdict=MISSED
  if [[ "$mem64" == serves ]]; then
    mem_verdict=MET
  elif [[ "$small64" == serves ]]; then
    mem_verdict="MET with a microVM kernel"
  fi
  echo "## nginx microVM: size ≤ 25%, serves in 64 MiB, first HTTP 200 ≤ 0.5× the recipe's — size **$(verdict "$size_ratio" 0.25)**, 64 MiB **$mem_verdict**, time **$(verdict "$time_ratio" 0.5)**"
  echo
  env_block mm
  echo "- accelerator: $(grep -q 'KVM does not work' "$SCRATCH"/mr.*.log 2>/dev/null && echo 'TCG (KVM unusable here)' || echo 'as microroot run chose')"
  echo
  echo "| image | bytes |"
  echo "|---|---:|"
  echo "| microroot rootfs.ext4 (used: $mr_used) | $mr_ext4 |"
  echo "| microroot initramfs.cpio.zst (stage 1) | $mr_cpio |"
  echo "| **microroot total** | **$mr_total** |"
  echo "| recipe: minbase + nginx as ext4 (mke2fs -d, content + 20%) | $recipe_bytes |"
  echo "| ratio | **$size_ratio** |"
  echo
  echo "Time from the command's start to the first HTTP 200 (runs interleaved; microroot's includes its up-to-date build check):"
  echo
  time_header
  time_row mr "microroot run examples/nginx.toml"
  time_row recipe "recipe image + Debian initrd, script init (microroot run --kernel/--initrd/--disk)"
  echo
  echo "Paired ratio: **$time_ratio** (medians $mr_med s vs $recipe_med s)."
  echo
  echo "--memory 64: $mem64."
  echo
  echo "The kernel's ELF image (\`vmlinux\`, loaded at its physical addresses) ends at $kernel_end_mib MiB of guest RAM; --memory $mem_floor: $memfloor."
  echo
  if [[ "$small64" == serves ]]; then
    echo "The same image on a microVM kernel (\`bench/microvm-kernel.sh\`: $small_kernel_from, tinyconfig + \`bench/microvm-kernel.config\`, bzImage $small_kernel_bytes bytes vs Debian's cloud kernel's $debian_kernel_bytes), \`[kernel] path\` in the manifest, --memory 64: serves, first HTTP 200 after $(median small64) s."
  else
    echo "The same image on a microVM kernel ($small_kernel_from, \`bench/microvm-kernel.sh\`), --memory 64: $small64."
  fi
} >"$out"
finish boot "$out"
