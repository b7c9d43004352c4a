use std::io::Write;

use microroot_tree::{Entry, Meta, Tree};

use super::*;
use crate::elf::tests::relocatable;
use crate::{install_modules, Depmod};

const VERSION: &str = "6.1.0-test";

fn p(s: &str) -> TreePath {
    TreePath::new(s).unwrap()
}

fn module(modinfo: &str) -> Vec<u8> {
    relocatable(&[(".text", b"\xc3"), (".modinfo", modinfo.replace(';', "\0").as_bytes())])
}

fn compress(path: &str, data: Vec<u8>) -> Vec<u8> {
    if path.ends_with(".xz") {
        liblzma::encode_all(&data[..], 6).unwrap()
    } else if path.ends_with(".zst") {
        zstd::encode_all(&data[..], 3).unwrap()
    } else if path.ends_with(".gz") {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&data).unwrap();
        gz.finish().unwrap()
    } else {
        data
    }
}

/// A kernel package's tree with modules in every compression, soft
/// dependencies, aliases, built-ins, a cycle and a dangling dependency.
fn kernel_tree() -> Tree {
    let mut tree = Tree::new();
    tree.insert(&p(&format!("boot/vmlinuz-{VERSION}")), Entry::file(0o644, "not really a kernel")).unwrap();
    let dir = format!("usr/lib/modules/{VERSION}");
    let modules = [
        ("kernel/drivers/virtio/virtio_ring.ko.xz", "depends=;license=GPL"),
        ("kernel/drivers/virtio/virtio_mmio.ko", "alias=of:N*T*Cvirtio,mmio;depends=virtio_ring"),
        ("kernel/drivers/block/virtio_blk.ko.zst", "alias=virtio:d00000002v*;depends=virtio_ring"),
        ("kernel/net/core/failover.ko", "depends="),
        ("kernel/drivers/net/net_failover.ko.gz", "depends=failover"),
        (
            "kernel/drivers/net/virtio_net.ko.xz",
            "softdep=pre: crypto-crc32c post: missing-thing;depends=net_failover,virtio_ring",
        ),
        ("kernel/arch/x86/crypto/crc32c-intel.ko", "alias=crypto-crc32c;alias=crc32c;depends="),
        ("kernel/misc/cyc_a.ko", "depends=cyc_b"),
        ("kernel/misc/cyc_b.ko", "depends=cyc_a"),
        ("kernel/misc/dangling.ko", "depends=nothing_here"),
        ("kernel/misc/uses_builtin.ko", "depends=ext4"),
    ];
    for (path, info) in modules {
        let data = compress(path, module(info));
        tree.insert(&p(&format!("{dir}/{path}")), Entry::file(0o644, data)).unwrap();
    }
    let order: String =
        modules.iter().map(|(path, _)| format!("{}\n", &path[..path.find(".ko").unwrap() + 3])).collect();
    tree.insert(&p(&format!("{dir}/modules.order")), Entry::file(0o644, order)).unwrap();
    tree.insert(
        &p(&format!("{dir}/modules.builtin")),
        Entry::file(0o644, "kernel/fs/ext4/ext4.ko\nkernel/lib/crc16.ko\n"),
    )
    .unwrap();
    let builtin_modinfo = "ext4.license=GPL\0ext4.alias=fs-ext4\0ext4.alias=ext3\0crc16.license=GPL\0";
    tree.insert(&p(&format!("{dir}/modules.builtin.modinfo")), Entry::file(0o644, builtin_modinfo)).unwrap();
    tree
}

fn kernel() -> Kernel {
    Kernel::from_tree(&kernel_tree()).unwrap()
}

fn names(set: &ModuleSet) -> Vec<&str> {
    set.names().collect()
}

