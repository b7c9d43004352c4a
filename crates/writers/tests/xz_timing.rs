//! How the in-process xz encoder compares with the xz CLI on the same 5 MB
//! tar. Prints, never asserts on time. (`xz -9e --x86` is refused by xz:
//! once a filter is named the preset no longer applies, so the equivalent
//! command is `xz --x86 --lzma2=preset=9e -T1`.)
//!
//! ```text
//! cargo test -p microroot-writers --test xz_timing -- --ignored --nocapture
//! ```

mod common;

use std::io::Write;
use std::time::Instant;

use common::*;
use microroot_tree::Tree;
use microroot_writers::{compressed_writer, write_tarball, write_tree, Compression};

/// xorshift64*: reproducible bytes without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// 40 files of 128 KiB: half random bytes, half text from a small vocabulary.
fn mixed_tree() -> Tree {
    const WORDS: [&str; 16] = [
        "root",
        "filesystem",
        "package",
        "the",
        "of",
        "signed",
        "debian",
        "init",
        "kernel",
        "config",
        "usr",
        "lib",
        "error",
        "build",
        "image",
        "reproducible",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut tree = Tree::new();
    for i in 0..40 {
        let mut content = Vec::with_capacity(128 << 10);
        while content.len() < 128 << 10 {
            if i % 2 == 0 {
                content.extend_from_slice(&rng.next().to_le_bytes());
            } else {
                content.extend_from_slice(WORDS[(rng.next() % 16) as usize].as_bytes());
                content.push(if rng.next().is_multiple_of(12) { b'\n' } else { b' ' });
            }
        }
        tree.insert(&p(&format!("usr/share/data/file{i:02}")), file(0o644, &content)).unwrap();
    }
    tree
}

#[test]
#[ignore = "timing comparison; run with --ignored --nocapture"]
fn xz_in_process_vs_xz_cli() {
    let tree = mixed_tree();
    let dir = tempfile::tempdir().unwrap();
    let tar = write_tree(&tree, Vec::new()).unwrap();
    let tar_path = dir.path().join("rootfs.tar");
    write_file(&tar_path, &tar);

    let start = Instant::now();
    let written = write_tarball(&tree, &dir.path().join("ours.tar.xz"), Compression::ROOTFS_XZ).unwrap();
    let ours_tarball = start.elapsed();

    let start = Instant::now();
    let mut enc = compressed_writer(Vec::new(), Compression::ROOTFS_XZ).unwrap();
    enc.write_all(&tar).unwrap();
    let ours = enc.finish().unwrap();
    let ours_compress = start.elapsed();

    let start = Instant::now();
    let theirs = run("xz", &["--x86", "--lzma2=preset=9e", "-T1", "-c", tar_path.to_str().unwrap()]);
    let cli = start.elapsed();

    println!("input tar:                 {} bytes", tar.len());
    println!("write_tarball (tar + xz):  {:>8.2?}  {} bytes", ours_tarball, written.size);
    println!("compressed_writer (xz):    {:>8.2?}  {} bytes", ours_compress, ours.len());
    println!("xz --x86 --lzma2=preset=9e: {:>8.2?}  {} bytes", cli, theirs.len());
    println!("byte-identical to xz CLI:  {}", ours == theirs);
    assert_eq!(run_with_stdin("xz", &["-dc"], &ours), tar);
}
