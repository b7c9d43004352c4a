//! The QEMU process: command line, accelerator choice, console, stop.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The line microroot-init prints last: `microroot-init: exit status N`.
pub const STATUS_MARKER: &str = "microroot-init: exit status ";

/// How long a guest gets to power off after Ctrl-Alt-Del before QEMU is
/// killed.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// Which accelerator QEMU uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// KVM if it works here, else TCG.
    Auto,
    Kvm,
    Tcg,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Auto => "auto",
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// What to boot and how.
#[derive(Clone, Debug)]
pub struct VmSpec {
    /// bzImage (or an ELF vmlinux with a PVH note).
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    /// Raw root disk, attached as the first virtio block device
    /// (`/dev/vda`). Guest writes go to a temporary overlay: the image file
    /// is never modified.
    pub disk: Option<PathBuf>,
    pub cmdline: String,
    pub memory_mib: u32,
    pub cpus: u32,
    /// `(host, guest)` TCP ports; host ports are bound to 127.0.0.1.
    pub forwards: Vec<(u16, u16)>,
    pub timeout: Option<Duration>,
    pub accel: Accel,
    /// The QEMU binary (default: `qemu-system-x86_64` from PATH).
    pub qemu: Option<PathBuf>,
    /// Forward this process's stdin to the guest console.
    pub forward_stdin: bool,
}

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    /// The app's exit status as microroot-init reported it.
    pub status: i32,
    /// The accelerator the guest ran under.
    pub accel: Accel,
    /// Why KVM was not used, when `Auto` fell back to TCG.
    pub kvm_fallback: Option<String>,
    /// The run was ended by [`Stop::request`].
    pub stopped: bool,
}

/// A request to shut the guest down, shareable with signal handlers.
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new() -> Self {
        Stop::default()
    }
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    /// The flag itself, for `signal_hook::flag::register`.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VmError {
    #[error("host port {port} is already in use on 127.0.0.1: {source}\nhint: pick another host port, e.g. -p {alt}:{guest}")]
    PortInUse { port: u16, guest: u16, alt: u16, source: std::io::Error },
    #[error("cannot start {qemu}: {source}\nhint: install QEMU with `apt-get install qemu-system-x86`")]
    NoQemu { qemu: String, source: std::io::Error },
    #[error("{what} {path} does not exist")]
    Missing { what: &'static str, path: PathBuf },
    #[error("KVM was requested but does not work here: {reason}\nhint: use --accel tcg (or auto)")]
    KvmUnusable { reason: String },
    #[error("QEMU failed ({status}):\n{stderr}")]
    Qemu { status: String, stderr: String },
    #[error("the guest stopped without reporting an exit status (kernel panic, or an init other than microroot-init?)\nlast console output:\n{tail}")]
    NoStatus { tail: String },
    #[error("the guest did not finish within {secs} s; it was stopped\nlast console output:\n{tail}")]
    Timeout { secs: u64, tail: String },
    #[error("cannot run QEMU: {0}")]
    Io(#[from] std::io::Error),
}

/// Whether `/dev/kvm` can be opened for reading and writing. Necessary
/// but not sufficient: [`run`] still falls back when the guest fails.
pub fn detect_kvm_device() -> bool {
    std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok()
}

/// Boots the VM and waits for it to end. Console output goes to `console`.
pub fn run(spec: &VmSpec, console: Arc<Mutex<dyn Write + Send>>, stop: &Stop) -> Result<Outcome, VmError> {
    for (what, path) in [("kernel", Some(&spec.kernel)), ("initrd", spec.initrd.as_ref()), ("disk", spec.disk.as_ref())]
    {
        if let Some(path) = path.filter(|p| !p.exists()) {
            return Err(VmError::Missing { what, path: path.clone() });
        }
    }
    check_ports(&spec.forwards)?;
    let mut kvm_fallback = None;
    let first = match spec.accel {
        Accel::Auto if detect_kvm_device() => Accel::Kvm,
        Accel::Auto => {
            kvm_fallback = Some("/dev/kvm cannot be opened".to_owned());
            Accel::Tcg
        }
        other => other,
    };
    match attempt(spec, first, console.clone(), stop)? {
        Attempt::Done(outcome) => Ok(Outcome { kvm_fallback, ..outcome }),
        Attempt::KvmFailed(reason) if spec.accel == Accel::Auto => {
            tracing::info!("KVM does not work here ({reason}); using TCG");
            let Attempt::Done(outcome) = attempt(spec, Accel::Tcg, console, stop)? else {
                unreachable!("TCG attempts never report a KVM failure")
            };
            Ok(Outcome { kvm_fallback: Some(reason), ..outcome })
        }
        Attempt::KvmFailed(reason) => Err(VmError::KvmUnusable { reason }),
    }
}

fn check_ports(forwards: &[(u16, u16)]) -> Result<(), VmError> {
    for &(port, guest) in forwards {
        if let Err(source) = TcpListener::bind(("127.0.0.1", port)) {
            let alt = TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0);
            return Err(VmError::PortInUse { port, guest, alt, source });
        }
    }
    Ok(())
}

