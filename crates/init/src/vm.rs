//! VM mode: set the machine up, run the app, power off.

use alloc::string::String;
use alloc::vec::Vec;

use crate::app::AppEnd;
use crate::cli::Args;
use crate::cmdline::Cmdline;
use crate::config::{InitConfig, Module};
use crate::ip;
use crate::run::{with_argv, Init};
use crate::sys::{Errno, Halt, Sys, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REMOUNT};

struct ApiMount {
    fstype: &'static str,
    target: &'static str,
    flags: u64,
    data: &'static str,
}

/// The API file systems, in mount order.
const API_MOUNTS: [ApiMount; 7] = [
    ApiMount { fstype: "proc", target: "/proc", flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, data: "" },
    ApiMount { fstype: "sysfs", target: "/sys", flags: MS_NOSUID | MS_NODEV | MS_NOEXEC, data: "" },
    ApiMount { fstype: "devtmpfs", target: "/dev", flags: MS_NOSUID, data: "mode=0755" },
    ApiMount { fstype: "devpts", target: "/dev/pts", flags: MS_NOSUID | MS_NOEXEC, data: "mode=620,ptmxmode=666" },
    ApiMount { fstype: "tmpfs", target: "/dev/shm", flags: MS_NOSUID | MS_NODEV, data: "mode=1777" },
    ApiMount { fstype: "tmpfs", target: "/run", flags: MS_NOSUID | MS_NODEV, data: "mode=0755" },
    ApiMount { fstype: "tmpfs", target: "/tmp", flags: MS_NOSUID | MS_NODEV, data: "mode=1777" },
];

impl<S: Sys> Init<'_, S> {
    pub(crate) fn vm(&mut self, args: &Args, env: Vec<(String, String)>) -> ! {
        self.block_signals();
        self.reap_ready(None);
        self.mount_api_filesystems();
        let _ = self.sys.attach_console();
        let cmdline = self.read_cmdline();
        self.verbose |= cmdline.debug();
        if let Err(e) = self.sys.disable_ctrl_alt_del() {
            self.log(format_args!("cannot disable Ctrl-Alt-Del: {e}"));
        }
        let end = match self.prepare(args, env, &cmdline) {
            Ok(config) => self.run_app(&config),
            Err(message) => {
                self.log(format_args!("{message}"));
                AppEnd { code: 1, line: None }
            }
        };
        self.end(end)
    }

    /// Prints the status, makes the root read-only and ends the VM.
    fn end(&mut self, end: AppEnd) -> ! {
        self.sys.sync();
        if let Some(line) = &end.line {
            self.log(format_args!("{line}"));
        }
        self.log(format_args!("exit status {}", end.code));
        let _ = self.sys.mount("", "/", "", MS_REMOUNT | MS_RDONLY, "");
        let how = if self.sys.exists("/sys/firmware/acpi") { Halt::PowerOff } else { Halt::Reboot };
        self.sys.halt(how)
    }

    fn mount_api_filesystems(&mut self) {
        for m in &API_MOUNTS {
            if !self.sys.exists(m.target) {
                if let Err(e) = self.sys.mkdir(m.target, 0o755) {
                    self.log(format_args!("cannot create {}: {e}", m.target));
                    continue;
                }
            }
            if let Err(e) = self.sys.mount(m.fstype, m.target, m.fstype, m.flags, m.data) {
                self.log(format_args!("cannot mount {} on {}: {e}", m.fstype, m.target));
            }
        }
    }

    fn read_cmdline(&mut self) -> Cmdline {
        match self.sys.read_file("/proc/cmdline") {
            Ok(bytes) => Cmdline::parse(&String::from_utf8_lossy(&bytes)),
            Err(e) => {
                self.log(format_args!("cannot read /proc/cmdline: {e}"));
                Cmdline::default()
            }
        }
    }

    /// Modules, root switch, host name and network; the config to run.
    fn prepare(&mut self, args: &Args, env: Vec<(String, String)>, cmdline: &Cmdline) -> Result<InitConfig, String> {
        let mut config = self.load_config(args, true)?;
        if let Some(stage1) = &config {
            self.load_modules(&stage1.modules, cmdline);
        }
        if let Some(root) = cmdline.get("root") {
            if self.on_initramfs() {
                self.switch_root(root, cmdline)?;
                match self.load_config(args, true)? {
                    Some(real) => {
                        self.load_modules(&real.modules, cmdline);
                        config = Some(real);
                    }
                    None => self.hand_over(cmdline),
                }
            } else {
                self.debug(format_args!("root={root}: / is not an initramfs, the kernel mounted it"));
            }
        }
        let config = match config {
            Some(config) => config,
            None => self.fallback_config(env),
        };
        let config = with_argv(config, args);
        let ip = match cmdline.get("ip").map(ip::parse) {
            Some(Ok(ip)) => Some(ip),
            Some(Err(message)) => {
                self.log(format_args!("{message}"));
                None
            }
            None => None,
        };
        self.set_hostname(&config, ip.as_ref());
        self.setup_network(ip.as_ref());
        Ok(config)
    }

    /// A root without a microroot-init config brings its own init (BusyBox
    /// init, a script): exec it as PID 1, as `switch_root` would.
    fn hand_over(&mut self, cmdline: &Cmdline) {
        let init = cmdline.get("init").unwrap_or("/sbin/init");
        if !self.sys.is_executable(init) {
            self.debug(format_args!("no config and no {init} in the root file system; using the initramfs config"));
            return;
        }
        self.debug(format_args!("no config in the root file system; handing over to {init}"));
        let e = self.sys.exec(init);
        self.log(format_args!("cannot run {init}: {e}; using the initramfs config"));
    }

    fn load_modules(&mut self, modules: &[Module], cmdline: &Cmdline) {
        for module in modules {
            let params = cmdline.module_params(&module.name);
            match self.sys.load_module(&module.path, &params) {
                Ok(()) => self.debug(format_args!("loaded module {} {params}", module.name)),
                Err(Errno::EEXIST) => self.debug(format_args!("module {} is already loaded", module.name)),
                Err(e) => self.log(format_args!("cannot load module {} ({}): {e}", module.name, module.path)),
            }
        }
    }
}
