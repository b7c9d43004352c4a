//! Boots a kernel, an initramfs and a root disk in QEMU's `microvm`
//! machine and supervises the run.
//!
//! - **Accelerator.** KVM when `/dev/kvm` opens *and* the guest actually
//!   runs under it; a KVM that QEMU cannot start or that fails the guest
//!   (`KVM internal error`, rejected MSRs) before it printed anything falls
//!   back to TCG. Nothing is assumed from the presence of `/dev/kvm`.
//! - **Console.** The serial console goes to the caller's writer; the
//!   caller's stdin is forwarded to the guest.
//! - **Exit status.** microroot-init prints `microroot-init: exit status N`
//!   as its last line; that `N` is the run's result.
//! - **Stopping.** [`Stop::request`] (wired to SIGINT/SIGTERM by the CLI)
//!   sends the guest Ctrl-Alt-Del through QMP and an emulated i8042: the
//!   kernel turns it into SIGINT for PID 1, which microroot-init treats as a
//!   shutdown request (as Firecracker's `SendCtrlAltDel` does). QEMU is
//!   killed only if the guest has not powered off after a grace period.
//! - **Ports.** `HOST:GUEST` TCP forwards through user-mode networking,
//!   bound to 127.0.0.1; a host port already in use is an error before boot.

mod host;
mod qemu;
mod qmp;

pub use qemu::{detect_kvm_device, run, Accel, Outcome, Stop, VmError, VmSpec, STATUS_MARKER};
