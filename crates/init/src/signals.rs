//! Which signals init handles, and their names for log lines.

/// Signals init passes on to the app.
pub const FORWARDED: [i32; 6] =
    [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2];

/// Signals init blocks and takes from its queue: the forwarded ones,
/// SIGPWR (a VM shutdown request) and SIGCHLD (a child ended).
pub const HANDLED: [i32; 8] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGPWR,
    libc::SIGCHLD,
];

/// `si_code` of a signal the kernel sent itself (Ctrl-Alt-Del's SIGINT).
pub const SI_KERNEL: i32 = 0x80;

const NAMES: [&str; 32] = [
    "",
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// `SIGTERM` for 15; `SIGRTMIN+n` and `signal n` beyond the classic ones.
pub fn name(signal: i32) -> alloc::string::String {
    use alloc::string::ToString;
    match usize::try_from(signal) {
        Ok(n @ 1..=31) => NAMES[n].to_string(),
        Ok(n @ 34..=64) => alloc::format!("SIGRTMIN+{}", n - 34),
        _ => alloc::format!("signal {signal}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_libc_numbers() {
        for (sig, text) in [
            (libc::SIGHUP, "SIGHUP"),
            (libc::SIGKILL, "SIGKILL"),
            (libc::SIGUSR1, "SIGUSR1"),
            (libc::SIGTERM, "SIGTERM"),
            (libc::SIGCHLD, "SIGCHLD"),
            (libc::SIGPWR, "SIGPWR"),
            (libc::SIGSYS, "SIGSYS"),
        ] {
            assert_eq!(name(sig), text);
        }
        assert_eq!(name(libc::SIGRTMIN() + 2), "SIGRTMIN+2");
        assert_eq!(name(99), "signal 99");
        assert_eq!(SI_KERNEL, libc::SI_KERNEL);
    }
}
