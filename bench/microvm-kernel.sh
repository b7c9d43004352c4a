#!/usr/bin/env bash
# bench/microvm-kernel.sh — a small microVM kernel for bench/boot.sh.
#
# Builds `make tinyconfig` + bench/microvm-kernel.config (virtio-mmio,
# virtio-blk/net, ext4, ACPI, PVH; every driver built in, no modules) from
# Debian's newest linux-source-X.Y package in the host's apt sources, and
# prints the bzImage's path. The result is cached by package version and
# config under ${XDG_CACHE_HOME:-~/.cache}/microroot-bench/, so only the
# first run compiles (about 10 minutes on 2 cores).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_cmd make make
ensure_cmd gcc gcc
ensure_cmd flex flex
ensure_cmd bison bison
ensure_cmd bc bc
if [[ ! -e /usr/include/libelf.h ]]; then # objtool needs it
  note "installing libelf-dev"
  apt-get install -y -qq libelf-dev >&2 || die "could not install libelf-dev"
fi

CONFIG="$BENCH_DIR/microvm-kernel.config"
package=$(apt-cache pkgnames linux-source- | grep -E '^linux-source-[0-9]+\.[0-9]+$' | sort -V | tail -n1)
[[ -n "$package" ]] || die "no linux-source-X.Y package in the host's apt sources (apt-get update?)"
version=$(apt-cache policy "$package" | awk '/Candidate:/ { print $2 }')
key=$(sha256sum "$CONFIG" | cut -c1-12)
out="${XDG_CACHE_HOME:-$HOME/.cache}/microroot-bench/${package}_${version}_${key}"
if [[ -s "$out/bzImage" ]]; then
  echo "$out/bzImage"
  exit 0
fi

note "kernel: $package $version with $(basename "$CONFIG")"
(cd "$SCRATCH" && apt-get download -q "$package=$version" >&2)
dpkg-deb --fsys-tarfile "$SCRATCH"/"${package}"_*.deb | tar -x -C "$SCRATCH" --wildcards '*.tar.xz'
tar -xf "$SCRATCH"/usr/src/"$package".tar.xz -C "$SCRATCH"
src="$SCRATCH/$package"
make -s -C "$src" tinyconfig >&2
"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$CONFIG" >/dev/null
make -s -C "$src" olddefconfig >&2
for option in $(grep -o '^CONFIG_[A-Z0-9_]*' "$CONFIG"); do
  grep -q "^$option=y" "$src/.config" || die "$option did not stay set in the kernel's config"
done
note "kernel: make bzImage (-j$(nproc))"
make -s -C "$src" -j"$(nproc)" bzImage >&2
mkdir -p "$out"
cp "$src/arch/x86/boot/bzImage" "$out/bzImage.tmp"
cp "$src/.config" "$out/config"
mv "$out/bzImage.tmp" "$out/bzImage"
echo "$out/bzImage"