enum Attempt {
    Done(Outcome),
    /// KVM failed before the guest printed anything.
    KvmFailed(String),
}

/// What the reader threads learn from QEMU's output.
#[derive(Default)]
struct Seen {
    console_bytes: u64,
    status: Option<i32>,
    tail: Vec<u8>,
    stderr: String,
}

const TAIL: usize = 4096;

fn attempt(
    spec: &VmSpec,
    accel: Accel,
    console: Arc<Mutex<dyn Write + Send>>,
    stop: &Stop,
) -> Result<Attempt, VmError> {
    let dir = tempfile::Builder::new().prefix("microroot-vm-").tempdir()?;
    let qmp = dir.path().join("qmp.sock");
    let mut cmd = command(spec, accel, &qmp);
    tracing::debug!(?cmd, "starting QEMU");
    let qemu_name = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd.spawn().map_err(|source| VmError::NoQemu { qemu: qemu_name, source })?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let readers = start_readers(&mut child, &seen, console, spec.forward_stdin);

    let started = Instant::now();
    let mut stop_sent: Option<Instant> = None;
    let mut timed_out = false;
    let exit = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if accel == Accel::Kvm {
            let s = seen.lock().expect("reader threads do not panic");
            if s.console_bytes == 0 && kvm_failure(&s.stderr).is_some() {
                let reason = kvm_failure(&s.stderr).unwrap_or_default();
                drop(s);
                let _ = child.kill();
                let _ = child.wait();
                return Ok(Attempt::KvmFailed(reason));
            }
        }
        let timeout_hit = spec.timeout.is_some_and(|t| started.elapsed() > t);
        if (stop.is_requested() || timeout_hit) && stop_sent.is_none() {
            timed_out = timeout_hit && !stop.is_requested();
            if let Err(e) = crate::qmp::ctrl_alt_del(&qmp) {
                tracing::warn!("cannot ask the guest to shut down ({e}); stopping QEMU");
                let _ = child.kill();
            }
            stop_sent = Some(Instant::now());
        }
        if stop_sent.is_some_and(|t| t.elapsed() > STOP_GRACE) {
            tracing::warn!("the guest did not power off within {} s; stopping QEMU", STOP_GRACE.as_secs());
            let _ = child.kill();
        }
        thread::sleep(Duration::from_millis(20));
    };
    for r in readers {
        let _ = r.join();
    }
    let seen = Arc::try_unwrap(seen).ok().map(|m| m.into_inner().expect("no poisoned lock")).unwrap_or_default();
    if accel == Accel::Kvm && seen.console_bytes == 0 && !exit.success() {
        let reason = kvm_failure(&seen.stderr).unwrap_or_else(|| first_line(&seen.stderr));
        return Ok(Attempt::KvmFailed(reason));
    }
    let tail = String::from_utf8_lossy(&seen.tail).into_owned();
    if timed_out {
        return Err(VmError::Timeout { secs: spec.timeout.unwrap_or_default().as_secs(), tail });
    }
    match seen.status {
        Some(status) => Ok(Attempt::Done(Outcome { status, accel, kvm_fallback: None, stopped: stop_sent.is_some() })),
        None if !exit.success() && stop_sent.is_none() => {
            Err(VmError::Qemu { status: describe(exit), stderr: seen.stderr.trim().to_owned() })
        }
        None => Err(VmError::NoStatus { tail }),
    }
}

