use std::io;
use std::path::PathBuf;

use microroot_tree::TreePath;

/// Why an ext4 image could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("volume label `{label}` is {len} bytes; ext4 labels hold at most 16")]
    Label { label: String, len: usize },
    #[error("a fixed size of {size} bytes is too small: the filesystem needs at least {needed} bytes; set size larger or use auto")]
    TooSmall { size: u64, needed: u64 },
    #[error("a filesystem of {size} bytes is larger than this writer supports ({max} bytes)")]
    TooLarge { size: u64, max: u64 },
    #[error("the tree needs {needed} inodes, more than one ext4 filesystem can hold")]
    TooManyInodes { needed: u64 },
    #[error("`{path}` has no parent directory in the tree")]
    MissingParent { path: TreePath },
    #[error("`{path}` lies below `{parent}`, which is a {kind}, not a directory")]
    ParentNotDir { path: TreePath, parent: TreePath, kind: &'static str },
    #[error("hardlink `{path}` points to `{target}`, which is not a regular file in the tree")]
    HardlinkTarget { path: TreePath, target: TreePath },
    #[error("`{path}` has {links} hard links; ext4 allows at most 65000")]
    TooManyLinks { path: TreePath, links: u64 },
    #[error("the name of `{path}` is {len} bytes; ext4 names hold at most 255")]
    NameTooLong { path: TreePath, len: usize },
    #[error("symlink `{path}` has a {len}-byte target; ext4 needs 1 to 4095 bytes")]
    SymlinkTarget { path: TreePath, len: usize },
    #[error("device `{path}` has number {major}:{minor}; ext4 stores majors below 4096 and minors below 1048576")]
    DeviceNumber { path: TreePath, major: u32, minor: u32 },
    #[error("cannot store extended attribute `{name}` of `{path}`: {reason}")]
    Xattr { path: TreePath, name: String, reason: String },
    #[error("`{path}` is {size} bytes, more than this writer can map with one level of extent index")]
    FileTooLarge { path: TreePath, size: u64 },
    #[error("the root of the tree is a {kind}, not a directory")]
    RootNotDir { kind: &'static str },
    #[error("`/lost+found` is a {kind}; ext4 needs it to be a directory")]
    LostFound { kind: &'static str },
    #[error("cannot write the ext4 image")]
    Write(#[source] io::Error),
    #[error("cannot write `{path}`; nothing was left behind")]
    Output {
        path: PathBuf,
        #[source]
        source: Box<Error>,
    },
    #[error("cannot {action} `{path}`")]
    OutputIo {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
}

/// Why an ext4 image could not be read into a tree. `what` names the
/// structure (superblock, group 3's descriptor, inode 12 at `/usr/bin`).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("not an ext2/3/4 filesystem: expected the magic 0xef53 at byte 1080, found {found:#06x}\nhint: give a raw filesystem image such as rootfs.ext4, not a partitioned disk")]
    Magic { found: u16 },
    #[error("the image is {len} bytes, too short for {what}\nhint: the file is truncated; copy or build it again")]
    Truncated { what: String, len: u64 },
    #[error("the filesystem uses {feature}, which this reader does not support\nhint: {hint}")]
    Unsupported { feature: String, hint: &'static str },
    #[error("{what}: block {block} is outside the filesystem's {blocks} blocks\nhint: the image is corrupt or truncated; `e2fsck -fn` shows more")]
    BlockRange { what: String, block: u64, blocks: u64 },
    #[error("{what}: {reason}\nhint: the image is corrupt; `e2fsck -fn` shows more")]
    Corrupt { what: String, reason: String },
    #[error("directory loop: inode {ino} is the directory `{first}` and appears again as `{again}`\nhint: the image is corrupt; `e2fsck -fn` repairs loops")]
    Loop { ino: u32, first: TreePath, again: TreePath },
    #[error("the files claim {claimed} bytes, more than this reader holds in memory for a {fs_bytes}-byte filesystem\nhint: the image is corrupt or holds huge sparse files")]
    TooLarge { claimed: u64, fs_bytes: u64 },
}
