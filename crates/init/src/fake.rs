//! A scripted [`Sys`] for unit tests: files, programs, processes and
//! signals on a virtual clock.
//!
//! Time only moves in `sleep` and `next_signal`, jumping to the next
//! scheduled event, so tests are instant and deterministic. Every call that
//! changes the system is recorded in `calls` as a short string.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::Ipv4Addr;
use std::string::{String, ToString};
use std::time::Duration;
use std::vec::Vec;
use std::{format, vec};

use crate::sys::{Errno, Halt, Pid, Reaped, SigInfo, Spawn, SpawnError, Sys, SysResult, WaitStatus};

/// The payload of the panic that stands in for the end of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Halted(pub Halt);

/// The payload of the panic that stands in for a successful `exec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execed(pub String);

/// What a fake program does.
#[derive(Debug, Clone, Default)]
pub struct Program {
    /// Ends by itself this long after it starts.
    pub exit_after: Option<(Duration, WaitStatus)>,
    /// Signals it catches, and what it then does: `None` to carry on,
    /// `Some(status)` to end. Other signals kill it (SIGCHLD excepted).
    pub traps: BTreeMap<i32, Option<WaitStatus>>,
    /// Children it starts at once; they are adopted by init when it ends.
    pub children: Vec<Program>,
}

impl Program {
    pub fn exits(after_ms: u64, status: WaitStatus) -> Program {
        Program { exit_after: Some((ms(after_ms), status)), ..Program::default() }
    }

    pub fn forever() -> Program {
        Program::default()
    }

    pub fn trap(mut self, signal: i32, then: Option<WaitStatus>) -> Program {
        self.traps.insert(signal, then);
        self
    }

