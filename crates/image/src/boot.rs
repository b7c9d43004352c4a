//! What makes an image boot: PID 1 (microroot-init, BusyBox init or the
//! manifest's script), the kernel command line, the stage-1 initramfs and
//! the Firecracker config.
//!
//! Layouts, by `[output] formats`:
//! - `ext4` + `cpio*` (stage 1): the initramfs holds only microroot-init,
//!   its config and the kernel modules; it mounts `rootfs.ext4` (`root=`)
//!   and switches to it. The root's own `/etc/microroot/init.conf` then
//!   says what to run; a root without one gets its `/sbin/init` exec'd
//!   (BusyBox or script modes).
//! - `cpio*` alone (full): the whole image is the initramfs; `/init`
//!   links to the image's PID 1.
//! - `ext4` alone: for kernels with the virtio drivers built in; the
//!   kernel mounts the root itself and runs `/sbin/init`.

use std::collections::BTreeMap;
use std::path::Path;

use microroot_tree::{Entry, Kind, Meta, Tree, TreePath};

use crate::customize::{generated, CustomizeError};
use crate::manifest::{InitMode, InitramfsKind, Manifest};

/// Where microroot-init lives in images.
pub const INIT_PATH: &str = "/sbin/microroot-init";

/// QEMU user-mode networking: guest address, gateway, DNS.
pub const QEMU_NET: Net = Net { addr: "10.0.2.15", gateway: "10.0.2.2", netmask: "255.255.255.0", dns: "10.0.2.3" };
/// The Firecracker config's tap network (host side 172.16.0.1).
pub const FIRECRACKER_NET: Net =
    Net { addr: "172.16.0.2", gateway: "172.16.0.1", netmask: "255.255.255.252", dns: "172.16.0.1" };

/// A static IPv4 setup, passed to the guest as the kernel's `ip=`.
#[derive(Clone, Copy, Debug)]
pub struct Net {
    pub addr: &'static str,
    pub gateway: &'static str,
    pub netmask: &'static str,
    pub dns: &'static str,
}

/// Problems that make an image unbootable, found at build time.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("config: the image has nothing to run: entrypoint and cmd are empty\nhint: set [config] entrypoint = [\"/usr/sbin/app\", …] (or cmd) for init mode `{0}`")]
    NoCommand(&'static str),
    #[error("config: entrypoint `{name}` is not in the image{close}\nhint: {hint}")]
    NoEntrypoint { name: String, close: String, hint: String },
    #[error(
        "config: entrypoint `{path}` is not executable (mode {mode:04o})\nhint: give it mode \"0755\" in [[files]]"
    )]
    NotExecutable { path: String, mode: u32 },
    #[error("config: the script `{path}` needs the interpreter `{interpreter}`, which is not in the image\nhint: add the package that provides it to packages.include")]
    NoInterpreter { path: String, interpreter: String },
    #[error(
        "config: user `{0}` is not in the image's /etc/passwd\nhint: add it under [[users]], or use a numeric uid:gid"
    )]
    UnknownUser(String),
    #[error(
        "config: group `{0}` is not in the image's /etc/group\nhint: add it under [[groups]], or use a numeric gid"
    )]
    UnknownGroup(String),
    #[error("init mode `busybox` needs BusyBox's init applet, which is not in the image\nhint: add busybox to packages.include")]
    NoBusybox,
    #[error("init script {path}: {source}")]
    Script { path: std::path::PathBuf, source: std::io::Error },
    #[error("microroot-init is only built for {built}; this image is {arch}\nhint: use init mode `busybox` or `script` for {arch}")]
    InitArch { built: &'static str, arch: String },
    #[error(transparent)]
    Customize(#[from] CustomizeError),
}

/// The kernel command line for the image's layout.
pub fn cmdline(m: &Manifest, net: &Net) -> String {
    let root_disk = m.output.formats.iter().any(|f| f == "ext4") && m.initramfs_kind() != Some(InitramfsKind::Full);
    cmdline_for(root_disk, net, m.kernel.cmdline.as_deref())
}

/// The command line microroot boots with: serial console, the VMM exits
/// on reboot and on panic, no PCI probing (microVMs have none), the root
/// disk when there is one, and the network as the kernel's `ip=`.
pub fn cmdline_for(root_disk: bool, net: &Net, extra: Option<&str>) -> String {
    let mut args = vec!["console=ttyS0", "reboot=k", "panic=-1", "pci=off", "quiet"];
    if root_disk {
        args.extend(["root=/dev/vda", "rootfstype=ext4", "rw"]);
    }
    let ip = format!("ip={}::{}:{}::eth0:off:{}", net.addr, net.gateway, net.netmask, net.dns);
    args.push(&ip);
    if let Some(extra) = extra.map(str::trim).filter(|c| !c.is_empty()) {
        args.push(extra);
    }
    args.join(" ")
}

/// The app's command line after `entrypoint` and `cmd`, checked against
/// the tree: the program must be there and executable (and a script's
/// interpreter too). Returns it with the program resolved to a path.
pub fn check_command(tree: &Tree, m: &Manifest, mode: &'static str) -> Result<Vec<String>, BootError> {
    let mut argv = m.argv();
    let Some(program) = argv.first().cloned() else { return Err(BootError::NoCommand(mode)) };
    let path = find_program(tree, &program, &search_path(m)).ok_or_else(|| missing_program(tree, &program))?;
    check_executable(tree, &path)?;
    argv[0] = if program.contains('/') { program } else { format!("/{}", path.as_str()) };
    Ok(argv)
}

fn search_path(m: &Manifest) -> String {
    m.config
        .env
        .get("PATH")
        .cloned()
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into())
}

