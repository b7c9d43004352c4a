//! The two things the runner needs from the host that std does not offer.
#![deny(unsafe_op_in_unsafe_fn)]

use std::process::Command;
use std::time::{Duration, Instant};

/// The host's TSC frequency in kHz, measured against the monotonic clock
/// over 50 ms. Under TCG the guest's TSC is the host's, and telling the
/// guest kernel its rate (`tsc_early_khz=`) spares it a calibration against
/// the emulated PIT, which fails on a busy host and can leave the boot hung
/// with no clocksource.
#[cfg(target_arch = "x86_64")]
pub fn tsc_khz() -> Option<u64> {
    let read = || {
        // SAFETY: RDTSC has no preconditions on x86_64; it only reads a counter.
        unsafe { core::arch::x86_64::_rdtsc() }
    };
    let (t0, c0) = (Instant::now(), read());
    std::thread::sleep(Duration::from_millis(50));
    let (t1, c1) = (Instant::now(), read());
    let nanos = t1.duration_since(t0).as_nanos() as u64;
    let khz = c1.checked_sub(c0)?.checked_mul(1_000_000)? / nanos.max(1);
    (100_000..20_000_000).contains(&khz).then_some(khz)
}

#[cfg(not(target_arch = "x86_64"))]
pub fn tsc_khz() -> Option<u64> {
    None
}

/// Makes the child receive SIGKILL when this process dies, so a QEMU is
/// never left running after microroot was killed.
pub fn kill_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and only makes the
    // async-signal-safe prctl(2) call.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
