//! The Debian cloud kernel against the reference tools: `readelf` reads
//! the vmlinux we extract, `modinfo` agrees with our `.modinfo` parsing,
//! `depmod` writes the same index files, and `modprobe` finds every module
//! we install. Needs the network on the first run (see `common`) and
//! binutils, kmod and dpkg; a missing tool fails the test with a hint.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use common::{depmod_reference, kernel_tree, run, write_out};
use microroot_kernel::{install_modules, resolve_modules, Depmod, Error, Kernel, ModuleSet, VM_MODULES};
use microroot_tree::{Meta, Tree, TreePath};

fn kernel() -> Kernel {
    Kernel::from_tree(&kernel_tree().0).unwrap_or_else(|e| panic!("{e}"))
}

fn config(k: &Kernel) -> String {
    let path = TreePath::new(&format!("boot/config-{}", k.version())).unwrap();
    String::from_utf8(kernel_tree().0.file(&path).expect("the package ships its config").bytes().to_vec()).unwrap()
}

/// `y`, `m` or `n` for a config symbol.
fn config_value(config: &str, symbol: &str) -> char {
    let set = format!("CONFIG_{symbol}=");
    config.lines().find_map(|l| l.strip_prefix(&set)).and_then(|v| v.chars().next()).unwrap_or('n')
}

fn names(set: &ModuleSet) -> Vec<&str> {
    set.names().collect()
}