/// Where `program` is found: a path as given, else the first `PATH` hit.
fn find_program(tree: &Tree, program: &str, path_var: &str) -> Option<TreePath> {
    let candidates: Vec<String> = if program.contains('/') {
        vec![program.to_owned()]
    } else {
        path_var.split(':').filter(|d| d.starts_with('/')).map(|d| format!("{d}/{program}")).collect()
    };
    candidates.iter().find_map(|c| {
        let p = TreePath::new(c).ok()?;
        let resolved = tree.resolve(&p, true).ok()?;
        matches!(tree.get(&resolved)?.kind, Kind::File(_) | Kind::Hardlink(_)).then_some(resolved)
    })
}

fn missing_program(tree: &Tree, program: &str) -> BootError {
    let name = program.rsplit('/').next().unwrap_or(program);
    let mut close: Vec<String> = tree
        .iter()
        .filter(|(p, e)| {
            let file = p.file_name();
            matches!(e.kind, Kind::File(_) | Kind::Symlink(_) | Kind::Hardlink(_))
                && e.meta.mode & 0o111 != 0
                && (file == name
                    || (name.len() >= 3 && (file.starts_with(name) || name.starts_with(file) && file.len() >= 3)))
        })
        .map(|(p, _)| format!("/{}", p.as_str()))
        .take(5)
        .collect();
    close.sort();
    let close = if close.is_empty() { String::new() } else { format!(" (similar: {})", close.join(", ")) };
    let hint = if program.contains('/') {
        "write the path as it is in the image, or add the package that installs it to packages.include".to_owned()
    } else {
        "add the package that provides it to packages.include, or write an absolute path (PATH is [config] env.PATH)"
            .to_owned()
    };
    BootError::NoEntrypoint { name: program.to_owned(), close, hint }
}