fn command(spec: &VmSpec, accel: Accel, qmp: &Path) -> Command {
    let qemu = spec.qemu.clone().unwrap_or_else(|| PathBuf::from("qemu-system-x86_64"));
    let mut cmd = Command::new(qemu);
    cmd.args(["-M", "microvm", "-accel", accel.name()]);
    match accel {
        Accel::Kvm => cmd.args(["-cpu", "host"]),
        // QEMU 7.2's TCG has been seen to corrupt EFLAGS right after a
        // guest's `gs: cmpxchg16b` (SLUB's per-CPU freelist update) on a
        // loaded host, crashing the guest kernel at random in kmalloc or
        // find_vma. Without CX16 the kernel takes SLUB's locked path.
        Accel::Tcg => cmd.args(["-cpu", "qemu64,-cx16"]),
        // Resolved to one of the two before a command is made.
        Accel::Auto => &mut cmd,
    };
    cmd.args(["-m", &spec.memory_mib.to_string(), "-smp", &spec.cpus.to_string()]);
    cmd.args(["-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-serial", "stdio"]);
    // Ctrl-Alt-Del goes through an emulated keyboard controller, as on
    // Firecracker.
    cmd.args(["-device", "i8042"]);
    cmd.arg("-qmp").arg(format!("unix:{},server=on,wait=off", qmp.display()));
    cmd.arg("-kernel").arg(&spec.kernel);
    if let Some(initrd) = &spec.initrd {
        cmd.arg("-initrd").arg(initrd);
    }
    let mut cmdline = spec.cmdline.clone();
    if accel == Accel::Tcg && !cmdline.contains("tsc_early_khz=") {
        if let Some(khz) = crate::host::tsc_khz() {
            cmdline.push_str(&format!(" tsc_early_khz={khz}"));
        }
    }
    cmd.arg("-append").arg(cmdline);
    if let Some(disk) = &spec.disk {
        cmd.arg("-drive").arg(format!("id=root,file={},format=raw,if=none,snapshot=on", qemu_escape(disk)));
        cmd.args(["-device", "virtio-blk-device,drive=root"]);
    }
    let mut netdev = "user,id=net0".to_owned();
    for (host, guest) in &spec.forwards {
        netdev.push_str(&format!(",hostfwd=tcp:127.0.0.1:{host}-:{guest}"));
    }
    cmd.args(["-netdev", &netdev, "-device", "virtio-net-device,netdev=net0"]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // Terminal signals (Ctrl-C) reach microroot only; it shuts the guest
    // down through QMP instead.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    crate::host::kill_with_parent(&mut cmd);
    cmd
}

/// QEMU option values escape `,` by doubling it.
fn qemu_escape(path: &Path) -> String {
    path.display().to_string().replace(',', ",,")
}

fn start_readers(
    child: &mut Child,
    seen: &Arc<Mutex<Seen>>,
    console: Arc<Mutex<dyn Write + Send>>,
    forward_stdin: bool,
) -> Vec<thread::JoinHandle<()>> {
    let mut handles = Vec::new();
    let mut stdout = child.stdout.take().expect("piped");
    let s = seen.clone();
    handles.push(thread::spawn(move || {
        let mut line = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            {
                let mut c = console.lock().expect("console lock");
                let _ = c.write_all(chunk);
                let _ = c.flush();
            }
            let mut s = s.lock().expect("seen lock");
            s.console_bytes += n as u64;
            s.tail.extend_from_slice(chunk);
            if s.tail.len() > TAIL {
                let cut = s.tail.len() - TAIL;
                s.tail.drain(..cut);
            }
            for &b in chunk {
                if b == b'\n' {
                    if let Some(status) = parse_status(&line) {
                        s.status = Some(status);
                    }
                    line.clear();
                } else if line.len() < 512 {
                    line.push(b);
                }
            }
        }
        if let Some(status) = parse_status(&line) {
            s.lock().expect("seen lock").status = Some(status);
        }
    }));
    let mut stderr = child.stderr.take().expect("piped");
    let s = seen.clone();
    handles.push(thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            let mut s = s.lock().expect("seen lock");
            if s.stderr.len() < 64 * 1024 {
                s.stderr.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    }));
    let stdin = child.stdin.take();
    if let (true, Some(mut stdin)) = (forward_stdin, stdin) {
        // Not joined: a read from a terminal blocks until the next line.
        thread::spawn(move || {
            let mut buf = [0u8; 1024];
            let mut input = std::io::stdin();
            while let Ok(n) = input.read(&mut buf) {
                if n == 0 || stdin.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    handles
}

/// `N` from a `microroot-init: exit status N` line (carriage returns from
/// the serial console are ignored).
pub(crate) fn parse_status(line: &[u8]) -> Option<i32> {
    let text = String::from_utf8_lossy(line);
    let rest = text.trim_end_matches(['\r', '\n']);
    let at = rest.find(STATUS_MARKER)?;
    rest[at + STATUS_MARKER.len()..].trim().parse().ok()
}

/// The reason KVM failed, from QEMU's stderr.
fn kvm_failure(stderr: &str) -> Option<String> {
    const SIGNS: &[&str] = &[
        "KVM internal error",
        "failed to initialize kvm",
        "failed to initialize KVM",
        "failed to set MSR",
        "kvm_buf_set_msrs",
        "KVM: entry failed",
    ];
    let line = stderr.lines().find(|l| SIGNS.iter().any(|s| l.contains(s)))?;
    Some(line.trim().to_owned())
}

fn first_line(s: &str) -> String {
    s.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("QEMU exited before the guest started").to_owned()
}

fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => format!("{status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_parsed() {
        assert_eq!(parse_status(b"microroot-init: exit status 0"), Some(0));
        assert_eq!(parse_status(b"microroot-init: exit status 143\r"), Some(143));
        assert_eq!(parse_status(b"[  1.2] microroot-init: exit status 7"), Some(7));
        assert_eq!(parse_status(b"microroot-init: exit status x"), None);
        assert_eq!(parse_status(b"exit status 3"), None);
    }

    #[test]
    fn kvm_failures_are_recognised() {
        let stderr =
            "qemu-system-x86_64: warning: host doesn't support requested feature\nKVM internal error. Suberror: 1\n";
        assert_eq!(kvm_failure(stderr).as_deref(), Some("KVM internal error. Suberror: 1"));
        assert_eq!(kvm_failure("qemu-system-x86_64: -drive: could not open"), None);
    }

    #[test]
    fn a_busy_port_is_refused_before_boot() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let err = check_ports(&[(port, 80)]).unwrap_err().to_string();
        assert!(err.contains(&format!("host port {port} is already in use")), "{err}");
        assert!(err.contains(":80"), "{err}");
        drop(listener);
        check_ports(&[(port, 80)]).unwrap();
    }

    #[test]
    fn disks_are_attached_read_only_for_the_host_file() {
        let spec = VmSpec {
            kernel: "k".into(),
            initrd: Some("i".into()),
            disk: Some("/tmp/a,b.ext4".into()),
            cmdline: "console=ttyS0".into(),
            memory_mib: 64,
            cpus: 1,
            forwards: vec![(8080, 80)],
            timeout: None,
            accel: Accel::Tcg,
            qemu: None,
            forward_stdin: false,
        };
        let cmd = command(&spec, Accel::Tcg, Path::new("/run/q.sock"));
        let args: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        let joined = args.join(" ");
        assert!(joined.contains("file=/tmp/a,,b.ext4,format=raw,if=none,snapshot=on"), "{joined}");
        assert!(joined.contains("hostfwd=tcp:127.0.0.1:8080-:80"), "{joined}");
        assert!(joined.contains("-accel tcg"), "{joined}");
        assert!(joined.contains("-cpu qemu64,-cx16"), "no cmpxchg16b under TCG: {joined}");
        assert!(joined.contains("-no-reboot"), "{joined}");
    }
}
