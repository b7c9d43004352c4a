//! [`Sys`] on Linux through `libc`.

use alloc::ffi::CString;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::{c_int, CStr};
use core::mem::MaybeUninit;
use core::net::Ipv4Addr;
use core::ptr;
use core::time::Duration;

use super::netlink;
use super::{Errno, Halt, Pid, Reaped, SigInfo, Spawn, SpawnError, Sys, SysResult, WaitStatus};
use crate::rtnl::{self, Reply};
use crate::signals::HANDLED;

/// The real system.
#[derive(Debug)]
pub struct LinuxSys {
    netlink_seq: u32,
}

impl LinuxSys {
    /// The running process's system.
    pub fn new() -> LinuxSys {
        LinuxSys { netlink_seq: 0 }
    }
}

impl Default for LinuxSys {
    fn default() -> Self {
        LinuxSys::new()
    }
}

/// An owned file descriptor.
pub(super) struct Fd(pub(super) c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the fd is owned by this value and closed once.
        unsafe { libc::close(self.0) };
    }
}

pub(super) fn errno() -> Errno {
    // SAFETY: __errno_location returns this thread's errno slot.
    Errno(unsafe { *libc::__errno_location() })
}

pub(super) fn check(ret: c_int) -> SysResult<c_int> {
    if ret < 0 {
        Err(errno())
    } else {
        Ok(ret)
    }
}

pub(super) fn cstr(text: &str) -> SysResult<CString> {
    CString::new(text).map_err(|_| Errno::EINVAL)
}

pub(super) fn open(path: &str, flags: c_int, mode: libc::mode_t) -> SysResult<Fd> {
    let path = cstr(path)?;
    loop {
        // SAFETY: `path` is NUL-terminated.
        match check(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, mode) }) {
            Err(Errno(libc::EINTR)) => continue,
            result => return result.map(Fd),
        }
    }
}

fn write_all(fd: c_int, mut data: &[u8]) -> SysResult<()> {
    while !data.is_empty() {
        // SAFETY: `data` is valid for reads of its length.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n < 0 {
            match errno() {
                Errno(libc::EINTR) => continue,
                e => return Err(e),
            }
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// Writes to stdout (for `--help` and `--version`).
pub fn write_stdout(text: &str) {
    let _ = write_all(1, text.as_bytes());
}

/// The C library's text for an errno.
pub(super) fn strerror(errnum: i32) -> String {
    let mut buf = [0u8; 128];
    // SAFETY: `buf` is valid for writes of its length (XSI strerror_r).
    let ret = unsafe { libc::strerror_r(errnum, buf.as_mut_ptr().cast(), buf.len()) };
    let len = buf.iter().position(|&b| b == 0).unwrap_or(0);
    if ret != 0 || len == 0 {
        return format!("errno {errnum}");
    }
    String::from_utf8_lossy(&buf[..len]).into_owned()
}

fn handled_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initializes the set; sigaddset takes valid numbers.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        for signal in HANDLED {
            libc::sigaddset(set.as_mut_ptr(), signal);
        }
        set.assume_init()
    }
}

impl Sys for LinuxSys {
    fn pid(&self) -> Pid {
        // SAFETY: getpid cannot fail.
        unsafe { libc::getpid() }
    }

    fn ids(&self) -> (u32, u32) {
        // SAFETY: getuid and getgid cannot fail.
        unsafe { (libc::getuid(), libc::getgid()) }
    }

    fn cwd(&self) -> Option<String> {
        let mut buf = alloc::vec![0u8; 4096];
        // SAFETY: `buf` is valid for writes of its length.
        let ret = unsafe { libc::getcwd(buf.as_mut_ptr().cast(), buf.len()) };
        if ret.is_null() {
            return None;
        }
        let len = buf.iter().position(|&b| b == 0)?;
        String::from_utf8(buf[..len].to_vec()).ok()
    }

    fn console(&mut self, line: &str) {
        let _ = write_all(2, line.as_bytes());
    }

    fn now(&self) -> Duration {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid timespec; CLOCK_MONOTONIC always exists.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }

    fn sleep(&mut self, duration: Duration) {
        let mut request =
            libc::timespec { tv_sec: duration.as_secs() as libc::time_t, tv_nsec: duration.subsec_nanos() as _ };
        let mut remaining = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: both timespecs are valid; on EINTR sleep the remainder.
        while unsafe { libc::nanosleep(&request, &mut remaining) } != 0 && errno() == Errno(libc::EINTR) {
            request = remaining;
        }
    }

