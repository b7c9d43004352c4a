//! Mode detection, logging and the container-mode flow.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::cli::Args;
use crate::config::{InitConfig, CONFIG_PATH};
use crate::sys::{Errno, Sys};

/// How init behaves, decided once at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A runtime set the machine up (`/proc` is mounted) or init is not
    /// PID 1: supervise the app only.
    Container,
    /// PID 1 of a freshly booted kernel: set the machine up, run the app,
    /// power off.
    Vm,
}

impl Mode {
    /// VM mode when PID 1 and `/proc/self` does not exist yet.
    pub fn detect(sys: &impl Sys) -> Mode {
        if sys.pid() == 1 && !sys.exists("/proc/self") {
            Mode::Vm
        } else {
            Mode::Container
        }
    }
}

/// Runs init with `env` as its own environment (the app's environment when
/// there is no config). In [`Mode::Container`] returns the exit status; in
/// [`Mode::Vm`] never returns, it ends in [`Sys::halt`].
pub fn run<S: Sys>(sys: &mut S, args: &Args, env: Vec<(String, String)>) -> i32 {
    let mode = Mode::detect(sys);
    let pid1 = sys.pid() == 1;
    let mut init = Init { sys, verbose: args.verbose, pid1, vm: mode == Mode::Vm };
    match mode {
        Mode::Vm => init.vm(args, env),
        Mode::Container => init.container(args, env),
    }
}

/// State shared by the steps of both modes.
pub(crate) struct Init<'s, S: Sys> {
    pub(crate) sys: &'s mut S,
    pub(crate) verbose: bool,
    /// `kill(-1)` reaches every other process (PID 1 of a VM or of a PID
    /// namespace); otherwise init signals its own children.
    pub(crate) pid1: bool,
    pub(crate) vm: bool,
}

impl<S: Sys> Init<'_, S> {
    /// A console line, always printed; each line of `message` gets the
    /// `microroot-init: ` prefix.
    pub(crate) fn log(&mut self, message: fmt::Arguments<'_>) {
        let text = message.to_string();
        let mut out = String::with_capacity(text.len() + 20);
        for line in text.lines() {
            out.push_str("microroot-init: ");
            out.push_str(line);
            out.push('\n');
        }
        self.sys.console(&out);
    }

    /// A console line printed only when verbose.
    pub(crate) fn debug(&mut self, message: fmt::Arguments<'_>) {
        if self.verbose {
            self.log(message);
        }
    }

    pub(crate) fn block_signals(&mut self) {
        if let Err(e) = self.sys.block_signals() {
            self.log(format_args!("cannot block signals: {e}"));
        }
    }

    fn container(&mut self, args: &Args, env: Vec<(String, String)>) -> i32 {
        self.block_signals();
        if !self.pid1 {
            if let Err(e) = self.sys.set_child_subreaper() {
                self.log(format_args!("cannot become a child subreaper: {e}"));
            }
        }
        self.reap_ready(None);
        let config = match self.load_config(args, args.config.is_none()) {
            Ok(Some(config)) => config,
            Ok(None) => self.fallback_config(env),
            Err(message) => {
                self.log(format_args!("{message}"));
                return 1;
            }
        };
        let end = self.run_app(&with_argv(config, args));
        if let Some(line) = &end.line {
            self.debug(format_args!("{line}"));
        }
        self.debug(format_args!("exit status {}", end.code));
        end.code
    }

    /// Reads `--config PATH` or [`CONFIG_PATH`]; `None` when the file does
    /// not exist and that is fine.
    pub(crate) fn load_config(&mut self, args: &Args, missing_ok: bool) -> Result<Option<InitConfig>, String> {
        let path = args.config.as_deref().unwrap_or(CONFIG_PATH);
        let bytes = match self.sys.read_file(path) {
            Ok(bytes) => bytes,
            Err(Errno::ENOENT) if missing_ok => {
                self.debug(format_args!("no config at {path}"));
                return Ok(None);
            }
            Err(e) => return Err(format!("cannot read config {path}: {e}")),
        };
        let text = core::str::from_utf8(&bytes).map_err(|_| format!("config {path} is not UTF-8"))?;
        let config = InitConfig::parse(text).map_err(|e| format!("config {path}: {e}"))?;
        self.debug(format_args!("read config {path}"));
        Ok(Some(config))
    }

    /// Without a config the app inherits init's environment, ids and
    /// directory.
    pub(crate) fn fallback_config(&mut self, env: Vec<(String, String)>) -> InitConfig {
        let (uid, gid) = self.sys.ids();
        let workdir = if self.vm { None } else { self.sys.cwd() };
        InitConfig { env, uid, gid, workdir: workdir.unwrap_or_else(|| "/".to_string()), ..InitConfig::default() }
    }
}

/// The config with the command line's argv, if one was given.
pub(crate) fn with_argv(mut config: InitConfig, args: &Args) -> InitConfig {
    if let Some(argv) = &args.argv {
        config.argv = argv.clone();
    }
    config
}
