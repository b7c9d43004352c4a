//! Starting the app: fork + exec, with the errors of the child's setup
//! reported back through a close-on-exec pipe.

use alloc::ffi::CString;
use alloc::format;
use alloc::vec::Vec;
use core::ffi::{c_char, c_int, CStr};
use core::mem::MaybeUninit;
use core::ptr;

use super::linux::{check, cstr, errno, open, Fd};
use super::{Errno, Pid, Spawn, SpawnError};

const STEPS: [&str; 7] = ["setsid", "open /dev/console", "chdir", "setgroups", "setgid", "setuid", "execve"];

pub(super) fn spawn(spawn: &Spawn<'_>) -> Result<Pid, SpawnError> {
    let fail = |step: &'static str| move |errno| SpawnError { step, errno };
    // Everything the child needs is allocated before fork.
    let path = cstr(spawn.path).map_err(fail("argv"))?;
    let argv: Vec<CString> = spawn.argv.iter().map(|a| cstr(a)).collect::<Result<_, _>>().map_err(fail("argv"))?;
    let env: Vec<CString> =
        spawn.env.iter().map(|(k, v)| cstr(&format!("{k}={v}"))).collect::<Result<_, _>>().map_err(fail("env"))?;
    let argv_ptrs: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).chain([ptr::null()]).collect();
    let env_ptrs: Vec<*const c_char> = env.iter().map(|a| a.as_ptr()).chain([ptr::null()]).collect();
    let workdir = cstr(spawn.workdir).map_err(fail("chdir"))?;
    let console = match spawn.console {
        true => Some(open("/dev/console", libc::O_RDWR | libc::O_NOCTTY, 0).map_err(fail("open /dev/console"))?),
        false => None,
    };
    let groups: Vec<libc::gid_t> = spawn.groups.to_vec();
    // SAFETY: geteuid cannot fail.
    let set_groups = !groups.is_empty() || unsafe { libc::geteuid() } == 0;
    let mut pipe = [0 as c_int; 2];
    // SAFETY: `pipe` has room for two descriptors.
    check(unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) }).map_err(fail("pipe"))?;
    let (reader, writer) = (Fd(pipe[0]), Fd(pipe[1]));
    // SAFETY: init is single-threaded, and the child only makes
    // async-signal-safe calls before execve or _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(SpawnError { step: "fork", errno: errno() });
    }
    if pid == 0 {
        let child = Child {
            path: &path,
            argv: &argv_ptrs,
            env: &env_ptrs,
            workdir: &workdir,
            console: console.as_ref().map(|fd| fd.0),
            set_groups,
            groups: &groups,
            uid: spawn.uid,
            gid: spawn.gid,
            report: writer.0,
        };
        child.exec();
    }
    drop(writer);
    let mut report = [0u8; 8];
    let mut got = 0;
    while got < report.len() {
        // SAFETY: the rest of `report` is valid for writes.
        let n = unsafe { libc::read(reader.0, report[got..].as_mut_ptr().cast(), report.len() - got) };
        match n {
            0 => break,
            n if n > 0 => got += n as usize,
            _ if errno() == Errno(libc::EINTR) => {}
            _ => break,
        }
    }
    if got < report.len() {
        return Ok(pid); // execve closed the pipe: the app runs
    }
    // SAFETY: reaping our own child, which has exited or is exiting.
    while unsafe { libc::waitpid(pid, ptr::null_mut(), 0) } < 0 && errno() == Errno(libc::EINTR) {}
    let step = u32::from_ne_bytes([report[0], report[1], report[2], report[3]]) as usize;
    let errno = i32::from_ne_bytes([report[4], report[5], report[6], report[7]]);
    Err(SpawnError { step: STEPS.get(step).copied().unwrap_or("exec"), errno: Errno(errno) })
}

struct Child<'a> {
    path: &'a CStr,
    argv: &'a [*const c_char],
    env: &'a [*const c_char],
    workdir: &'a CStr,
    console: Option<c_int>,
    set_groups: bool,
    groups: &'a [libc::gid_t],
    uid: u32,
    gid: u32,
    report: c_int,
}

impl Child<'_> {
    /// Runs in the forked child: no allocation, only async-signal-safe
    /// calls.
    fn exec(&self) -> ! {
        // SAFETY: each call below is async-signal-safe and gets valid
        // pointers prepared before fork; on failure the step and errno
        // go to the pipe and the child exits without unwinding.
        unsafe {
            if let Some(console) = self.console {
                if libc::setsid() < 0 {
                    self.fail(0);
                }
                for fd in 0..3 {
                    if libc::dup2(console, fd) < 0 {
                        self.fail(1);
                    }
                }
                // Without a controlling tty the app still runs; only
                // job control is lost.
                libc::ioctl(0, libc::TIOCSCTTY, 1);
            }
            if libc::chdir(self.workdir.as_ptr()) < 0 {
                self.fail(2);
            }
            if self.set_groups
                && libc::setgroups(self.groups.len(), self.groups.as_ptr()) < 0
                && !self.groups.is_empty()
            {
                self.fail(3);
            }
            if libc::setgid(self.gid) < 0 {
                self.fail(4);
            }
            if libc::setuid(self.uid) < 0 {
                self.fail(5);
            }
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            let mut empty = MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(empty.as_mut_ptr());
            libc::sigprocmask(libc::SIG_SETMASK, empty.as_ptr(), ptr::null_mut());
            libc::execve(self.path.as_ptr(), self.argv.as_ptr(), self.env.as_ptr());
            self.fail(6);
        }
    }

    fn fail(&self, step: u32) -> ! {
        let mut report = [0u8; 8];
        report[..4].copy_from_slice(&step.to_ne_bytes());
        report[4..].copy_from_slice(&errno().0.to_ne_bytes());
        // SAFETY: write and _exit are async-signal-safe.
        unsafe {
            libc::write(self.report, report.as_ptr().cast(), report.len());
            libc::_exit(127)
        }
    }
}
