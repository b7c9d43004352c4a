//! The embedded binary: a static x86_64 ELF under a mebibyte that works as
//! a container init, and as PID 1 of a "VM" made of Linux namespaces.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::Duration;

const MIB: usize = 1024 * 1024;
const PT_INTERP: u32 = 3;
const EM_X86_64: u16 = 62;
const SIGHUP: i32 = 1;
const SIGINT: i32 = 2;

fn blob() -> &'static [u8] {
    microroot_init_blob::binary().expect("this host builds the blob")
}

/// The blob written out once as an executable file.
fn installed() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("init-blob");
        fs::create_dir_all(&dir).unwrap();
        let staged = dir.join(format!("microroot-init.{}", std::process::id()));
        fs::write(&staged, blob()).unwrap();
        fs::set_permissions(&staged, fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.join("microroot-init");
        fs::rename(&staged, &path).unwrap();
        path
    })
}

/// Runs a command, retrying while another thread's fork still holds the
/// freshly written binary open (ETXTBSY).
fn output(command: &mut Command) -> Output {
    for _ in 0..50 {
        match command.output() {
            Err(e) if e.raw_os_error() == Some(26) => sleep(Duration::from_millis(20)),
            result => return result.expect("run"),
        }
    }
    panic!("text file busy for a second");
}

fn init(args: &[&str]) -> Output {
    output(Command::new(installed()).args(args).stdin(Stdio::null()))
}

fn u16_at(elf: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(elf[at..at + 2].try_into().unwrap())
}

fn u32_at(elf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(elf[at..at + 4].try_into().unwrap())
}

fn u64_at(elf: &[u8], at: usize) -> usize {
    u64::from_le_bytes(elf[at..at + 8].try_into().unwrap()) as usize
}

#[test]
fn a_static_x86_64_elf_under_a_mebibyte() {
    let elf = blob();
    eprintln!("microroot-init: {} bytes", elf.len());
    assert!(elf.len() <= MIB, "{} bytes", elf.len());
    assert_eq!(&elf[..4], b"\x7fELF");
    assert_eq!(elf[4], 2, "64-bit");
    assert_eq!(elf[5], 1, "little endian");
    assert_eq!(u16_at(elf, 18), EM_X86_64);
    assert_eq!(microroot_init_blob::TARGET_ARCH, "amd64");
    let (phoff, phentsize, phnum) = (u64_at(elf, 32), usize::from(u16_at(elf, 54)), usize::from(u16_at(elf, 56)));
    assert!(phnum > 0);
    let types: Vec<u32> = (0..phnum).map(|i| u32_at(elf, phoff + i * phentsize)).collect();
    assert!(!types.contains(&PT_INTERP), "no program interpreter, so statically linked: {types:?}");
    let has_symtab = elf.windows(8).any(|w| w == b".symtab\0");
    assert!(!has_symtab, "symbols are stripped");
}

#[test]
fn runs_as_a_container_init() {
    let out = init(&["--", "/bin/true"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    assert_eq!(init(&["--", "/bin/sh", "-c", "exit 3"]).status.code(), Some(3));
    assert_eq!(init(&["--", "/bin/sh", "-c", "kill -TERM $$"]).status.code(), Some(143));
    let missing = init(&["--", "/nonexistent"]);
    assert_eq!(missing.status.code(), Some(127));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        "microroot-init: cannot run /nonexistent: execve: No such file or directory\n"
    );
    let version = init(&["--version"]);
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("microroot-init "), "{version:?}");
}

/// Copies a dynamically linked program and the libraries `ldd` lists into
/// `root` at the same paths.
fn copy_with_libraries(program: &Path, root: &Path, at: &str) {
    let put = |from: &Path, to: &Path| {
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    };
    put(program, &root.join(at.trim_start_matches('/')));
    let ldd = output(Command::new("ldd").arg(program));
    assert!(ldd.status.success(), "{ldd:?}");
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(path) = path.filter(|p| p.starts_with('/')) {
            put(Path::new(path), &root.join(path.trim_start_matches('/')));
        }
    }
}

/// VM mode for real, minus the hardware: init is PID 1 of new user, mount,
/// PID, network, UTS and IPC namespaces, chrooted into a tree without
/// `/proc`. It mounts the API file systems (devtmpfs is refused in a user
/// namespace, which init reports and survives), sets the host name, sets
/// `lo` up over rtnetlink, runs the app on `/dev/console` with exactly the
/// config's environment, prints the status lines and "powers off", which
/// in a PID namespace kills it with SIGINT (power-off) or SIGHUP (reboot).
#[test]
fn runs_as_pid_1_of_a_namespace_vm() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("vm-root-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(root.join("sbin")).unwrap();
    fs::create_dir_all(root.join("dev")).unwrap();
    fs::create_dir_all(root.join("etc/microroot")).unwrap();
    fs::write(root.join("sbin/microroot-init"), blob()).unwrap();
    fs::set_permissions(root.join("sbin/microroot-init"), fs::Permissions::from_mode(0o755)).unwrap();
    let sh = fs::canonicalize("/bin/sh").unwrap();
    copy_with_libraries(&sh, &root, "/bin/sh");
    let config = concat!(
        "arg /bin/sh\n",
        "arg -c\n",
        "arg read h < /proc/sys/kernel/hostname; read f < /sys/class/net/lo/flags; ",
        "echo \"app FOO=$FOO HOME=${HOME-unset} host=$h lo=$f\"; exit 3\n",
        "env FOO=bar\n",
        "hostname namespace-vm\n",
    );
    fs::write(root.join("etc/microroot/init.conf"), config).unwrap();
    fs::write(root.join("dev/console"), "").unwrap();
    let console = root.join("console.log");
    fs::write(&console, "").unwrap();

    let script = format!(
        "mount --bind {console} {root}/dev/console && exec chroot {root} /sbin/microroot-init",
        console = console.display(),
        root = root.display()
    );
    let out = output(
        Command::new("unshare")
            .args(["--user", "--map-root-user", "--mount", "--pid", "--fork", "--net", "--uts", "--ipc"])
            .args(["sh", "-c", &script])
            .stdin(Stdio::null()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines[lines.len().saturating_sub(2)..],
        ["microroot-init: /bin/sh exited with code 3", "microroot-init: exit status 3"],
        "{out:?}"
    );
    for line in &lines[..lines.len() - 2] {
        let expected = ["cannot mount devtmpfs on /dev:", "cannot disable Ctrl-Alt-Del:"];
        assert!(expected.iter().any(|e| line.starts_with(&format!("microroot-init: {e}"))), "unexpected: {line}");
    }
    let app = fs::read_to_string(&console).unwrap();
    assert_eq!(app, "app FOO=bar HOME=unset host=namespace-vm lo=0x9\n");
    // reboot(2) in a PID namespace ends it with a signal instead.
    let acpi = Path::new("/sys/firmware/acpi").exists();
    let halt_signal = if acpi { SIGINT } else { SIGHUP };
    let signal = out.status.signal().or(out.status.code().map(|c| c - 128));
    assert_eq!(signal, Some(halt_signal), "{out:?}");
    fs::remove_dir_all(&root).unwrap();
}
