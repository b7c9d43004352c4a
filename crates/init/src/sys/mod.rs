//! Every system call init makes, behind the [`Sys`] trait.
//!
//! The logic in the rest of the crate talks only to [`Sys`], so it runs
//! against a scripted fake in unit tests, without root and without a VM.
//! [`LinuxSys`] is the real implementation on top of `libc`; it and the
//! static runtime glue are the only unsafe code in the crate.

mod linux;
mod netlink;
#[cfg(microroot_init_static)]
mod rt;
mod spawn;

use alloc::string::String;
use core::fmt;
use core::net::Ipv4Addr;
use core::time::Duration;

pub use linux::{write_stdout, LinuxSys};

/// A process id.
pub type Pid = i32;

/// An `errno` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// No such file or directory.
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    /// File exists (a module already loaded, a directory already there).
    pub const EEXIST: Errno = Errno(libc::EEXIST);
    /// No such process.
    pub const ESRCH: Errno = Errno(libc::ESRCH);
    /// Operation not permitted.
    pub const EPERM: Errno = Errno(libc::EPERM);
    /// Read-only file system.
    pub const EROFS: Errno = Errno(libc::EROFS);
    /// Invalid argument.
    pub const EINVAL: Errno = Errno(libc::EINVAL);
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&linux::strerror(self.0))
    }
}

impl core::error::Error for Errno {}

/// Result of a system call.
pub type SysResult<T> = Result<T, Errno>;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitStatus {
    /// `exit(code)`.
    Exited(i32),
    /// Killed by this signal.
    Signaled(i32),
}

impl WaitStatus {
    /// The shell's view: the exit code, or 128 + the signal number.
    pub fn code(self) -> i32 {
        match self {
            WaitStatus::Exited(code) => code,
            WaitStatus::Signaled(signal) => 128 + signal,
        }
    }
}

/// Outcome of one non-blocking `waitpid(-1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaped {
    /// A child ended and is gone now.
    Child(Pid, WaitStatus),
    /// Children exist but none has ended.
    Running,
    /// No children at all (`ECHILD`).
    NoChildren,
}

/// A signal taken from init's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigInfo {
    /// Signal number.
    pub signo: i32,
    /// `si_code`: `SI_USER` from `kill`, `SI_KERNEL` from the kernel
    /// (Ctrl-Alt-Del).
    pub code: i32,
    /// Sending process, when sent by one.
    pub pid: Pid,
}

/// How the app is started.
#[derive(Debug, Clone, Copy)]
pub struct Spawn<'a> {
    /// Program to execute (already looked up in `PATH`).
    pub path: &'a str,
    /// Its argv, `argv[0]` included.
    pub argv: &'a [String],
    /// Its whole environment.
    pub env: &'a [(String, String)],
    /// Directory to change to before exec.
    pub workdir: &'a str,
    /// User to become.
    pub uid: u32,
    /// Group to become.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: &'a [u32],
    /// Start a new session with `/dev/console` as stdin, stdout, stderr and
    /// controlling terminal (VM mode); otherwise stdio is inherited.
    pub console: bool,
}

/// Why the app could not be started: the step that failed in the child
/// (`open /dev/console`, `chdir`, `setgroups`, `setgid`, `setuid`,
/// `execve`) or in init (`fork`, `argv`), and its errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpawnError {
    /// What failed.
    pub step: &'static str,
    /// Why.
    pub errno: Errno,
}

/// How a VM ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halt {
    /// `reboot(RB_POWER_OFF)`: ACPI power-off (QEMU `microvm`, most VMMs).
    PowerOff,
    /// `reboot(RB_AUTOBOOT)`: with `reboot=k` a keyboard-controller reset,
    /// which Firecracker (no ACPI) treats as the end of the VM.
    Reboot,
}

/// Bit for [`Sys::mount`]: read-only.
pub const MS_RDONLY: u64 = libc::MS_RDONLY;
/// Bit for [`Sys::mount`]: ignore set-user-id bits.
pub const MS_NOSUID: u64 = libc::MS_NOSUID;
/// Bit for [`Sys::mount`]: no device files.
pub const MS_NODEV: u64 = libc::MS_NODEV;
/// Bit for [`Sys::mount`]: no execution.
pub const MS_NOEXEC: u64 = libc::MS_NOEXEC;
/// Bit for [`Sys::mount`]: change an existing mount's flags.
pub const MS_REMOUNT: u64 = libc::MS_REMOUNT;
/// Bit for [`Sys::mount`]: move a mount.
pub const MS_MOVE: u64 = libc::MS_MOVE;

/// `statfs` type of an initramfs: ramfs.
pub const RAMFS_MAGIC: u64 = 0x8584_58f6;
/// `statfs` type of an initramfs: tmpfs.
pub const TMPFS_MAGIC: u64 = 0x0102_1994;

