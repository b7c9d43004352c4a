#!/usr/bin/env bash
# Runs the whole test suite: lints, unit and property tests, and the
# integration tests that use the real Debian mirror (from the host's apt
# sources) and real reference tools. Installs the tools it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use as reference tools.
need=(
    apt:apt dpkg:dpkg tar:tar xz:xz-utils zstd:zstd gzip:gzip
    python3:python3 unshare:util-linux chroot:coreutils openssl:openssl
    qemu-system-x86_64:qemu-system-x86 e2fsck:e2fsprogs cpio:cpio
    modinfo:kmod readelf:binutils dash:dash ldd:libc-bin chromium:chromium
    skopeo:skopeo umoci:umoci runc:runc crun:crun docker-registry:docker-registry
    dockerd:docker.io
    /bin/busybox:busybox-static
    /usr/share/keyrings/debian-archive-keyring.gpg:debian-archive-keyring
)
missing=()
for item in "${need[@]}"; do
    tool=${item%%:*} pkg=${item#*:}
    if [[ $tool == /* ]]; then [[ -e $tool ]] || missing+=("$pkg")
    else command -v "$tool" >/dev/null 2>&1 || missing+=("$pkg"); fi
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
cargo test --workspace --locked "$@"
