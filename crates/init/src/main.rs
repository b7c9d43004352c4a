//! The `microroot-init` binary; everything is in the library.
//!
//! Built normally it uses `std` for its arguments; built by
//! `microroot-init-blob` with `--cfg microroot_init_static` it is `no_std`
//! and the library supplies the C `main` (see `sys::rt`).

#![cfg_attr(microroot_init_static, no_std, no_main)]
#![deny(unsafe_code)]

#[cfg(microroot_init_static)]
use microroot_init as _;

#[cfg(not(microroot_init_static))]
fn main() {
    let lossy = |s: std::ffi::OsString| s.to_string_lossy().into_owned();
    let args = std::env::args_os().map(lossy).collect();
    let env = std::env::vars_os().map(|(k, v)| (lossy(k), lossy(v))).collect();
    let code = microroot_init::main(args, env);
    std::process::exit(code);
}