fn check_executable(tree: &Tree, path: &TreePath) -> Result<(), BootError> {
    let entry = tree.get(path).expect("found above");
    let data = match &entry.kind {
        Kind::File(b) => b.clone(),
        Kind::Hardlink(target) => tree.file(target).cloned().unwrap_or_default(),
        _ => unreachable!("find_program returns files"),
    };
    if entry.meta.mode & 0o111 == 0 {
        return Err(BootError::NotExecutable { path: format!("/{}", path.as_str()), mode: entry.meta.mode });
    }
    if let Some(rest) = data.bytes().strip_prefix(b"#!") {
        let line = rest.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        if let Some(interpreter) = line.split_whitespace().next() {
            if find_program(tree, interpreter, "").is_none() {
                return Err(BootError::NoInterpreter {
                    path: format!("/{}", path.as_str()),
                    interpreter: interpreter.to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// The app's uid, gid and supplementary groups from `[config] user`
/// (`name`, `uid`, `name:group` or `uid:gid`), looked up in the tree's
/// /etc/passwd and /etc/group.
pub fn resolve_user(tree: &Tree, user: Option<&str>) -> Result<(u32, u32, Vec<u32>), BootError> {
    let Some(spec) = user.filter(|u| !u.is_empty()) else { return Ok((0, 0, vec![])) };
    let passwd = table(tree, "etc/passwd");
    let groups = table(tree, "etc/group");
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entry = passwd.iter().find(|f| f[0] == user_part || (user_part.parse::<u32>().is_ok() && f[2] == user_part));
    let uid = match (user_part.parse::<u32>(), entry) {
        (Ok(uid), _) => uid,
        (Err(_), Some(f)) => f[2].parse().map_err(|_| BootError::UnknownUser(user_part.to_owned()))?,
        (Err(_), None) => return Err(BootError::UnknownUser(user_part.to_owned())),
    };
    let gid = match group_part {
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => groups
                .iter()
                .find(|f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| BootError::UnknownGroup(g.to_owned()))?,
        },
        None => entry.and_then(|f| f[3].parse().ok()).unwrap_or(uid),
    };
    let name = entry.map(|f| f[0].clone());
    let mut supplementary: Vec<u32> = groups
        .iter()
        .filter(|f| name.as_deref().is_some_and(|n| f.get(3).is_some_and(|m| m.split(',').any(|x| x == n))))
        .filter_map(|f| f[2].parse().ok())
        .collect();
    supplementary.push(gid);
    supplementary.sort_unstable();
    supplementary.dedup();
    Ok((uid, gid, supplementary))
}

/// A colon-separated table of the tree as rows of at least four fields.
fn table(tree: &Tree, path: &str) -> Vec<Vec<String>> {
    let Some(blob) = TreePath::new(path).ok().and_then(|p| tree.file(&p).cloned()) else { return vec![] };
    String::from_utf8_lossy(&blob.bytes())
        .lines()
        .map(|l| {
            let mut f: Vec<String> = l.split(':').map(str::to_owned).collect();
            f.resize(f.len().max(4), String::new());
            f
        })
        .collect()
}

/// The BusyBox init table: MicroRoot's mounts, the modules, then the app
/// once on the console (or a shell), power-off on Ctrl-Alt-Del.
pub fn inittab(argv: Option<&[String]>, modules: &[String]) -> String {
    let mut t = String::from("# Generated by microroot (init mode \"busybox\").\n");
    // A stage 1 may have mounted these already.
    for (fs, target, options) in [
        ("proc", "/proc", ""),
        ("sysfs", "/sys", ""),
        ("devtmpfs", "/dev", ""),
        ("devpts", "/dev/pts", ""),
        ("tmpfs", "/run", "-o mode=0755 "),
        ("tmpfs", "/tmp", "-o mode=1777 "),
    ] {
        t.push_str(&format!(
            "::sysinit:/bin/sh -c 'mkdir -p {target}; grep -qs \" {target} \" /proc/mounts || mount -t {fs} {options}{fs} {target}'\n"
        ));
    }
    t.push_str("::sysinit:/bin/hostname -F /etc/hostname\n");
    t.push_str("::sysinit:/bin/sh -c 'ifconfig lo up'\n");
    for m in modules {
        t.push_str(&format!("::sysinit:/sbin/insmod {m}\n"));
    }
    match argv {
        // The app once, its status on the console in microroot-init's words
        // (so `microroot run` passes it on), then power off.
        Some(argv) => {
            let command: Vec<String> = argv.iter().map(|a| shell_quote(a)).collect();
            let script = format!("{}; echo \"microroot-init: exit status $?\"; poweroff", command.join(" "));
            t.push_str(&format!("console::once:/bin/sh -c {}\n", shell_quote(&script)));
        }
        None => t.push_str("console::respawn:-/bin/sh\n"),
    }

    t.push_str("::ctrlaltdel:/sbin/poweroff\n::shutdown:/bin/umount -a -r\n");
    t
}

/// `arg` quoted for `sh` when it needs it.
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@%".contains(c));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The Firecracker `vm_config.json` for the outputs named.
pub fn firecracker_config(m: &Manifest, kernel: &str, initrd: Option<&str>, disk: Option<&str>) -> serde_json::Value {
    let mut boot = serde_json::json!({
        "kernel_image_path": kernel,
        "boot_args": cmdline(m, &FIRECRACKER_NET),
    });
    if let Some(initrd) = initrd {
        boot["initrd_path"] = initrd.into();
    }
    let drives: Vec<serde_json::Value> = disk
        .map(|d| {
            serde_json::json!({
                "drive_id": "rootfs",
                "path_on_host": d,
                // root= is on the command line already.
                "is_root_device": false,
                "is_read_only": false,
            })
        })
        .into_iter()
        .collect();
    serde_json::json!({
        "boot-source": boot,
        "drives": drives,
        "machine-config": { "vcpu_count": m.vm.cpus, "mem_size_mib": m.vm.memory, "smt": false },
        "network-interfaces": [{ "iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02" }],
    })
}

/// Adds what a VM root needs whatever the init: `/dev/console` (the
/// kernel opens it before running PID 1) and the mount points.
pub fn vm_basics(tree: &mut Tree) -> Result<(), CustomizeError> {
    for dir in ["dev", "proc", "sys", "run", "tmp"] {
        let path = TreePath::new(dir).expect("static");
        if tree.get(&path).is_none() {
            let mode = if dir == "tmp" { 0o1777 } else { 0o755 };
            tree.insert(&path, Entry::dir(mode).with_owner(generated()))
                .map_err(|e| CustomizeError::new(tree, &path, e))?;
        }
    }
    let console = TreePath::new("dev/console").expect("static");
    let entry = Entry { meta: Meta::new(0o600), kind: Kind::CharDev { major: 5, minor: 1 }, owner: Some(generated()) };
    tree.insert(&console, entry).map_err(|e| CustomizeError::new(tree, &console, e))?;
    Ok(())
}

/// Installs the init of `m`'s mode. `modules` are the image paths of the
/// kernel modules PID 1 must load (empty when a stage 1 loads them).
/// `config` receives the microroot-init config to write (the caller
/// renders it, so this module stays independent of its format).
pub fn install_init(
    tree: &mut Tree,
    m: &Manifest,
    base_dir: &Path,
    modules: &[String],
    init_binary: impl FnOnce() -> Result<&'static [u8], BootError>,
    write_config: impl FnOnce(&mut Tree, InitSettings) -> Result<(), CustomizeError>,
) -> Result<(), BootError> {
    let full_initramfs = m.initramfs_kind() == Some(InitramfsKind::Full);
    let init_link = |tree: &mut Tree, target: &str| -> Result<(), CustomizeError> {
        let sbin_init = TreePath::new("sbin/init").expect("static");
        let link = Entry::symlink(target).with_owner(generated());
        tree.insert(&sbin_init, link).map_err(|e| CustomizeError::new(tree, &sbin_init, e))?;
        if full_initramfs {
            let init = TreePath::new("init").expect("static");
            let link = Entry::symlink("/sbin/init").with_owner(generated());
            tree.insert(&init, link).map_err(|e| CustomizeError::new(tree, &init, e))?;
        }
        Ok(())
    };
    match m.init_mode() {
        InitMode::None => {}
        InitMode::Microroot => {
            if m.image.arch != "amd64" {
                return Err(BootError::InitArch { built: "amd64", arch: m.image.arch.clone() });
            }
            let argv = check_command(tree, m, "microroot")?;
            let (uid, gid, groups) = resolve_user(tree, m.config.user.as_deref())?;
            let binary = init_binary()?;
            crate::customize::put(tree, &INIT_PATH[1..], 0o755, binary)?;
            init_link(tree, "microroot-init")?;
            let settings = InitSettings {
                argv,
                env: m.config.env.clone(),
                uid,
                gid,
                groups,
                workdir: m.config.workdir.clone().unwrap_or_else(|| "/".into()),
                hostname: Some(m.image.hostname.clone()),
                modules: modules.to_vec(),
                stop_timeout: m.init.stop_timeout.unwrap_or(10),
            };
            write_config(tree, settings)?;
        }
        InitMode::Busybox => {
            let has_init = crate::customize::busybox::has_applet(tree, "init");
            if !has_init {
                return Err(BootError::NoBusybox);
            }
            let argv = if m.argv().is_empty() { None } else { Some(check_command(tree, m, "busybox")?) };
            crate::customize::put(tree, "etc/inittab", 0o644, inittab(argv.as_deref(), modules).as_str())?;
            init_link(tree, "/bin/busybox")?;
        }
        InitMode::Script => {
            let source = m.init.script.as_ref().expect("validated");
            let path = base_dir.join(source);
            let data = std::fs::read(&path).map_err(|source| BootError::Script { path: path.clone(), source })?;
            crate::customize::put(tree, "sbin/init", 0o755, data)?;
            let resolved = find_program(tree, "/sbin/init", "").expect("just installed");
            check_executable(tree, &resolved)?;
            if full_initramfs {
                let init = TreePath::new("init").expect("static");
                let link = Entry::symlink("/sbin/init").with_owner(generated());
                tree.insert(&init, link).map_err(|e| CustomizeError::new(tree, &init, e))?;
            }
        }
    }
    Ok(())
}

/// What microroot-init is told to do.
#[derive(Clone, Debug, Default)]
pub struct InitSettings {
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub workdir: String,
    pub hostname: Option<String>,
    /// Image paths of modules to load, in order.
    pub modules: Vec<String>,
    pub stop_timeout: u32,
}

/// The parts of a VM build besides the root tree.
pub struct BootArtifacts {
    /// The bzImage (`vmlinuz`).
    pub bzimage: Vec<u8>,
    /// The ELF kernel extracted from it (`vmlinux`, what Firecracker boots).
    pub vmlinux: Vec<u8>,
    pub kernel_version: String,
    /// The kernel package, when the kernel came from one.
    pub kernel_package: Option<String>,
    /// Module names loaded at boot, in order.
    pub modules: Vec<String>,
    /// Where each of [`BootArtifacts::modules`] is, in the image or else
    /// in the stage-1 tree (for the SBOM).
    pub module_paths: Vec<String>,
    /// The stage-1 initramfs tree, for the ext4 + initramfs layout.
    pub stage1: Option<Tree>,
}

/// Errors of [`prepare`].
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Boot(#[from] BootError),
    #[error(transparent)]
    Customize(#[from] CustomizeError),
    #[error("kernel {package}: {source}")]
    Kernel { package: String, source: microroot_kernel::Error },
    #[error("cannot read kernel {path}: {source}")]
    ReadKernel { path: std::path::PathBuf, source: std::io::Error },
    #[error("kernel package {package}: {source}")]
    Deb { package: String, source: microroot_debian::deb::DebError },
    #[error("kernel.modules lists {modules:?}, but the kernel {path} is a bare image without modules\nhint: use a kernel package ([kernel] package = \"linux-image-cloud-amd64\") or build the drivers in")]
    ModulesWithoutPackage { path: std::path::PathBuf, modules: Vec<String> },
    #[error("the lockfile has no kernel package\nhint: run `microroot lock` again")]
    NoLockedKernel,
}

/// A kernel read and unpacked, ready for [`prepare`].
pub struct KernelInput {
    /// The package it came from; `None` for a local bzImage.
    pub package: Option<String>,
    pub kernel: microroot_kernel::Kernel,
    pub vmlinux: Vec<u8>,
}

/// Reads the VM kernel: the local `[kernel] path`, or the verified kernel
/// .deb. `None` when the manifest builds no VM outputs.
pub fn load_kernel(
    m: &Manifest,
    base_dir: &Path,
    kernel_deb: Option<(&str, &Path)>,
) -> Result<Option<KernelInput>, PrepareError> {
    if !m.is_vm() {
        return Ok(None);
    }
    let (kernel, package) = match (&m.kernel.path, kernel_deb) {
        (Some(path), _) => {
            let path = base_dir.join(path);
            if !m.kernel.modules.is_empty() {
                return Err(PrepareError::ModulesWithoutPackage { path, modules: m.kernel.modules.clone() });
            }
            let bytes =
                std::fs::read(&path).map_err(|source| PrepareError::ReadKernel { path: path.clone(), source })?;
            let label = path.display().to_string();
            let kernel = microroot_kernel::Kernel::from_bzimage(bytes)
                .map_err(|source| PrepareError::Kernel { package: label, source })?;
            (kernel, None)
        }
        (None, Some((name, deb_path))) => (read_kernel_deb(name, deb_path)?, Some(name.to_owned())),
        (None, None) => return Err(PrepareError::NoLockedKernel),
    };
    let label = package.clone().unwrap_or_else(|| "image".into());
    let vmlinux = kernel.vmlinux().map_err(|source| PrepareError::Kernel { package: label, source })?;
    Ok(Some(KernelInput { package, kernel, vmlinux }))
}

/// Makes the tree bootable: resolves the kernel's modules, installs PID 1
/// and its config, and builds the stage-1 tree when the layout has one.
pub fn prepare(
    tree: &mut Tree,
    m: &Manifest,
    base_dir: &Path,
    kernel: Option<KernelInput>,
) -> Result<Option<BootArtifacts>, PrepareError> {
    let init_binary = || -> Result<&'static [u8], BootError> {
        microroot_init_blob::binary()
            .ok_or(BootError::InitArch { built: microroot_init_blob::TARGET_ARCH, arch: "this host".into() })
    };
    let Some(KernelInput { package, kernel, vmlinux }) = kernel.filter(|_| m.is_vm()) else {
        install_init(tree, m, base_dir, &[], init_binary, write_init_config)?;
        return Ok(None);
    };
    let label = package.clone().unwrap_or_else(|| "image".into());
    let kerr = |source| PrepareError::Kernel { package: label.clone(), source };
    let set = if package.is_some() {
        let mut wanted: Vec<&str> = microroot_kernel::VM_MODULES.to_vec();
        wanted.extend(m.kernel.modules.iter().map(String::as_str));
        Some(microroot_kernel::resolve_modules(&kernel, &wanted).map_err(kerr)?)
    } else {
        None
    };
    let modules: Vec<microroot_init::config::Module> = set
        .iter()
        .flat_map(|s| &s.modules)
        .map(|md| microroot_init::config::Module {
            path: format!("/{}", md.path_in_tree.as_str()),
            name: md.name.clone(),
        })
        .collect();
    let stage1 = m.initramfs_kind() == Some(InitramfsKind::Stage1);
    let meta = Meta::new(0o644);
    if let (Some(set), false) = (&set, stage1) {
        microroot_kernel::install_modules(tree, &kernel, set, &meta).map_err(kerr)?;
    }
    vm_basics(tree)?;
    let pid1_modules: Vec<String> = if stage1 { vec![] } else { modules.iter().map(|md| md.path.clone()).collect() };
    install_init(tree, m, base_dir, &pid1_modules, init_binary, write_init_config)?;
    let stage1_tree = if stage1 {
        let mut s = Tree::new();
        vm_basics(&mut s)?;
        for dir in ["etc/microroot", "newroot"] {
            s.mkdir_p(&TreePath::new(dir).expect("static"), &Meta::new(0o755))
                .map_err(|e| CustomizeError::new(tree, &TreePath::root(), e))?;
        }
        crate::customize::put(&mut s, "init", 0o755, init_binary()?)?;
        if let Some(set) = &set {
            microroot_kernel::install_modules(&mut s, &kernel, set, &meta).map_err(kerr)?;
        }
        let config = microroot_init::config::InitConfig { modules: modules.clone(), ..Default::default() };
        crate::customize::put(&mut s, &microroot_init::config::CONFIG_PATH[1..], 0o644, config.render())?;
        Some(s)
    } else {
        None
    };
    Ok(Some(BootArtifacts {
        bzimage: kernel.image().bytes().to_vec(),
        vmlinux,
        kernel_version: kernel.version().to_owned(),
        kernel_package: package,
        modules: modules.iter().map(|md| md.name.clone()).collect(),
        module_paths: modules.iter().map(|md| md.path.clone()).collect(),
        stage1: stage1_tree,
    }))
}

/// The kernel and modules from a verified kernel .deb.
fn read_kernel_deb(name: &str, path: &Path) -> Result<microroot_kernel::Kernel, PrepareError> {
    let deb_err = |source| PrepareError::Deb { package: name.to_owned(), source };
    let bytes = std::fs::read(path).map_err(|source| PrepareError::ReadKernel { path: path.to_owned(), source })?;
    let deb = microroot_debian::deb::Deb::parse(&bytes, std::sync::Arc::from(name)).map_err(deb_err)?;
    let mut tree = Tree::new();
    let mut keep = |p: &TreePath, _: &Kind| {
        let s = p.as_str();
        s.starts_with("boot/vmlinuz-")
            || s.contains("lib/modules/")
            || s == "boot"
            || s.ends_with("lib/modules")
            || matches!(s, "usr" | "usr/lib" | "lib")
    };
    deb.extract_data(&mut tree, &mut keep).map_err(deb_err)?;
    microroot_kernel::Kernel::from_tree(&tree)
        .map_err(|source| PrepareError::Kernel { package: name.to_owned(), source })
}

fn write_init_config(tree: &mut Tree, s: InitSettings) -> Result<(), CustomizeError> {
    let config = microroot_init::config::InitConfig {
        argv: s.argv,
        env: s.env.into_iter().collect(),
        uid: s.uid,
        gid: s.gid,
        groups: s.groups,
        workdir: s.workdir,
        hostname: s.hostname,
        modules: s
            .modules
            .iter()
            .map(|p| microroot_init::config::Module {
                name: p.rsplit('/').next().unwrap_or(p).trim_end_matches(".ko").replace('-', "_"),
                path: p.clone(),
            })
            .collect(),
        stop_timeout_secs: s.stop_timeout,
    };
    crate::customize::put(tree, &microroot_init::config::CONFIG_PATH[1..], 0o644, config.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> Manifest {
        Manifest::parse(text, Path::new("m.toml")).unwrap()
    }

    fn tree_with(files: &[(&str, u32, &str)]) -> Tree {
        let mut tree = Tree::new();
        for (path, mode, content) in files {
            let p = TreePath::new(path).unwrap();
            tree.mkdir_p(&p.parent().unwrap(), &Meta::new(0o755)).unwrap();
            tree.insert(&p, Entry::file(*mode, *content)).unwrap();
        }
        tree
    }

    #[test]
    fn the_command_line_follows_the_layout() {
        let stage1 = manifest("[packages]\ninclude=[\"a\"]\n[output]\nformats=[\"ext4\",\"cpio.zst\"]\n");
        let line = cmdline(&stage1, &QEMU_NET);
        assert!(line.contains("root=/dev/vda rootfstype=ext4 rw"), "{line}");
        assert!(line.contains("ip=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off:10.0.2.3"), "{line}");
        let full = manifest("[packages]\ninclude=[\"a\"]\n[kernel]\ncmdline=\"x=1\"\n[output]\nformats=[\"cpio\"]\n");
        let line = cmdline(&full, &FIRECRACKER_NET);
        assert!(!line.contains("root="), "{line}");
        assert!(line.ends_with(" x=1") && line.contains("ip=172.16.0.2::172.16.0.1"), "{line}");
    }

    #[test]
    fn entrypoints_are_found_on_the_path_and_checked() {
        let tree = tree_with(&[
            ("usr/sbin/app", 0o755, "\x7fELF"),
            ("usr/bin/script", 0o755, "#!/usr/bin/python3\n"),
            ("etc/data", 0o644, ""),
        ]);
        let m = |ep: &str| manifest(&format!("[packages]\ninclude=[\"a\"]\n[config]\nentrypoint=[\"{ep}\", \"-x\"]\n"));
        assert_eq!(check_command(&tree, &m("app"), "microroot").unwrap(), ["/usr/sbin/app", "-x"]);
        let err = check_command(&tree, &m("/usr/sbin/appp"), "microroot").unwrap_err().to_string();
        assert!(err.contains("entrypoint `/usr/sbin/appp` is not in the image (similar: /usr/sbin/app)"), "{err}");
        let err = check_command(&tree, &m("/etc/data"), "microroot").unwrap_err().to_string();
        assert!(err.contains("is not executable"), "{err}");
        let err = check_command(&tree, &m("script"), "microroot").unwrap_err().to_string();
        assert!(err.contains("needs the interpreter `/usr/bin/python3`"), "{err}");
        let empty = manifest("[packages]\ninclude=[\"a\"]\n[config]\ncmd=[]\n");
        assert!(matches!(check_command(&tree, &empty, "microroot"), Err(BootError::NoCommand(_))));
    }

    #[test]
    fn users_resolve_from_the_image() {
        let tree = tree_with(&[
            ("etc/passwd", 0o644, "root:x:0:0::/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/false\n"),
            ("etc/group", 0o644, "root:x:0:\nwww-data:x:33:\nstaff:x:50:www-data\n"),
        ]);
        assert_eq!(resolve_user(&tree, None).unwrap(), (0, 0, vec![]));
        assert_eq!(resolve_user(&tree, Some("www-data")).unwrap(), (33, 33, vec![33, 50]));
        assert_eq!(resolve_user(&tree, Some("www-data:staff")).unwrap(), (33, 50, vec![50]));
        assert_eq!(resolve_user(&tree, Some("1000:1000")).unwrap(), (1000, 1000, vec![1000]));
        assert!(matches!(resolve_user(&tree, Some("nobody")), Err(BootError::UnknownUser(_))));
        assert!(matches!(resolve_user(&tree, Some("0:wheel")), Err(BootError::UnknownGroup(_))));
    }

    #[test]
    fn the_firecracker_config_names_the_outputs() {
        let m = manifest(
            "[packages]\ninclude=[\"a\"]\n[vm]\nmemory=128\ncpus=2\n[output]\nformats=[\"ext4\",\"cpio.zst\"]\n",
        );
        let c = firecracker_config(&m, "vmlinux", Some("initramfs.cpio.zst"), Some("rootfs.ext4"));
        assert_eq!(c["boot-source"]["initrd_path"], "initramfs.cpio.zst");
        assert_eq!(c["drives"][0]["path_on_host"], "rootfs.ext4");
        assert_eq!(c["machine-config"]["vcpu_count"], 2);
        assert_eq!(c["machine-config"]["mem_size_mib"], 128);
        assert!(c["boot-source"]["boot_args"].as_str().unwrap().contains("reboot=k"));
    }

    #[test]
    fn busybox_inittab_runs_the_app_once_and_powers_off_on_ctrl_alt_del() {
        let t = inittab(Some(&["/usr/sbin/app".into(), "-x".into()]), &["/m/a.ko".into()]);
        assert!(t.contains("::sysinit:/sbin/insmod /m/a.ko\n"), "{t}");
        assert!(t.contains("console::once:/bin/sh -c '/usr/sbin/app -x; echo"), "{t}");
        // What sh makes of a quoted argument is the argument.
        for arg in ["echo it's; exit 3", "", "a b", "plain", "$HOME \"q\""] {
            let out =
                std::process::Command::new("sh").arg("-c").arg(format!("printf %s {}", shell_quote(arg))).output();
            assert_eq!(String::from_utf8(out.unwrap().stdout).unwrap(), arg);
        }

        assert!(t.contains("::ctrlaltdel:/sbin/poweroff\n"), "{t}");
        assert!(inittab(None, &[]).contains("console::respawn:-/bin/sh\n"));
    }
}