#[test]
fn dependencies_come_first_and_once() {
    let k = kernel();
    assert_eq!(k.version(), VERSION);
    let set = resolve_modules(&k, &["virtio-blk", "virtio_mmio", "ext4", "virtio_blk"]).unwrap();
    assert_eq!(names(&set), ["virtio_ring", "virtio_blk", "virtio_mmio"]);
    assert_eq!(set.builtin, ["ext4"]);
    let blk = &set.modules[1];
    assert_eq!(blk.relative, "kernel/drivers/block/virtio_blk.ko");
    assert_eq!(blk.path_in_tree, p(&format!("usr/lib/modules/{VERSION}/kernel/drivers/block/virtio_blk.ko")));
    assert_eq!(blk.source, p(&format!("usr/lib/modules/{VERSION}/kernel/drivers/block/virtio_blk.ko.zst")));
    assert!(blk.data.starts_with(b"\x7fELF"), "stored decompressed");
    assert_eq!(blk.order, Some(2));
}

#[test]
fn soft_dependencies_surround_the_module_and_may_be_missing() {
    let set = resolve_modules(&kernel(), &["virtio_net"]).unwrap();
    assert_eq!(names(&set), ["crc32c_intel", "failover", "net_failover", "virtio_ring", "virtio_net"]);
}

#[test]
fn aliases_resolve_to_modules_or_builtins() {
    let k = kernel();
    let set = resolve_modules(&k, &["fs-ext4", "ext3"]).unwrap();
    assert!(set.modules.is_empty());
    assert_eq!(set.builtin, ["ext4"]);
    let set = resolve_modules(&k, &["virtio:d00000002v00001AF4", "crypto-crc32c"]).unwrap();
    assert_eq!(names(&set), ["virtio_ring", "virtio_blk", "crc32c_intel"]);
    let set = resolve_modules(&k, &["uses_builtin"]).unwrap();
    assert_eq!((names(&set), &set.builtin[..]), (vec!["uses_builtin"], &["ext4".to_owned()][..]));
}

#[test]
fn unknown_names_suggest_close_ones() {
    let err = resolve_modules(&kernel(), &["virtio_blkk"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "module `virtio_blkk` is not in kernel {VERSION}: no module file, built-in module or alias has that name\n\
             hint: did you mean `virtio_blk`?"
        )
    );
    let Error::ModuleNotFound { suggestions, .. } = resolve_modules(&kernel(), &["virtio"]).unwrap_err() else {
        panic!("wrong error")
    };
    assert_eq!(suggestions, ["virtio_blk", "virtio_net", "virtio_mmio", "virtio_ring"]);
    let err = resolve_modules(&kernel(), &["zzzzzzzz"]).unwrap_err().to_string();
    assert!(err.ends_with(&format!(
        "hint: the kernel may not have this driver; look in its config (`boot/config-{VERSION}`)"
    )));
}

#[test]
fn cycles_and_dangling_dependencies_are_errors() {
    let err = resolve_modules(&kernel(), &["cyc_a"]).unwrap_err();
    assert_eq!(err.to_string(), "modules depend on each other in a cycle: cyc_a -> cyc_b -> cyc_a");
    let err = resolve_modules(&kernel(), &["dangling"]).unwrap_err();
    assert!(
        matches!(&err, Error::MissingDependency { module, dependency, .. } if module == "dangling" && dependency == "nothing_here")
    );
}

#[test]
fn depmod_files_list_the_set_only() {
    let k = kernel();
    let set = resolve_modules(&k, &["virtio_net", "virtio_mmio"]).unwrap();
    let depmod = Depmod::new(&k, &set).unwrap();
    let text = |name| String::from_utf8(depmod.get(name).unwrap().to_vec()).unwrap();
    assert_eq!(
        text("modules.dep"),
        "kernel/drivers/virtio/virtio_ring.ko:\n\
         kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio_ring.ko\n\
         kernel/net/core/failover.ko:\n\
         kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko\n\
         kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio_ring.ko\n\
         kernel/arch/x86/crypto/crc32c-intel.ko:\n"
    );
    assert_eq!(
        text("modules.alias"),
        "# Aliases extracted from modules themselves.\n\
         alias of:N*T*Cvirtio,mmio virtio_mmio\n\
         alias crypto-crc32c crc32c_intel\n\
         alias crc32c crc32c_intel\n"
    );
    assert!(text("modules.softdep").ends_with("softdep virtio_net pre: crypto-crc32c post: missing-thing\n"));
    assert_eq!(text("modules.order").lines().count(), 6);
    assert_eq!(text("modules.builtin"), "kernel/fs/ext4/ext4.ko\nkernel/lib/crc16.ko\n");
}