/// The system calls init makes. Paths are absolute strings; every call that
/// can fail returns its errno.
pub trait Sys {
    /// This process's id.
    fn pid(&self) -> Pid;
    /// Real user and group id of this process.
    fn ids(&self) -> (u32, u32);
    /// Current directory, if it can be read.
    fn cwd(&self) -> Option<String>;
    /// Writes one line (ending in `\n`) to stderr, the console in VM mode.
    fn console(&mut self, line: &str);
    /// Monotonic time since an arbitrary start.
    fn now(&self) -> Duration;
    /// Sleeps.
    fn sleep(&mut self, duration: Duration);

    /// Whether a path exists (following symlinks).
    fn exists(&self, path: &str) -> bool;
    /// Whether a path is a regular file with an execute bit.
    fn is_executable(&self, path: &str) -> bool;
    /// A whole file.
    fn read_file(&self, path: &str) -> SysResult<alloc::vec::Vec<u8>>;
    /// Creates or truncates a file (mode 0644) and writes it.
    fn write_file(&mut self, path: &str, data: &[u8]) -> SysResult<()>;
    /// `mkdir`.
    fn mkdir(&mut self, path: &str, mode: u32) -> SysResult<()>;
    /// `statfs(path).f_type`.
    fn fs_type(&self, path: &str) -> SysResult<u64>;
    /// `mount(2)`; empty `fstype`/`data` are passed as NULL.
    fn mount(&mut self, source: &str, target: &str, fstype: &str, flags: u64, data: &str) -> SysResult<()>;
    /// `chdir`.
    fn chdir(&mut self, path: &str) -> SysResult<()>;
    /// `chroot`.
    fn chroot(&mut self, path: &str) -> SysResult<()>;
    /// Makes sure stdin, stdout and stderr are open, on `/dev/console` if
    /// they were not.
    fn attach_console(&mut self) -> SysResult<()>;

    /// `finit_module` of the file at `path` with these parameters.
    fn load_module(&mut self, path: &str, params: &str) -> SysResult<()>;
    /// `sethostname`.
    fn set_hostname(&mut self, name: &str) -> SysResult<()>;
    /// `reboot(LINUX_REBOOT_CMD_CAD_OFF)`: Ctrl-Alt-Del sends SIGINT to
    /// PID 1 instead of rebooting at once.
    fn disable_ctrl_alt_del(&mut self) -> SysResult<()>;
    /// `prctl(PR_SET_CHILD_SUBREAPER)`.
    fn set_child_subreaper(&mut self) -> SysResult<()>;
    /// `sync`.
    fn sync(&mut self);
    /// Ends the machine; never returns (if the kernel refuses, waits
    /// forever, since PID 1 must not exit).
    fn halt(&mut self, how: Halt) -> !;

    /// Interface index by name.
    fn link_index(&mut self, name: &str) -> Option<u32>;
    /// Sets an interface up (`RTM_NEWLINK`).
    fn link_up(&mut self, index: u32) -> SysResult<()>;
    /// Whether an interface has an IPv4 address (`RTM_GETADDR` dump).
    fn has_ipv4(&mut self, index: u32) -> SysResult<bool>;
    /// Adds an address (`RTM_NEWADDR`).
    fn add_ipv4(&mut self, index: u32, addr: Ipv4Addr, prefix: u8) -> SysResult<()>;
    /// Adds a default route (`RTM_NEWROUTE`).
    fn add_default_route(&mut self, index: u32, gateway: Ipv4Addr) -> SysResult<()>;

    /// Blocks the signals init handles (so they queue for
    /// [`next_signal`](Self::next_signal)) and resets their dispositions.
    fn block_signals(&mut self) -> SysResult<()>;
    /// Starts the app.
    fn spawn(&mut self, spawn: &Spawn<'_>) -> Result<Pid, SpawnError>;
    /// Replaces this process with `path` (argv `[path]`, empty environment
    /// but `TERM`-less defaults), with no signal blocked or ignored: hands
    /// PID 1 over to another init. Returns only on failure.
    fn exec(&mut self, path: &str) -> Errno;
    /// `kill(pid, signal)`; `pid` -1 means every process but init.
    fn kill(&mut self, pid: Pid, signal: i32) -> SysResult<()>;
    /// This process's children (by their parent pid in `/proc`).
    fn children(&mut self) -> alloc::vec::Vec<Pid>;
    /// One non-blocking `waitpid(-1)`.
    fn reap(&mut self) -> SysResult<Reaped>;
    /// Waits for one of the blocked signals; `None` on timeout.
    fn next_signal(&mut self, timeout: Option<Duration>) -> SysResult<Option<SigInfo>>;
}