    fn exists(&self, path: &str) -> bool {
        let Ok(path) = cstr(path) else { return false };
        // SAFETY: `path` is NUL-terminated.
        unsafe { libc::access(path.as_ptr(), libc::F_OK) == 0 }
    }

    fn is_executable(&self, path: &str) -> bool {
        let Ok(path) = cstr(path) else { return false };
        let mut st = MaybeUninit::<libc::stat>::uninit();
        // SAFETY: `path` is NUL-terminated and `st` valid for writes.
        if unsafe { libc::stat(path.as_ptr(), st.as_mut_ptr()) } != 0 {
            return false;
        }
        // SAFETY: stat succeeded, so `st` is initialized.
        let mode = unsafe { st.assume_init() }.st_mode;
        mode & libc::S_IFMT == libc::S_IFREG && mode & 0o111 != 0
    }

    fn read_file(&self, path: &str) -> SysResult<Vec<u8>> {
        let fd = open(path, libc::O_RDONLY, 0)?;
        let mut data = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            // SAFETY: `chunk` is valid for writes of its length.
            let n = unsafe { libc::read(fd.0, chunk.as_mut_ptr().cast(), chunk.len()) };
            match n {
                0 => return Ok(data),
                n if n > 0 => data.extend_from_slice(&chunk[..n as usize]),
                _ if errno() == Errno(libc::EINTR) => {}
                _ => return Err(errno()),
            }
        }
    }

    fn write_file(&mut self, path: &str, data: &[u8]) -> SysResult<()> {
        let fd = open(path, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o644)?;
        write_all(fd.0, data)
    }

    fn mkdir(&mut self, path: &str, mode: u32) -> SysResult<()> {
        let path = cstr(path)?;
        // SAFETY: `path` is NUL-terminated.
        check(unsafe { libc::mkdir(path.as_ptr(), mode) }).map(drop)
    }

    fn fs_type(&self, path: &str) -> SysResult<u64> {
        let path = cstr(path)?;
        let mut st = MaybeUninit::<libc::statfs>::uninit();
        // SAFETY: `path` is NUL-terminated and `st` valid for writes.
        check(unsafe { libc::statfs(path.as_ptr(), st.as_mut_ptr()) })?;
        // SAFETY: statfs succeeded, so `st` is initialized.
        Ok(unsafe { st.assume_init() }.f_type as u64)
    }

    fn mount(&mut self, source: &str, target: &str, fstype: &str, flags: u64, data: &str) -> SysResult<()> {
        let (source, target) = (cstr(source)?, cstr(target)?);
        let fstype = (!fstype.is_empty()).then(|| cstr(fstype)).transpose()?;
        let data = (!data.is_empty()).then(|| cstr(data)).transpose()?;
        // SAFETY: every pointer is NUL-terminated or NULL.
        check(unsafe {
            libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                fstype.as_ref().map_or(ptr::null(), |s| s.as_ptr()),
                flags as libc::c_ulong,
                data.as_ref().map_or(ptr::null(), |s| s.as_ptr().cast()),
            )
        })
        .map(drop)
    }

    fn chdir(&mut self, path: &str) -> SysResult<()> {
        let path = cstr(path)?;
        // SAFETY: `path` is NUL-terminated.
        check(unsafe { libc::chdir(path.as_ptr()) }).map(drop)
    }

    fn chroot(&mut self, path: &str) -> SysResult<()> {
        let path = cstr(path)?;
        // SAFETY: `path` is NUL-terminated.
        check(unsafe { libc::chroot(path.as_ptr()) }).map(drop)
    }

    fn attach_console(&mut self) -> SysResult<()> {
        // SAFETY: F_GETFD only queries a descriptor number.
        let closed: Vec<c_int> = (0..3).filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0).collect();
        if closed.is_empty() {
            return Ok(());
        }
        let console = open("/dev/console", libc::O_RDWR | libc::O_NOCTTY, 0)?;
        for fd in closed {
            // SAFETY: dup2 onto a closed standard descriptor; the new one
            // must stay open, so it is not owned by an `Fd`.
            check(unsafe { libc::dup2(console.0, fd) })?;
        }
        if console.0 <= 2 {
            // The console itself landed on a standard descriptor: keep it.
            core::mem::forget(console);
        }
        Ok(())
    }

    fn load_module(&mut self, path: &str, params: &str) -> SysResult<()> {
        let fd = open(path, libc::O_RDONLY, 0)?;
        let params = cstr(params)?;
        // SAFETY: finit_module(fd, NUL-terminated params, flags 0).
        let ret = unsafe { libc::syscall(libc::SYS_finit_module, fd.0, params.as_ptr(), 0) };
        if ret < 0 {
            Err(errno())
        } else {
            Ok(())
        }
    }

    fn set_hostname(&mut self, name: &str) -> SysResult<()> {
        // SAFETY: `name` is valid for reads of its length.
        check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }).map(drop)
    }

    fn disable_ctrl_alt_del(&mut self) -> SysResult<()> {
        // SAFETY: RB_DISABLE_CAD only changes how Ctrl-Alt-Del is handled.
        check(unsafe { libc::reboot(libc::RB_DISABLE_CAD) }).map(drop)
    }

    fn set_child_subreaper(&mut self) -> SysResult<()> {
        // SAFETY: plain prctl with integer arguments.
        check(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }).map(drop)
    }

    fn sync(&mut self) {
        // SAFETY: sync cannot fail.
        unsafe { libc::sync() };
    }

    fn halt(&mut self, how: Halt) -> ! {
        self.sync();
        let cmd = match how {
            Halt::PowerOff => libc::RB_POWER_OFF,
            Halt::Reboot => libc::RB_AUTOBOOT,
        };
        // SAFETY: reboot(2) ends the machine or fails; nothing is borrowed.
        if unsafe { libc::reboot(cmd) } < 0 {
            self.console(&format!("microroot-init: cannot end the VM: reboot: {}\n", errno()));
        }
        loop {
            self.sleep(Duration::from_secs(3600));
        }
    }

    fn link_index(&mut self, name: &str) -> Option<u32> {
        let name = cstr(name).ok()?;
        // SAFETY: `name` is NUL-terminated.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        (index != 0).then_some(index)
    }

    fn link_up(&mut self, index: u32) -> SysResult<()> {
        netlink::request(&mut self.netlink_seq, |seq| rtnl::link_up(seq, index))
    }

    fn has_ipv4(&mut self, index: u32) -> SysResult<bool> {
        let replies = netlink::exchange(&mut self.netlink_seq, rtnl::dump_ipv4_addrs)?;
        if let Some(Reply::Error(errno)) = replies.iter().find(|r| matches!(r, Reply::Error(_))) {
            return Err(Errno(*errno));
        }
        Ok(replies.contains(&Reply::Addr { family: libc::AF_INET as u8, index }))
    }

    fn add_ipv4(&mut self, index: u32, addr: Ipv4Addr, prefix: u8) -> SysResult<()> {
        netlink::request(&mut self.netlink_seq, |seq| rtnl::add_addr(seq, index, addr, prefix))
    }

    fn add_default_route(&mut self, index: u32, gateway: Ipv4Addr) -> SysResult<()> {
        netlink::request(&mut self.netlink_seq, |seq| rtnl::add_default_route(seq, index, gateway))
    }

    fn block_signals(&mut self) -> SysResult<()> {
        let set = handled_set();
        for signal in HANDLED {
            // SAFETY: resetting a catchable signal to its default action.
            unsafe { libc::signal(signal, libc::SIG_DFL) };
        }
        // A console or pipe that went away must not kill init; the app gets
        // SIGPIPE back at its default.
        // SAFETY: ignoring a catchable signal.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        // SAFETY: `set` is an initialized sigset_t.
        check(unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, ptr::null_mut()) }).map(drop)
    }

    fn spawn(&mut self, spawn: &Spawn<'_>) -> Result<Pid, SpawnError> {
        super::spawn::spawn(spawn)
    }

    fn exec(&mut self, path: &str) -> Errno {
        let Ok(c_path) = cstr(path) else { return Errno::EINVAL };
        let argv = [c_path.as_ptr(), ptr::null()];
        let env = [c"HOME=/".as_ptr(), c"TERM=linux".as_ptr(), ptr::null()];
        let empty = core::mem::MaybeUninit::<libc::sigset_t>::zeroed();
        // SAFETY: resetting SIGPIPE and the signal mask only affects this
        // process; execve gets NUL-terminated arrays of C strings that live
        // until it returns (which it does only on failure).
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::sigprocmask(libc::SIG_SETMASK, empty.as_ptr(), ptr::null_mut());
            libc::execve(c_path.as_ptr(), argv.as_ptr(), env.as_ptr());
        }
        let e = errno();
        // Back to init's own signal setup, to carry on.
        let _ = self.block_signals();
        e
    }

    fn kill(&mut self, pid: Pid, signal: i32) -> SysResult<()> {
        // SAFETY: kill(2) only sends a signal.
        check(unsafe { libc::kill(pid, signal) }).map(drop)
    }

    fn children(&mut self) -> Vec<Pid> {
        let me = self.pid();
        let mut children = Vec::new();
        // SAFETY: opendir on a NUL-terminated literal; checked for NULL.
        let dir = unsafe { libc::opendir(c"/proc".as_ptr()) };
        if dir.is_null() {
            return children;
        }
        loop {
            // SAFETY: `dir` is an open DIR stream.
            let entry = unsafe { libc::readdir(dir) };
            if entry.is_null() {
                break;
            }
            // SAFETY: d_name of a returned entry is NUL-terminated.
            let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) };
            let Some(pid) = name.to_str().ok().and_then(|n| n.parse::<Pid>().ok()) else { continue };
            let Ok(stat) = self.read_file(&format!("/proc/{pid}/stat")) else { continue };
            if parent_of(&stat) == Some(me) {
                children.push(pid);
            }
        }
        // SAFETY: `dir` is open and closed once.
        unsafe { libc::closedir(dir) };
        children
    }

    fn reap(&mut self) -> SysResult<Reaped> {
        loop {
            let mut status = 0;
            // SAFETY: `status` is valid for writes.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid == 0 {
                return Ok(Reaped::Running);
            }
            if pid < 0 {
                return match errno() {
                    Errno(libc::EINTR) => continue,
                    Errno(libc::ECHILD) => Ok(Reaped::NoChildren),
                    e => Err(e),
                };
            }
            if libc::WIFEXITED(status) {
                return Ok(Reaped::Child(pid, WaitStatus::Exited(libc::WEXITSTATUS(status))));
            }
            if libc::WIFSIGNALED(status) {
                return Ok(Reaped::Child(pid, WaitStatus::Signaled(libc::WTERMSIG(status))));
            }
        }
    }

    fn next_signal(&mut self, timeout: Option<Duration>) -> SysResult<Option<SigInfo>> {
        let set = handled_set();
        let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
        let signo = match timeout {
            Some(timeout) => {
                let ts =
                    libc::timespec { tv_sec: timeout.as_secs() as libc::time_t, tv_nsec: timeout.subsec_nanos() as _ };
                // SAFETY: `set`, `info` and `ts` are valid.
                unsafe { libc::sigtimedwait(&set, info.as_mut_ptr(), &ts) }
            }
            // SAFETY: `set` and `info` are valid.
            None => unsafe { libc::sigwaitinfo(&set, info.as_mut_ptr()) },
        };
        if signo < 0 {
            return match errno() {
                Errno(libc::EAGAIN | libc::EINTR) => Ok(None),
                e => Err(e),
            };
        }
        // SAFETY: the kernel filled `info` (it was zeroed before anyway).
        let info = unsafe { info.assume_init() };
        // SAFETY: si_pid reads the union member the kernel sets for
        // SI_USER, SI_QUEUE and SIGCHLD; for others it is 0 or unused.
        let pid = unsafe { info.si_pid() };
        Ok(Some(SigInfo { signo, code: info.si_code, pid }))
    }
}

/// The parent pid from the text of `/proc/<pid>/stat`.
fn parent_of(stat: &[u8]) -> Option<Pid> {
    let text = core::str::from_utf8(stat).ok()?;
    let after_name = &text[text.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_pid_from_stat() {
        assert_eq!(parent_of(b"42 (sh) S 7 42 42 0 -1"), Some(7));
        assert_eq!(parent_of(b"42 (a) b) c) Z 1 0"), Some(1));
        assert_eq!(parent_of(b"garbage"), None);
    }

    #[test]
    fn errno_text() {
        assert_eq!(Errno::ENOENT.to_string(), "No such file or directory");
        assert_eq!(strerror(100000), "errno 100000");
    }
}