#[test]
fn install_writes_modules_and_indexes() {
    let k = kernel();
    let set = resolve_modules(&k, &["virtio_blk"]).unwrap();
    let mut tree = Tree::new();
    tree.insert(&p("lib"), Entry::symlink("usr/lib")).unwrap();
    let written = install_modules(&mut tree, &k, &set, &Meta::new(0o644)).unwrap();
    let base = format!("usr/lib/modules/{VERSION}");
    let mut expected: Vec<String> = ["kernel/drivers/block/virtio_blk.ko", "kernel/drivers/virtio/virtio_ring.ko"]
        .iter()
        .chain(&[
            "modules.alias",
            "modules.alias.bin",
            "modules.builtin",
            "modules.builtin.alias.bin",
            "modules.builtin.bin",
            "modules.builtin.modinfo",
            "modules.dep",
            "modules.dep.bin",
            "modules.order",
            "modules.softdep",
        ])
        .map(|f| format!("{base}/{f}"))
        .collect();
    expected.sort();
    assert_eq!(written.iter().map(TreePath::as_str).collect::<Vec<_>>(), expected);
    let ko = tree.get(&p(&format!("{base}/kernel/drivers/block/virtio_blk.ko"))).unwrap();
    assert_eq!(ko.meta.mode, 0o644);
    assert!(tree.get(&p(&format!("{base}/kernel/drivers"))).unwrap().is_dir());
    assert_eq!(
        &*tree.file(&p(&format!("lib/modules/{VERSION}/modules.order"))).unwrap().bytes(),
        b"kernel/drivers/virtio/virtio_ring.ko\nkernel/drivers/block/virtio_blk.ko\n"
    );
    let mut again = Tree::new();
    again.insert(&p("lib"), Entry::symlink("usr/lib")).unwrap();
    install_modules(&mut again, &k, &set, &Meta::new(0o644)).unwrap();
    assert_eq!(tree, again, "deterministic");
}

#[test]
fn finding_the_kernel() {
    assert!(matches!(Kernel::from_tree(&Tree::new()), Err(Error::NoKernelImage)));
    let mut two = kernel_tree();
    two.insert(&p("boot/vmlinuz-6.2.0-other"), Entry::file(0o644, "x")).unwrap();
    let err = Kernel::from_tree(&two).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the tree holds 2 kernels (6.1.0-test, 6.2.0-other); which one to use is ambiguous\n\
         hint: pick one with Kernel::from_tree_version"
    );
    assert_eq!(Kernel::from_tree_version(&two, VERSION).unwrap().module_names().count(), 11);
    let err = Kernel::from_tree_version(&two, "6.2.0-other").unwrap_err();
    assert!(err.to_string().starts_with("kernel 6.2.0-other has no modules directory"), "{err}");
    let err = Kernel::from_tree_version(&two, "5.0").unwrap_err();
    assert!(err.to_string().ends_with("(found: 6.1.0-test, 6.2.0-other)"), "{err}");

    // An old-style package with /lib/modules.
    let mut old = Tree::new();
    for (path, e) in kernel_tree().iter().skip(1) {
        let path = path.as_str().replace("usr/lib/", "lib/");
        old.insert(&p(&path), e.clone()).unwrap();
    }
    let k = Kernel::from_tree(&old).unwrap();
    assert_eq!(k.modules_dir(), Some(&p(&format!("lib/modules/{VERSION}"))));
    let set = resolve_modules(&k, &["virtio_blk"]).unwrap();
    assert_eq!(
        set.modules[1].path_in_tree,
        p(&format!("usr/lib/modules/{VERSION}/kernel/drivers/block/virtio_blk.ko"))
    );
    assert_eq!(k.builtin_names().collect::<Vec<_>>(), ["crc16", "ext4"]);
}