    pub fn child(mut self, child: Program) -> Program {
        self.children.push(child);
        self
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[derive(Debug)]
pub struct Proc {
    pub parent: Pid,
    pub program: Program,
    pub ended: Option<WaitStatus>,
}

#[derive(Debug, Clone)]
enum Event {
    /// A signal to init.
    Signal(SigInfo),
    /// A process ends on its own.
    Exit(Pid, WaitStatus),
    /// An orphan (a double-forked daemon) is adopted by init.
    Adopt(Program),
    /// A file (device node) appears.
    File(String),
}

/// Files and directories of a root file system.
pub type Files = (BTreeMap<String, Vec<u8>>, BTreeSet<String>);

/// argv and env of a spawned program.
pub type Launch = (Vec<String>, Vec<(String, String)>);

#[derive(Debug, Clone)]
pub struct Link {
    pub index: u32,
    pub appears_at: Duration,
    pub has_ipv4: bool,
}

#[derive(Debug)]
pub struct Fake {
    pub pid: Pid,
    pub clock: Duration,
    /// Files and directories of the current root.
    pub files: BTreeMap<String, Vec<u8>>,
    pub dirs: BTreeSet<String>,
    /// What `/newroot` holds once something is mounted there; becomes the
    /// root on `chroot(".")`.
    pub new_root: Option<Files>,
    pub read_only: bool,
    pub root_fs_type: u64,
    pub programs: BTreeMap<String, Program>,
    pub procs: BTreeMap<Pid, Proc>,
    pub links: BTreeMap<String, Link>,
    pub failing_modules: BTreeMap<String, Errno>,
    pub calls: Vec<String>,
    /// argv and env of every spawned app.
    pub spawned: Vec<Launch>,
    pub console: Vec<String>,
    pending: VecDeque<SigInfo>,
    events: Vec<(Duration, Event)>,
    next_pid: Pid,
}

impl Fake {
    /// A system where init has this pid and `/` holds nothing.
    pub fn new(pid: Pid) -> Fake {
        Fake {
            pid,
            clock: Duration::ZERO,
            files: BTreeMap::new(),
            dirs: ["/".to_string(), "/home/user".to_string()].into(),
            new_root: None,
            read_only: false,
            root_fs_type: 0xef53,
            programs: BTreeMap::new(),
            procs: BTreeMap::new(),
            links: BTreeMap::new(),
            failing_modules: BTreeMap::new(),
            calls: Vec::new(),
            spawned: Vec::new(),
            console: Vec::new(),
            pending: VecDeque::new(),
            events: Vec::new(),
            next_pid: 100,
        }
    }

    /// Container mode: not PID 1, /proc mounted.
    pub fn container() -> Fake {
        let mut fake = Fake::new(4242);
        fake.dirs.insert("/proc/self".into());
        fake
    }

    /// VM mode: PID 1, an empty root with ACPI once /sys is mounted.
    pub fn vm(cmdline: &str) -> Fake {
        let mut fake = Fake::new(1);
        fake.files.insert("/proc/cmdline".into(), format!("{cmdline}\n").into_bytes());
        fake.dirs.insert("/sys/firmware/acpi".into());
        fake
    }

    pub fn file(&mut self, path: &str, text: &str) -> &mut Fake {
        self.files.insert(path.into(), text.as_bytes().to_vec());
        self
    }

    pub fn program(&mut self, path: &str, program: Program) -> &mut Fake {
        self.programs.insert(path.into(), program);
        self
    }

    pub fn signal_at(&mut self, at_ms: u64, signo: i32, code: i32) -> &mut Fake {
        self.events.push((ms(at_ms), Event::Signal(SigInfo { signo, code, pid: 0 })));
        self
    }

    pub fn adopt_at(&mut self, at_ms: u64, program: Program) -> &mut Fake {
        self.events.push((ms(at_ms), Event::Adopt(program)));
        self
    }

    pub fn file_at(&mut self, at_ms: u64, path: &str) -> &mut Fake {
        self.events.push((ms(at_ms), Event::File(path.into())));
        self
    }

    /// A child of init that is already a zombie when init starts.
    pub fn zombie(&mut self) -> Pid {
        let pid = self.start(self.pid, Program::default());
        self.procs.get_mut(&pid).unwrap().ended = Some(WaitStatus::Exited(0));
        pid
    }

    /// Processes that are alive or not yet reaped.
    pub fn remaining(&self) -> Vec<Pid> {
        self.procs.keys().copied().collect()
    }

    pub fn called(&self, prefix: &str) -> Vec<&str> {
        self.calls.iter().filter(|c| c.starts_with(prefix)).map(String::as_str).collect()
    }

    pub fn position(&self, call: &str) -> usize {
        self.calls.iter().position(|c| c == call).unwrap_or_else(|| panic!("no call {call:?} in {:#?}", self.calls))
    }

    fn start(&mut self, parent: Pid, program: Program) -> Pid {
        let pid = self.next_pid;
        self.next_pid += 1;
        if let Some((after, status)) = program.exit_after {
            self.events.push((self.clock + after, Event::Exit(pid, status)));
        }
        let children = program.children.clone();
        self.procs.insert(pid, Proc { parent, program, ended: None });
        for child in children {
            self.start(pid, child);
        }
        pid
    }

    fn end(&mut self, pid: Pid, status: WaitStatus) {
        let Some(proc) = self.procs.get_mut(&pid) else { return };
        if proc.ended.is_some() {
            return;
        }
        proc.ended = Some(status);
        let parent = proc.parent;
        for other in self.procs.values_mut() {
            if other.parent == pid {
                other.parent = self.pid;
            }
        }
        if parent == self.pid {
            self.pending.push_back(SigInfo { signo: libc::SIGCHLD, code: 1, pid });
        } else {
            self.procs.remove(&pid); // its (fake) parent reaps it
        }
    }

    fn deliver(&mut self, pid: Pid, signal: i32) {
        let Some(proc) = self.procs.get_mut(&pid) else { return };
        if proc.ended.is_some() {
            return;
        }
        let outcome = match proc.program.traps.get(&signal) {
            _ if signal == libc::SIGKILL => Some(WaitStatus::Signaled(signal)),
            Some(then) => *then,
            None if signal == libc::SIGCHLD => None,
            None => Some(WaitStatus::Signaled(signal)),
        };
        if let Some(status) = outcome {
            self.end(pid, status);
        }
    }

    /// Moves the clock to `until`, applying the events due by then.
    fn advance(&mut self, until: Duration) {
        loop {
            let next =
                self.events.iter().enumerate().filter(|(_, (at, _))| *at <= until).min_by_key(|(_, (at, _))| *at);
            let Some((index, _)) = next else { break };
            let (at, event) = self.events.remove(index);
            self.clock = self.clock.max(at);
            match event {
                Event::Signal(info) => self.pending.push_back(info),
                Event::Exit(pid, status) => self.end(pid, status),
                Event::Adopt(program) => {
                    self.start(self.pid, program);
                }
                Event::File(path) => {
                    self.files.insert(path, Vec::new());
                }
            }
        }
        self.clock = self.clock.max(until);
    }

    fn next_event_time(&self) -> Option<Duration> {
        self.events.iter().map(|(at, _)| *at).min()
    }

    fn record(&mut self, call: String) {
        self.calls.push(call);
    }
}

impl Sys for Fake {
    fn pid(&self) -> Pid {
        self.pid
    }

    fn ids(&self) -> (u32, u32) {
        (1000, 1000)
    }

    fn cwd(&self) -> Option<String> {
        Some("/home/user".into())
    }

    fn console(&mut self, line: &str) {
        self.console.extend(line.lines().map(str::to_string));
    }

    fn now(&self) -> Duration {
        self.clock
    }

    fn sleep(&mut self, duration: Duration) {
        self.advance(self.clock + duration);
    }

    fn exists(&self, path: &str) -> bool {
        self.files.contains_key(path) || self.dirs.contains(path)
    }

    fn is_executable(&self, path: &str) -> bool {
        self.programs.contains_key(path)
    }

    fn read_file(&self, path: &str) -> SysResult<Vec<u8>> {
        self.files.get(path).cloned().ok_or(Errno::ENOENT)
    }

    fn write_file(&mut self, path: &str, data: &[u8]) -> SysResult<()> {
        self.record(format!("write {path} {}", String::from_utf8_lossy(data).trim_end().replace('\n', "; ")));
        if self.read_only {
            return Err(Errno::EROFS);
        }
        self.files.insert(path.into(), data.to_vec());
        Ok(())
    }

    fn mkdir(&mut self, path: &str, mode: u32) -> SysResult<()> {
        self.record(format!("mkdir {path} {mode:o}"));
        if self.read_only && !path.starts_with("/dev/") {
            return Err(Errno::EROFS);
        }
        if !self.dirs.insert(path.into()) {
            return Err(Errno::EEXIST);
        }
        Ok(())
    }

    fn fs_type(&self, _path: &str) -> SysResult<u64> {
        Ok(self.root_fs_type)
    }

    fn mount(&mut self, source: &str, target: &str, fstype: &str, flags: u64, data: &str) -> SysResult<()> {
        self.record(format!("mount {source} {target} {fstype} {flags:#x} {data}").trim_end().to_string());
        if target == crate::root::NEW_ROOT && flags & crate::sys::MS_MOVE == 0 {
            if fstype != "ext4" && fstype != "xfs" {
                return Err(Errno(libc::ENODEV));
            }
            if self.new_root.is_none() {
                return Err(Errno::EINVAL);
            }
        }
        Ok(())
    }

    fn chdir(&mut self, path: &str) -> SysResult<()> {
        self.record(format!("chdir {path}"));
        Ok(())
    }

    fn chroot(&mut self, path: &str) -> SysResult<()> {
        self.record(format!("chroot {path}"));
        if let Some((files, dirs)) = self.new_root.take() {
            self.files = files;
            self.dirs = dirs;
        }
        Ok(())
    }

    fn attach_console(&mut self) -> SysResult<()> {
        self.record("attach console".into());
        Ok(())
    }

    fn load_module(&mut self, path: &str, params: &str) -> SysResult<()> {
        self.record(format!("finit_module {path} {params}").trim_end().to_string());
        if let Some(errno) = self.failing_modules.get(path) {
            return Err(*errno);
        }
        if !self.files.contains_key(path) {
            return Err(Errno::ENOENT);
        }
        Ok(())
    }

    fn set_hostname(&mut self, name: &str) -> SysResult<()> {
        self.record(format!("sethostname {name}"));
        Ok(())
    }

    fn disable_ctrl_alt_del(&mut self) -> SysResult<()> {
        self.record("reboot CAD_OFF".into());
        Ok(())
    }

    fn set_child_subreaper(&mut self) -> SysResult<()> {
        self.record("prctl SET_CHILD_SUBREAPER".into());
        Ok(())
    }

    fn sync(&mut self) {
        self.record("sync".into());
    }

    fn halt(&mut self, how: Halt) -> ! {
        self.record(format!("halt {how:?}"));
        std::panic::panic_any(Halted(how))
    }

    fn link_index(&mut self, name: &str) -> Option<u32> {
        self.links.get(name).filter(|l| l.appears_at <= self.clock).map(|l| l.index)
    }

    fn link_up(&mut self, index: u32) -> SysResult<()> {
        self.record(format!("link {index} up"));
        Ok(())
    }

    fn has_ipv4(&mut self, index: u32) -> SysResult<bool> {
        Ok(self.links.values().any(|l| l.index == index && l.has_ipv4))
    }

    fn add_ipv4(&mut self, index: u32, addr: Ipv4Addr, prefix: u8) -> SysResult<()> {
        self.record(format!("addr add {addr}/{prefix} dev {index}"));
        Ok(())
    }

    fn add_default_route(&mut self, index: u32, gateway: Ipv4Addr) -> SysResult<()> {
        self.record(format!("route add default via {gateway} dev {index}"));
        Ok(())
    }

    fn block_signals(&mut self) -> SysResult<()> {
        self.record("block signals".into());
        Ok(())
    }

    fn spawn(&mut self, spawn: &Spawn<'_>) -> Result<Pid, SpawnError> {
        self.record(format!(
            "spawn {} uid={} gid={} groups={:?} workdir={} console={}",
            spawn.path, spawn.uid, spawn.gid, spawn.groups, spawn.workdir, spawn.console
        ));
        self.spawned.push((spawn.argv.to_vec(), spawn.env.to_vec()));
        let Some(program) = self.programs.get(spawn.path).cloned() else {
            return Err(SpawnError { step: "execve", errno: Errno::ENOENT });
        };
        Ok(self.start(self.pid, program))
    }

    fn exec(&mut self, path: &str) -> Errno {
        self.record(format!("exec {path}"));
        if self.programs.contains_key(path) {
            std::panic::panic_any(Execed(path.to_string()))
        }
        Errno::ENOENT
    }

    fn kill(&mut self, pid: Pid, signal: i32) -> SysResult<()> {
        self.record(format!("kill {pid} {}", crate::signals::name(signal)));
        let targets: Vec<Pid> = match pid {
            -1 => self.procs.iter().filter(|(_, p)| p.ended.is_none()).map(|(pid, _)| *pid).collect(),
            pid => vec![pid],
        };
        let alive: Vec<Pid> =
            targets.into_iter().filter(|p| self.procs.get(p).is_some_and(|p| p.ended.is_none())).collect();
        if alive.is_empty() {
            return Err(Errno::ESRCH);
        }
        for target in alive {
            self.deliver(target, signal);
        }
        Ok(())
    }

    fn children(&mut self) -> Vec<Pid> {
        self.procs.iter().filter(|(_, p)| p.parent == self.pid).map(|(pid, _)| *pid).collect()
    }

    fn reap(&mut self) -> SysResult<Reaped> {
        let zombie = self.procs.iter().find(|(_, p)| p.parent == self.pid && p.ended.is_some()).map(|(pid, _)| *pid);
        if let Some(pid) = zombie {
            let proc = self.procs.remove(&pid).unwrap();
            self.record(format!("reaped {pid}"));
            return Ok(Reaped::Child(pid, proc.ended.unwrap()));
        }
        if self.procs.values().any(|p| p.parent == self.pid) {
            Ok(Reaped::Running)
        } else {
            Ok(Reaped::NoChildren)
        }
    }

    fn next_signal(&mut self, timeout: Option<Duration>) -> SysResult<Option<SigInfo>> {
        if let Some(info) = self.pending.pop_front() {
            return Ok(Some(info));
        }
        let until = match (timeout, self.next_event_time()) {
            (Some(timeout), _) => self.clock + timeout,
            (None, Some(next)) => next,
            (None, None) => panic!("init would wait forever; calls: {:#?}", self.calls),
        };
        let step = self.next_event_time().map_or(until, |next| next.min(until));
        self.advance(step);
        Ok(self.pending.pop_front())
    }
}
