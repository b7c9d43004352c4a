//! `microroot-init`: PID 1 for microroot microVMs and containers.
//!
//! One small static binary (built by `microroot-init-blob`) starts the
//! image's app as described by an [`InitConfig`](config::InitConfig) at
//! [`CONFIG_PATH`](config::CONFIG_PATH), and does what the kernel or a
//! container runtime expects of an init. Command line:
//! `microroot-init [-v] [--config PATH] [-- ARGV...]`, where `ARGV`
//! replaces the config's argv.
//!
//! # Modes
//!
//! [`Mode::detect`] picks one at start.
//!
//! **Container** (`/proc/self` exists, or init is not PID 1), like `tini`:
//! no mounts, modules, network or power-off. When not PID 1, init becomes a
//! child subreaper so that orphans come to it. It reaps zombies once, spawns
//! the app, forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2
//! to it, reaps every other child that ends, and exits with the app's
//! status (128 + the signal if one killed it). It prints only errors, and
//! with `-v` what it does. Without a config file the app gets init's own
//! environment, ids and directory.
//!
//! **VM** (PID 1 and `/proc` not mounted), in this order:
//! 1. reap once; mount `/proc`, `/sys`, `/dev` (devtmpfs), `/dev/pts`,
//!    `/dev/shm`, `/run` and `/tmp`, creating mount points as needed (on a
//!    read-only root a missing one is reported and skipped); make sure
//!    stdio is on `/dev/console`;
//! 2. read `/proc/cmdline`; `microroot.debug` makes init verbose;
//!    Ctrl-Alt-Del is switched to a SIGINT to init;
//! 3. load the config's modules in order with `finit_module`, each with the
//!    `<module>.<param>=<value>` items of the command line (`-` and `_`
//!    equal in names); an already loaded module is fine;
//! 4. with `root=/dev/...` and `/` an initramfs (ramfs or tmpfs): wait up
//!    to 15 s for the device, mount it on `/newroot` (`rootfstype=`, a
//!    comma list, default ext4; `rootflags=`; read-only with `ro`, else
//!    read-write, since the disk is usually the app's only writable
//!    storage), move `/dev`, `/proc`, `/sys`, `/run` and `/tmp` into it and
//!    make it `/`; then read the config there (the initramfs one stays if
//!    there is none) and load its modules;
//! 5. set the host name (config, else the `ip=` field); set `lo` up; for a
//!    static `ip=<client>:<server>:<gw>:<netmask>:<host>:<device>:<autoconf>:<dns0>:<dns1>`
//!    wait up to 5 s for the device (default `eth0`) and, unless it already
//!    has an IPv4 address, set it up with rtnetlink (link, address, default
//!    route); write `/etc/resolv.conf` from the name servers if it can;
//!    `ip=dhcp` and `ip=off` are left to the kernel;
//! 6. run the app in a new session with `/dev/console` as its terminal,
//!    exactly the config's environment, its directory and ids; `argv[0]`
//!    without `/` is looked up in that environment's `PATH`;
//! 7. forward signals as in a container, except that SIGINT from the
//!    kernel (Ctrl-Alt-Del), SIGTERM and SIGPWR ask for a shutdown: the app
//!    gets SIGTERM, and SIGKILL after the stop timeout.
//!
//! # Shutdown
//!
//! When the app has ended, every other process gets SIGTERM (`kill(-1)` as
//! PID 1, otherwise init's children, including orphans adopted meanwhile),
//! then up to `stop-timeout` seconds (default 10), then SIGKILL; init reaps
//! them all. A VM then syncs and prints, always as its last two lines,
//!
//! ```text
//! microroot-init: /usr/sbin/nginx killed by signal 15 (SIGTERM)
//! microroot-init: exit status 143
//! ```
//!
//! (or `... exited with code 3` / `exit status 3`), remounts `/` read-only
//! and ends the machine: `reboot(RB_POWER_OFF)` when `/sys/firmware/acpi`
//! exists (QEMU `microvm`), else `reboot(RB_AUTOBOOT)`, which with
//! `reboot=k` ends a Firecracker VM. An app that cannot be started gives
//! status 127 (after an error line; no description line); a machine that
//! cannot be set up for it (unreadable config, no root device) gives 1.
//! In a VM init never returns or exits: PID 1 exiting would panic the
//! kernel.
//!
//! # Design
//!
//! Every system call goes through [`sys::Sys`]; the logic is tested
//! against a scripted fake, and [`sys::LinuxSys`] is the real one and the
//! only module with `unsafe` code. The library is `no_std` (with `alloc`),
//! so that the static binary carries no `std` runtime (no backtrace
//! printer, no dynamic-loader support) and stays well under a megabyte.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

extern crate alloc;

mod app;
pub mod cli;
pub mod cmdline;
pub mod config;
pub mod ip;
mod root;
mod rtnl;
mod run;
mod signals;
#[allow(unsafe_code)]
pub mod sys;
mod vm;
mod vm_net;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec::Vec;

pub use app::{DEFAULT_PATH, STATUS_NOT_STARTED};
pub use cli::{Args, Command, USAGE};
pub use run::{run, Mode};

/// The binary's entry: parses `args` (with `args[0]`), then runs init on
/// the real system. Returns the exit status in container mode; never
/// returns in VM mode.
pub fn main(args: Vec<String>, env: Vec<(String, String)>) -> i32 {
    use sys::Sys;
    let mut sys = sys::LinuxSys::new();
    let mode = Mode::detect(&sys);
    match Args::parse(args.get(1..).unwrap_or_default(), mode == Mode::Container) {
        Ok(Command::Run(args)) => run(&mut sys, &args, env),
        Ok(Command::Help) => {
            sys::write_stdout(USAGE);
            0
        }
        Ok(Command::Version) => {
            sys::write_stdout(concat!("microroot-init ", env!("CARGO_PKG_VERSION"), "\n"));
            0
        }
        Err(message) if mode == Mode::Vm => {
            // PID 1 must not exit: run with what the config says.
            sys.console(&alloc::format!("microroot-init: {message}\n"));
            run(&mut sys, &Args::default(), env)
        }
        Err(message) => {
            sys.console(&alloc::format!("microroot-init: {message}\n{USAGE}"));
            2
        }
    }
}