#[test]
fn vmlinux_is_an_x86_64_elf_that_readelf_reads() {
    let k = kernel();
    let (_, package) = kernel_tree();
    assert_eq!(k.owner().map(|o| &**o), Some(package.as_str()));
    let started = Instant::now();
    let vmlinux = k.vmlinux().unwrap_or_else(|e| panic!("{e}"));
    let took = started.elapsed();
    assert_eq!(&vmlinux[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([vmlinux[0x12], vmlinux[0x13]]), 62, "e_machine x86-64");
    let bare = Kernel::from_bzimage(k.image().clone()).unwrap();
    assert_eq!(bare.version(), k.version(), "the header's version string names the same release");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vmlinux");
    std::fs::write(&file, &vmlinux).unwrap();
    let header = run("readelf", &["-hW", file.to_str().unwrap()]);
    for expected in [
        "Class:                             ELF64",
        "Machine:                           Advanced Micro Devices X86-64",
        "Type:                              EXEC",
    ] {
        assert!(header.contains(expected), "readelf -h lacks `{expected}`:\n{header}");
    }
    let segments = run("readelf", &["-lW", file.to_str().unwrap()]);
    let loads = segments.lines().filter(|l| l.trim_start().starts_with("LOAD ")).count();
    assert!(loads >= 1, "no PT_LOAD segments:\n{segments}");
    println!(
        "{}: bzImage {} bytes -> vmlinux {} bytes, {loads} PT_LOAD segments, in {took:?}",
        k.version(),
        k.image().len(),
        vmlinux.len()
    );
}

#[test]
fn vm_modules_resolve_with_their_dependencies_first() {
    let tree = &kernel_tree().0;
    let started = Instant::now();
    let k = Kernel::from_tree(tree).unwrap();
    let indexed = started.elapsed();
    let started = Instant::now();
    let set = resolve_modules(&k, VM_MODULES).unwrap_or_else(|e| panic!("{e}"));
    let took = started.elapsed();
    let resolved = names(&set);
    for (i, m) in set.modules.iter().enumerate() {
        for dep in &m.info.depends {
            let at = resolved.iter().position(|n| n == dep);
            assert!(
                at.is_some_and(|at| at < i) || set.builtin.contains(dep),
                "{} needs {dep} first: {resolved:?}",
                m.name
            );
        }
    }
    assert_eq!(resolved.iter().collect::<BTreeSet<_>>().len(), resolved.len(), "each once: {resolved:?}");
    let config = config(&k);
    let expect = |module: &str, symbol: &str| match config_value(&config, symbol) {
        'm' => assert!(resolved.contains(&module), "{module} ({symbol}=m) missing: {resolved:?}"),
        'y' => assert!(!resolved.contains(&module), "{module} is built in ({symbol}=y) but resolved: {resolved:?}"),
        _ => panic!("{symbol} is not set in this kernel"),
    };
    expect("virtio_mmio", "VIRTIO_MMIO");
    expect("virtio_blk", "VIRTIO_BLK");
    expect("virtio_net", "VIRTIO_NET");
    expect("vmw_vsock_virtio_transport", "VIRTIO_VSOCKETS");
    expect("vmw_vsock_virtio_transport_common", "VIRTIO_VSOCKETS_COMMON");
    expect("vsock", "VSOCKETS");
    expect("virtio_ring", "VIRTIO");
    expect("ext4", "EXT4_FS");
    if config_value(&config, "EXT4_FS") == 'y' {
        assert!(set.builtin.contains(&"ext4".to_owned()), "{:?}", set.builtin);
    }
    println!("{}: indexed in {indexed:?}, resolved in {took:?} (cold); built in: {:?}", k.version(), set.builtin);
    for m in &set.modules {
        println!("  {:40} {:>8} bytes  {}", m.name, m.data.len(), m.relative);
    }
    println!("  total {} bytes", set.size());
}

#[test]
fn modinfo_agrees_with_our_modinfo_parsing() {
    let k = kernel();
    let set = resolve_modules(&k, VM_MODULES).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = depmod_reference(k.version());
    for m in &set.modules {
        let ours = dir.path().join(format!("{}.ko", m.name));
        std::fs::write(&ours, &m.data).unwrap();
        let original = root.join(m.source.as_str());
        for file in [&ours, &original] {
            let field = |name: &str| run("modinfo", &["-F", name, file.to_str().unwrap()]);
            assert_eq!(field("depends").trim_end(), m.info.depends.join(","), "{}: depends", m.name);
            let aliases: Vec<String> = field("alias").lines().map(str::to_owned).collect();
            assert_eq!(aliases, m.info.aliases, "{}: aliases", m.name);
            assert_eq!(field("softdep").lines().collect::<Vec<_>>(), m.info.softdeps, "{}: softdeps", m.name);
        }
    }
}

#[test]
fn depmod_writes_the_same_files_for_the_installed_set() {
    let k = kernel();
    let set = resolve_modules(&k, VM_MODULES).unwrap();
    let mut image = Tree::new();
    install_modules(&mut image, &k, &set, &Meta::new(0o644)).unwrap();
    let base = TreePath::new(&format!("usr/lib/modules/{}", k.version())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours").join("lib/modules").join(k.version());
    write_out(&image, &base, &ours);
    // depmod gets only what a kernel package ships: modules and lists.
    let theirs_root = dir.path().join("theirs");
    let theirs = theirs_root.join("lib/modules").join(k.version());
    write_out(&image, &base, &theirs);
    let generated = Depmod::new(&k, &set).unwrap();
    for (name, _) in generated.files() {
        if !["modules.builtin", "modules.builtin.modinfo", "modules.order"].contains(&name) {
            std::fs::remove_file(theirs.join(name)).unwrap();
        }
    }
    run("depmod", &["-b", theirs_root.to_str().unwrap(), k.version()]);
    for (name, bytes) in generated.files() {
        let reference = std::fs::read(theirs.join(name)).unwrap_or_else(|e| panic!("depmod wrote no {name}: {e}"));
        if name.ends_with(".bin") {
            assert!(
                bytes == reference.as_slice(),
                "{name} differs from depmod's ({} vs {} bytes)",
                bytes.len(),
                reference.len()
            );
        } else {
            assert_eq!(String::from_utf8_lossy(bytes), String::from_utf8_lossy(&reference), "{name}");
        }
    }
    println!("modules.dep:\n{}", String::from_utf8_lossy(generated.get("modules.dep").unwrap()));
}

/// `modprobe --show-depends` lines: `insmod <path>` made relative, or
/// `builtin <name>`.
fn show_depends(root: &Path, version: &str, name: &str) -> Vec<String> {
    let prefix = format!("insmod {}/lib/modules/{version}/", root.display());
    run("modprobe", &["-d", root.to_str().unwrap(), "-S", version, "--show-depends", name])
        .lines()
        .map(|l| l.trim_end().strip_prefix(&prefix).map_or_else(|| l.trim_end().to_owned(), str::to_owned))
        .collect()
}

#[test]
fn modprobe_finds_every_installed_module_in_our_order() {
    let k = kernel();
    let mut image = Tree::new();
    let set = resolve_modules(&k, VM_MODULES).unwrap();
    install_modules(&mut image, &k, &set, &Meta::new(0o644)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let base = TreePath::new(&format!("usr/lib/modules/{}", k.version())).unwrap();
    write_out(&image, &base, &dir.path().join("lib/modules").join(k.version()));
    for name in VM_MODULES.iter().chain(&["fs-ext4", "virtio:d00000002v00001AF4"]) {
        let alone = resolve_modules(&k, &[name]).unwrap();
        let mut expected: Vec<String> = alone.modules.iter().map(|m| m.relative.clone()).collect();
        if expected.is_empty() {
            expected = alone.builtin.iter().map(|b| format!("builtin {b}")).collect();
        }
        assert_eq!(show_depends(dir.path(), k.version(), name), expected, "modprobe {name}");
    }
}

#[test]
fn the_whole_kernel_matches_depmod() {
    let k = kernel();
    let all: Vec<&str> = k.module_names().collect();
    let started = Instant::now();
    let set = resolve_modules(&k, &all).unwrap_or_else(|e| panic!("{e}"));
    let took = started.elapsed();
    assert_eq!(set.modules.len(), all.len());
    let generated = Depmod::new(&k, &set).unwrap();
    let reference = depmod_reference(k.version()).join("lib/modules").join(k.version());
    for name in ["modules.dep", "modules.alias", "modules.softdep"] {
        let theirs = std::fs::read_to_string(reference.join(name)).unwrap();
        let theirs = theirs.replace(".ko.xz", ".ko").replace(".ko.zst", ".ko").replace(".ko.gz", ".ko");
        let ours = String::from_utf8(generated.get(name).unwrap().to_vec()).unwrap();
        let differing: Vec<(&str, &str)> = ours.lines().zip(theirs.lines()).filter(|(a, b)| a != b).take(5).collect();
        assert!(differing.is_empty(), "{name}: first differences (ours, depmod's): {differing:#?}");
        assert_eq!(ours.lines().count(), theirs.lines().count(), "{name}: line count");
    }
    println!("{} modules read and ordered in {took:?}", set.modules.len());
}

#[test]
fn aliases_find_builtins_and_modules_like_modprobe() {
    let k = kernel();
    let set = resolve_modules(&k, &["fs-ext4"]).unwrap();
    assert!(set.modules.is_empty() && set.builtin == ["ext4"], "{set:?}");
    let root = depmod_reference(k.version());
    let started = Instant::now();
    let set = resolve_modules(&k, &["net-pf-40"]).unwrap();
    let took = started.elapsed();
    let mut ours: Vec<&str> = set.modules.iter().map(|m| m.relative.as_str()).collect();
    let theirs: Vec<String> = show_depends(root, k.version(), "net-pf-40")
        .into_iter()
        .map(|l| l.replace(".ko.xz", ".ko").replace(".ko.zst", ".ko").replace(".ko.gz", ".ko"))
        .collect();
    let theirs: Vec<&str> = theirs.iter().map(String::as_str).collect::<BTreeSet<_>>().into_iter().collect();
    ours.sort();
    assert_eq!(ours, theirs, "modules modprobe loads for net-pf-40");
    assert!(names(&set).contains(&"vsock"), "{:?}", names(&set));
    println!("net-pf-40 -> {:?} (alias scan of every module in {took:?})", names(&set));
}

#[test]
fn unknown_modules_name_the_kernel_and_close_names() {
    let k = kernel();
    let err = resolve_modules(&k, &["virtio_blkk"]).unwrap_err();
    let Error::ModuleNotFound { name, kernel_version, suggestions } = &err else { panic!("{err}") };
    assert_eq!((name.as_str(), kernel_version.as_str()), ("virtio_blkk", k.version()));
    assert_eq!(suggestions.first().map(String::as_str), Some("virtio_blk"), "{err}");
    assert!(err.to_string().contains(&format!("is not in kernel {}", k.version())), "{err}");
    assert!(err.to_string().contains("hint: did you mean `virtio_blk`"), "{err}");
    println!("{err}");
}
