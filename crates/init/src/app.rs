//! Starting the app, passing signals on, reaping, and stopping everything
//! that is left once the app is gone.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use core::time::Duration;

use crate::config::{InitConfig, CONFIG_PATH};
use crate::run::Init;
use crate::signals::{self, FORWARDED, SI_KERNEL};
use crate::sys::{Errno, Pid, Reaped, SigInfo, Spawn, Sys, WaitStatus};

/// `PATH` for looking up `argv[0]` when the config's env has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Exit status when the app cannot be started (as a shell's "command not
/// found").
pub const STATUS_NOT_STARTED: i32 = 127;

/// How long to wait for processes to die after SIGKILL.
const KILL_WAIT: Duration = Duration::from_secs(5);
const KILL_POLL: Duration = Duration::from_millis(100);

/// The end of the app: its shell-style status and a line describing it.
pub(crate) struct AppEnd {
    pub(crate) code: i32,
    pub(crate) line: Option<String>,
}

impl<S: Sys> Init<'_, S> {
    /// Starts the app, supervises it until it ends, then stops every other
    /// process.
    pub(crate) fn run_app(&mut self, config: &InitConfig) -> AppEnd {
        let stop_timeout = Duration::from_secs(config.stop_timeout_secs.into());
        let (pid, path) = match self.start_app(config) {
            Ok(started) => started,
            Err(message) => {
                self.log(format_args!("{message}"));
                self.stop_others(stop_timeout);
                return AppEnd { code: STATUS_NOT_STARTED, line: None };
            }
        };
        self.debug(format_args!("started {path} (pid {pid})"));
        let status = self.supervise(pid, stop_timeout);
        self.stop_others(stop_timeout);
        let line = match status {
            WaitStatus::Exited(code) => format!("{path} exited with code {code}"),
            WaitStatus::Signaled(signal) => {
                format!("{path} killed by signal {signal} ({})", signals::name(signal))
            }
        };
        AppEnd { code: status.code(), line: Some(line) }
    }

    fn start_app(&mut self, config: &InitConfig) -> Result<(Pid, String), String> {
        let Some(arg0) = config.argv.first() else {
            return Err(format!(
                "no command to run: {CONFIG_PATH} has no `arg` line and none was given after --\n\
                 hint: set the image's command, or pass `-- COMMAND` to init"
            ));
        };
        let path = if arg0.contains('/') { arg0.clone() } else { self.lookup(arg0, config)? };
        if !self.sys.exists(&config.workdir) {
            return Err(format!("cannot run {path}: working directory {} does not exist", config.workdir));
        }
        let spawn = Spawn {
            path: &path,
            argv: &config.argv,
            env: &config.env,
            workdir: &config.workdir,
            uid: config.uid,
            gid: config.gid,
            groups: &config.groups,
            console: self.vm,
        };
        match self.sys.spawn(&spawn) {
            Ok(pid) => Ok((pid, path)),
            Err(e) => Err(format!("cannot run {path}: {}: {}", e.step, e.errno)),
        }
    }

    /// `argv[0]` in the `PATH` of the app's environment.
    fn lookup(&mut self, name: &str, config: &InitConfig) -> Result<String, String> {
        let search = config.env.iter().rev().find(|(k, _)| k == "PATH").map_or(DEFAULT_PATH, |(_, v)| v.as_str());
        for dir in search.split(':') {
            let candidate = format!("{}/{name}", if dir.is_empty() { "." } else { dir });
            if self.sys.is_executable(&candidate) {
                return Ok(candidate);
            }
        }
        Err(format!("cannot run {name}: not found in PATH {search}"))
    }

    /// Waits for the app to end, passing signals on and reaping whatever
    /// else ends meanwhile.
    fn supervise(&mut self, app: Pid, stop_timeout: Duration) -> WaitStatus {
        let mut kill_at: Option<Duration> = None;
        loop {
            let (status, children_left) = self.reap_ready(Some(app));
            if let Some(status) = status {
                return status;
            }
            if !children_left {
                self.log(format_args!("the app (pid {pid}) vanished without an exit status", pid = app));
                return WaitStatus::Exited(1);
            }
            let now = self.sys.now();
            if kill_at.is_some_and(|at| now >= at) {
                self.log(format_args!("the app did not stop within {}s; sending SIGKILL", stop_timeout.as_secs()));
                self.send(app, libc::SIGKILL);
                kill_at = None;
            }
            match self.sys.next_signal(kill_at.map(|at| at.saturating_sub(now))) {
                Ok(Some(info)) => self.on_signal(info, app, stop_timeout, &mut kill_at),
                Ok(None) => {}
                Err(e) => {
                    self.log(format_args!("cannot wait for signals: {e}"));
                    self.sys.sleep(KILL_POLL);
                }
            }
        }
    }

    fn on_signal(&mut self, info: SigInfo, app: Pid, stop_timeout: Duration, kill_at: &mut Option<Duration>) {
        let name = signals::name(info.signo);
        if info.signo == libc::SIGCHLD {
            return;
        }
        if self.vm && is_shutdown_request(info) {
            self.debug(format_args!("shutdown requested ({name}); sending SIGTERM to the app"));
            self.send(app, libc::SIGTERM);
            let deadline = self.sys.now() + stop_timeout;
            kill_at.get_or_insert(deadline);
        } else if FORWARDED.contains(&info.signo) {
            self.debug(format_args!("forwarding {name} to the app"));
            self.send(app, info.signo);
        } else {
            self.debug(format_args!("ignoring {name}"));
        }
    }

    fn send(&mut self, pid: Pid, signal: i32) {
        match self.sys.kill(pid, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(e) => self.log(format_args!("cannot send {} to pid {pid}: {e}", signals::name(signal))),
        }
    }

    /// Reaps every child that has ended. Returns the app's status if it was
    /// among them, and whether any children are left.
    pub(crate) fn reap_ready(&mut self, app: Option<Pid>) -> (Option<WaitStatus>, bool) {
        let mut app_status = None;
        loop {
            match self.sys.reap() {
                Ok(Reaped::Child(pid, status)) if Some(pid) == app => app_status = Some(status),
                Ok(Reaped::Child(pid, status)) => {
                    self.debug(format_args!("reaped pid {pid} (status {})", status.code()));
                }
                Ok(Reaped::Running) => return (app_status, true),
                Ok(Reaped::NoChildren) => return (app_status, false),
                Err(e) => {
                    self.log(format_args!("cannot reap children: {e}"));
                    return (app_status, true);
                }
            }
        }
    }

    /// SIGTERM to every other process, up to `stop_timeout` for them to
    /// end, then SIGKILL to the rest.
    pub(crate) fn stop_others(&mut self, stop_timeout: Duration) {
        if !self.reap_ready(None).1 {
            return;
        }
        self.debug(format_args!("sending SIGTERM to the remaining processes"));
        let mut signalled = BTreeSet::new();
        let deadline = self.sys.now() + stop_timeout;
        loop {
            // Repeated so that orphans reparented to init meanwhile get it too.
            self.signal_rest(libc::SIGTERM, &mut signalled);
            if !self.reap_ready(None).1 {
                return;
            }
            let now = self.sys.now();
            if now >= deadline {
                break;
            }
            if self.sys.next_signal(Some(deadline - now)).is_err() {
                self.sys.sleep(KILL_POLL);
            }
        }
        self.debug(format_args!("sending SIGKILL to the remaining processes"));
        let deadline = self.sys.now() + KILL_WAIT;
        loop {
            self.signal_rest(libc::SIGKILL, &mut BTreeSet::new());
            if !self.reap_ready(None).1 {
                return;
            }
            let now = self.sys.now();
            if now >= deadline {
                self.log(format_args!("some processes are still there after SIGKILL"));
                return;
            }
            if self.sys.next_signal(Some(KILL_POLL.min(deadline - now))).is_err() {
                self.sys.sleep(KILL_POLL);
            }
        }
    }

    /// Signals every process not signalled yet: all at once with `kill(-1)`
    /// as PID 1, otherwise init's children one by one.
    fn signal_rest(&mut self, signal: i32, signalled: &mut BTreeSet<Pid>) {
        if self.pid1 {
            if signalled.insert(-1) {
                let _ = self.sys.kill(-1, signal);
            }
            return;
        }
        for pid in self.sys.children() {
            if signalled.insert(pid) {
                let _ = self.sys.kill(pid, signal);
            }
        }
    }
}

/// In a VM: Ctrl-Alt-Del (SIGINT from the kernel), SIGTERM or SIGPWR.
fn is_shutdown_request(info: SigInfo) -> bool {
    (info.signo == libc::SIGINT && info.code == SI_KERNEL) || info.signo == libc::SIGTERM || info.signo == libc::SIGPWR
}
