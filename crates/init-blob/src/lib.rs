//! The static `microroot-init` binary, for image builders.
//!
//! The build script compiles `microroot-init` (crate `microroot-init`) a
//! second time, as a `no_std`, glibc-static, size-optimized x86_64 binary,
//! and this crate embeds the result: [`binary`] gives its bytes, to be
//! written into an image (for example at `/sbin/microroot-init`, with the
//! config from `microroot_init::config` at its `CONFIG_PATH`).
//!
//! The binary is statically linked, so it runs in an image without a C
//! library, in a microVM as PID 1 and in a container as its entrypoint.
//! Only x86_64 Linux hosts build it; elsewhere [`binary`] returns `None`
//! unless `MICROROOT_INIT_BIN` named a prebuilt one at build time.

static BLOB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/microroot-init"));

/// The Debian architecture the binary is for.
pub const TARGET_ARCH: &str = "amd64";

/// The statically linked `microroot-init` executable, or `None` if this
/// host could not build it.
pub fn binary() -> Option<&'static [u8]> {
    (!BLOB.is_empty()).then_some(BLOB)
}
