//! Compressed tarballs through `gzip`, `xz` and `zstd`, and the atomic
//! output file around them.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;
use microroot_writers::{
    parallel_thread_memory, parallel_threads, write_atomic, write_tarball, write_tree, Compression, Error,
};

const FORMATS: [(Compression, &str); 5] = [
    (Compression::None, "cat"),
    (Compression::Gzip { level: 9 }, "gzip"),
    (Compression::ROOTFS_XZ, "xz"),
    (Compression::Xz { level: 6, extreme: false, x86_bcj: false }, "xz"),
    (Compression::Zstd { level: 19 }, "zstd"),
];

fn dir_listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

#[test]
fn every_format_is_accepted_by_its_reference_tool_and_decompresses_to_the_tar() {
    let tree = sample_tree();
    let plain = write_tree(&tree, Vec::new()).unwrap();
    for (compression, tool) in FORMATS {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("rootfs.{}", compression.tar_extension()));
        let written = write_tarball(&tree, &path, compression).unwrap();
        let file = path.to_str().unwrap();
        if tool != "cat" {
            run(tool, &["-t", file]);
            assert_eq!(run(tool, &["-dc", file]), plain, "{compression:?}");
        }
        assert_eq!(std::fs::read(&path).unwrap().len() as u64, written.size);
        let sha = String::from_utf8(run("sha256sum", &[file])).unwrap();
        assert_eq!(sha.split(' ').next(), Some(written.sha256_hex().as_str()));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o644);
        assert_eq!(dir_listing(dir.path()), [path.file_name().unwrap().to_str().unwrap()], "no temp files");
        assert!(run("tar", &["-tf", file]).starts_with(b"bin\ndev/\ndev/null\n"), "{compression:?}");
    }
}

#[test]
fn compressed_output_is_the_same_every_time() {
    let tree = sample_tree();
    let dir = tempfile::tempdir().unwrap();
    for (compression, _) in FORMATS {
        let [a, b] = ["a", "b"].map(|name| {
            let path = dir.path().join(format!("{name}.{}", compression.tar_extension()));
            write_tarball(&tree, &path, compression).unwrap().sha256
        });
        assert_eq!(a, b, "{compression:?}");
    }
}

#[test]
fn rootfs_xz_uses_the_x86_filter_and_crc64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rootfs.tar.xz");
    write_tarball(&sample_tree(), &path, Compression::default()).unwrap();
    let info = String::from_utf8(run("xz", &["--robot", "--list", "-vv", path.to_str().unwrap()])).unwrap();
    let block = info.lines().find(|l| l.starts_with("block\t")).unwrap();
    assert!(block.contains("--x86 --lzma2=dict=64MiB"), "{block}");
    assert!(block.contains("CRC64"), "{block}");
    let plain = dir.path().join("plain.tar.xz");
    write_tarball(&sample_tree(), &plain, Compression::Xz { level: 6, extreme: false, x86_bcj: false }).unwrap();
    let info = String::from_utf8(run("xz", &["--robot", "--list", "-vv", plain.to_str().unwrap()])).unwrap();
    assert!(!info.contains("--x86"), "{info}");
}

#[test]
fn failed_write_leaves_the_old_file_and_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rootfs.tar");
    write_file(&path, b"old");
    let err = write_atomic(&path, |out| {
        out.write_all(&[0; 100_000]).unwrap();
        Err(Error::Unsupported { path: p("run/sock"), kind: "socket" })
    })
    .unwrap_err();
    assert!(err.to_string().starts_with(&format!("cannot write `{}`", path.display())), "{err}");
    assert!(matches!(&err, Error::Output { source, .. } if matches!(**source, Error::Unsupported { .. })));
    assert_eq!(std::fs::read(&path).unwrap(), b"old");
    assert_eq!(dir_listing(dir.path()), ["rootfs.tar"]);
}

#[test]
fn missing_output_directory_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing/rootfs.tar");
    let err = write_tarball(&sample_tree(), &path, Compression::None).unwrap_err();
    let want = format!("cannot create a temporary file for `{}`", path.display());
    assert_eq!(err.to_string(), want);
}

/// Block-parallel xz and zstd: the same bytes on 1, 2 and 5 threads, more
/// than one block for a tree bigger than a block, and `xz`/`zstd` decode
/// them to the plain tar.
#[test]
fn parallel_output_is_the_same_for_any_thread_count() {
    use microroot_writers::{write_tarball_on, PARALLEL_BLOCK};
    let mut tree = sample_tree();
    // 2.5 blocks of text that compresses fast.
    let mut noise = Vec::with_capacity((PARALLEL_BLOCK * 5 / 2) as usize);
    for i in 0u64.. {
        if noise.len() as u64 >= PARALLEL_BLOCK * 5 / 2 {
            break;
        }
        noise.extend_from_slice(format!("{i:x} {}\n", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).as_bytes());
    }
    tree.insert(&p("noise"), file(0o644, &noise)).unwrap();
    let plain = write_tree(&tree, Vec::new()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (compression, tool) in
        [(Compression::Xz { level: 1, extreme: false, x86_bcj: true }, "xz"), (Compression::Zstd { level: 3 }, "zstd")]
    {
        let [one, two, five] = [1, 2, 5].map(|threads| {
            let path = dir.path().join(format!("t{threads}.{}", compression.tar_extension()));
            let written = write_tarball_on(&tree, &path, compression, Some(threads)).unwrap();
            (written.sha256, path)
        });
        assert_eq!(one.0, two.0, "{compression:?}: 1 vs 2 threads");
        assert_eq!(one.0, five.0, "{compression:?}: 1 vs 5 threads");
        let file = one.1.to_str().unwrap();
        assert!(run(tool, &["-dc", file]) == plain, "{compression:?} does not decode to the tar");
        if tool == "xz" {
            let list = String::from_utf8(run("xz", &["--robot", "--list", file])).unwrap();
            let blocks: u64 =
                list.lines().find(|l| l.starts_with("file\t")).unwrap().split('\t').nth(2).unwrap().parse().unwrap();
            assert!(blocks >= 3, "expected one block per 16 MiB, got {blocks}: {list}");
        }
    }
}

#[test]
fn parallel_threads_fit_a_quarter_of_the_available_memory() {
    let xz = Compression::ROOTFS_XZ;
    let per_thread = parallel_thread_memory(xz);
    // The encoder's own figure for xz 9e with 16 MiB blocks.
    assert!((150 << 20..300 << 20).contains(&per_thread), "xz 9e thread: {per_thread} bytes");
    assert_eq!(parallel_threads(xz, 8, Some(4 * 3 * per_thread)), 3);
    assert_eq!(parallel_threads(xz, 2, Some(4 * 3 * per_thread)), 2);
    assert_eq!(parallel_threads(xz, 8, Some(per_thread)), 1, "never fewer than one");
    assert_eq!(parallel_threads(xz, 8, None), 8, "unknown memory caps nothing");
    assert_eq!(parallel_threads(xz, 0, None), 1);
    let zstd = Compression::Zstd { level: 19 };
    assert_eq!(parallel_threads(zstd, 16, Some(2 << 30)), (512 << 20) / parallel_thread_memory(zstd) as u32);
    assert_eq!(parallel_threads(Compression::Gzip { level: 9 }, 4, Some(1)), 4, "gzip runs one thread anyway");
}
