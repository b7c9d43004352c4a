//! The real kernel mounts the image, finds what the tree holds, writes to
//! it (enough names to make it index a directory), and e2fsck still finds
//! nothing to fix afterwards. Loop-mounting needs root, so this runs only
//! on request: `cargo test -p microroot-ext4 --test kernel -- --ignored`.

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use microroot_ext4::{Options, Size};

struct Mounted(PathBuf);

impl Mounted {
    fn new(image: &Path, at: &Path) -> Mounted {
        std::fs::create_dir_all(at).unwrap();
        let status = Command::new("mount").args(["-o", "loop"]).arg(image).arg(at).status().unwrap();
        assert!(status.success(), "mount -o loop failed: this test needs root and loop devices");
        Mounted(at.to_owned())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn dev(rdev: u64) -> (u64, u64) {
    ((rdev >> 8) & 0xfff | (rdev >> 32) & !0xfff, rdev & 0xff | (rdev >> 12) & !0xff)
}

#[test]
#[ignore = "needs root and loop devices; run with --ignored"]
fn the_kernel_reads_and_writes_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options { size: Size::Auto { headroom_percent: 20, min_bytes: 64 << 20 }, ..options() };
    let (img, _) = image(dir.path(), "kernel.ext4", &sample_tree(), &opts);
    let root = dir.path().join("mnt");
    {
        let _mounted = Mounted::new(&img, &root);
        let m = |p: &str| std::fs::symlink_metadata(root.join(p)).unwrap();
        let data = m("home/user/data");
        assert_eq!((data.mode() & 0o7777, data.uid(), data.gid()), (0o600, 70000, 70001));
        assert_eq!(data.mtime(), FAR_FUTURE);
        assert_eq!(m("opt/before-epoch").mtime(), -1);
        assert_eq!((m("usr/bin/hello").nlink(), m("usr/bin/hello").ino()), (3, m("usr/bin/aaa-link").ino()));
        assert_eq!(m("usr/bin/su").permissions().mode() & 0o7777, 0o4755);
        assert_eq!(dev(m("dev/null").rdev()), (1, 3));
        assert_eq!(dev(m("dev/big").rdev()), (300, 70000));
        assert!(m("run/initctl").file_type().is_fifo());
        assert_eq!(std::fs::read_link(root.join("usr/lib/long-link")).unwrap().to_str().unwrap(), long_target());
        assert_eq!(std::fs::read(root.join("home/user/data")).unwrap(), vec![7u8; 10_000]);
        assert_eq!(m("usr").nlink(), 4);

        std::fs::create_dir(root.join("many")).unwrap();
        for i in 0..3000 {
            std::fs::write(root.join(format!("many/file-{i}")), i.to_string()).unwrap();
        }
        std::fs::write(root.join("etc/hostname"), "changed\n").unwrap();
        std::fs::hard_link(root.join("usr/bin/su"), root.join("usr/bin/su2")).unwrap();
        std::fs::remove_file(root.join("usr/bin/zzz-link")).unwrap();
    }
    e2fsck(&img);
    let s = Stat::of(&img, "/many");
    assert!(s.field("Flags") != "0x80000", "the kernel indexed it: {}", s.0);
    assert_eq!(Stat::of(&img, "/usr/bin/aaa-link").num("Links"), 2);
}
