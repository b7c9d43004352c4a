//! Stream compression with byte-identical output on every host.
//!
//! Each encoder has every header field that could vary pinned: gzip gets
//! no file name, mtime 0 and OS "unknown"; xz uses a CRC64 check; zstd
//! always writes a checksum and never a content size or dictionary id.
//! [`compressed_writer`] is single-threaded and makes one block, the
//! smallest output. [`parallel_compressed_writer`] cuts the input into
//! blocks of [`PARALLEL_BLOCK`] bytes and compresses them on several
//! threads: its output depends on the block size, never on the thread
//! count, so a big image compresses on every core and still comes out the
//! same everywhere.
//! [`kernel_compressed_writer`] makes streams for the kernel's decoders
//! instead (CRC32, bounded dictionary and window).

use std::io::{self, Write};

use flate2::write::GzEncoder;
use liblzma::stream::{Check, Filters, LzmaOptions, MtStreamBuilder, Stream, PRESET_EXTREME};
use liblzma::write::XzEncoder;

use crate::Error;

/// How an output stream is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    /// Levels 0–9.
    Gzip {
        level: u32,
    },
    /// Levels 0–9. `x86_bcj` puts the x86 branch/call/jump filter before
    /// LZMA2: about 4% smaller for trees full of x86-64 binaries, and a
    /// standard filter that every `xz` and `tar -J` decodes. Leave it off
    /// for other architectures.
    Xz {
        level: u32,
        extreme: bool,
        x86_bcj: bool,
    },
    /// Levels 1–22 (negative levels are zstd's fast modes, 0 its default).
    Zstd {
        level: i32,
    },
}

impl Default for Compression {
    /// [`Compression::ROOTFS_XZ`].
    fn default() -> Self {
        Compression::ROOTFS_XZ
    }
}

impl Compression {
    /// What `rootfs.tar.xz` uses: `xz -9e --x86`.
    pub const ROOTFS_XZ: Compression = Compression::Xz { level: 9, extreme: true, x86_bcj: true };

    /// What an initramfs uses with [`kernel_compressed_writer`]:
    /// `xz -9e --check=crc32 --lzma2=dict=1MiB`, no BCJ filter.
    pub const INITRAMFS_XZ: Compression = Compression::Xz { level: 9, extreme: true, x86_bcj: false };

    /// The format's name, as in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip { .. } => "gzip",
            Compression::Xz { .. } => "xz",
            Compression::Zstd { .. } => "zstd",
        }
    }

    /// The file-name suffix this format adds, without a dot: `gz`, `xz`,
    /// `zst`, or empty.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip { .. } => "gz",
            Compression::Xz { .. } => "xz",
            Compression::Zstd { .. } => "zst",
        }
    }

    /// The whole suffix of a tarball: `tar`, `tar.gz`, `tar.xz`, `tar.zst`.
    pub fn tar_extension(self) -> &'static str {
        match self {
            Compression::None => "tar",
            Compression::Gzip { .. } => "tar.gz",
            Compression::Xz { .. } => "tar.xz",
            Compression::Zstd { .. } => "tar.zst",
        }
    }

    /// The compression a tarball's file name asks for, at the level this
    /// project uses for releases (gzip 9, [`Compression::ROOTFS_XZ`],
    /// zstd 19); `None` when the name is not a tarball name.
    pub fn from_file_name(name: &str) -> Option<Compression> {
        let suffixes: [(&[&str], Compression); 4] = [
            (&[".tar"], Compression::None),
            (&[".tar.gz", ".tgz"], Compression::Gzip { level: 9 }),
            (&[".tar.xz", ".txz"], Compression::ROOTFS_XZ),
            (&[".tar.zst", ".tzst"], Compression::Zstd { level: 19 }),
        ];
        suffixes
            .into_iter()
            .find(|(ends, _)| ends.iter().any(|end| name.ends_with(end)))
            .map(|(_, compression)| compression)
    }

    fn check_level(self) -> Result<(), Error> {
        let (level, range, ok) = match self {
            Compression::None => return Ok(()),
            Compression::Gzip { level } | Compression::Xz { level, .. } => (i64::from(level), "0 to 9", level <= 9),
            Compression::Zstd { level } => {
                (i64::from(level), "-131072 to 22", zstd::compression_level_range().contains(&level))
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Error::Level { format: self.name(), level, range })
        }
    }
}

/// A writer that compresses into `W`; call [`Encoder::finish`] to end the
/// stream and get `W` back.
pub enum Encoder<W: Write> {
    None(W),
    Gzip(GzEncoder<W>),
    Xz(XzEncoder<W>),
    Zstd(zstd::Encoder<'static, W>),
}

/// Wraps `w` in the encoder for `compression`.
pub fn compressed_writer<W: Write>(w: W, compression: Compression) -> Result<Encoder<W>, Error> {
    compression.check_level()?;
    let setup = |source| Error::EncoderSetup { format: compression.name(), source };
    Ok(match compression {
        Compression::None => Encoder::None(w),
        Compression::Gzip { level } => {
            let builder = flate2::GzBuilder::new().mtime(0).operating_system(255);
            Encoder::Gzip(builder.write(w, flate2::Compression::new(level)))
        }
        Compression::Xz { level, extreme, x86_bcj } => {
            let preset = level | if extreme { PRESET_EXTREME } else { 0 };
            Encoder::Xz(XzEncoder::new_stream(w, xz_stream(preset, x86_bcj).map_err(setup)?))
        }
        Compression::Zstd { level } => Encoder::Zstd(zstd_encoder(w, level).map_err(setup)?),
    })
}

/// The input each xz block or zstd job holds in
/// [`parallel_compressed_writer`]: 16 MiB costs xz -9 about 1% of size
/// against one block, and keeps each thread's encoder near 230 MiB (see
/// [`parallel_thread_memory`]).
pub const PARALLEL_BLOCK: u64 = 16 << 20;

/// The filters of a block-parallel xz stream: the preset's, its dictionary
/// no larger than a block (presets 7–9 have 16–64 MiB dictionaries; one
/// larger than a block is never filled).
fn parallel_xz_filters(level: u32, extreme: bool, x86_bcj: bool) -> Result<Filters, liblzma::stream::Error> {
    let preset = level | if extreme { PRESET_EXTREME } else { 0 };
    let mut options = LzmaOptions::new_preset(preset)?;
    if level >= 7 {
        options.dict_size(PARALLEL_BLOCK as u32);
    }
    let mut filters = Filters::new();
    if x86_bcj {
        filters.x86();
    }
    filters.lzma2(&options);
    Ok(filters)
}

/// Wraps `w` in the block-parallel encoder for `compression`, running up
/// to `threads` threads (at least one): fewer when their encoders would
/// need more than a quarter of the memory the system has available (see
/// [`parallel_threads`]). xz and zstd output is the same for any thread
/// count, though not the same as [`compressed_writer`]'s; gzip and
/// uncompressed streams are as [`compressed_writer`] makes them.
pub fn parallel_compressed_writer<W: Write>(w: W, compression: Compression, threads: u32) -> Result<Encoder<W>, Error> {
    compression.check_level()?;
    let setup = |source| Error::EncoderSetup { format: compression.name(), source };
    let threads = parallel_threads(compression, threads, available_memory());
    Ok(match compression {
        Compression::Xz { level, extreme, x86_bcj } => {
            let filters = parallel_xz_filters(level, extreme, x86_bcj).map_err(|e| setup(e.into()))?;
            let stream = MtStreamBuilder::new()
                .threads(threads)
                .block_size(PARALLEL_BLOCK)
                .filters(filters)
                .check(Check::Crc64)
                .encoder()
                .map_err(|e| setup(e.into()))?;
            Encoder::Xz(XzEncoder::new_stream(w, stream))
        }
        Compression::Zstd { level } => {
            let mut encoder = zstd_encoder(w, level).map_err(setup)?;
            // Worker mode (even with one worker) cuts jobs by size alone.
            encoder.multithread(threads).map_err(setup)?;
            encoder.set_parameter(zstd::stream::raw::CParameter::JobSize(PARALLEL_BLOCK as u32)).map_err(setup)?;
            Encoder::Zstd(encoder)
        }
        Compression::None | Compression::Gzip { .. } => compressed_writer(w, compression)?,
    })
}

/// What one thread of [`parallel_compressed_writer`] holds for
/// `compression`, input and output blocks included: measured with
/// 16 MiB blocks, about 230 MiB for xz at 9e (16 MiB dictionary) and 120 MiB
/// for zstd at level 19; zero for gzip and no compression (one thread).
pub fn parallel_thread_memory(compression: Compression) -> u64 {
    match compression {
        Compression::Xz { level, extreme, x86_bcj } => {
            // The encoder's own estimate, as its thread count would: one
            // thread's share of two.
            let Ok(filters) = parallel_xz_filters(level, extreme, x86_bcj) else { return 0 };
            let mut builder = MtStreamBuilder::new();
            builder.threads(2).block_size(PARALLEL_BLOCK).filters(filters);
            builder.memusage() / 2
        }
        // zstd's worker holds its window and match tables (up to 8 MiB
        // and 80 MiB at level 19; about 10 MiB at 3) and a job's input
        // and output: 16 MiB each.
        Compression::Zstd { level } if level >= 16 => 120 << 20,
        Compression::Zstd { level } if level >= 10 => 72 << 20,
        Compression::Zstd { .. } => 48 << 20,
        Compression::None | Compression::Gzip { .. } => 0,
    }
}

/// How many of the `wanted` threads [`parallel_compressed_writer`] runs:
/// as many as fit in a quarter of `available` bytes (xz's own rule for
/// `-T0`), and at least one. `None` (unknown) caps nothing.
pub fn parallel_threads(compression: Compression, wanted: u32, available: Option<u64>) -> u32 {
    let wanted = wanted.max(1);
    let per_thread = parallel_thread_memory(compression);
    match available {
        Some(available) if per_thread > 0 => {
            let fit = (available / 4 / per_thread).min(u64::from(u32::MAX)) as u32;
            wanted.min(fit).max(1)
        }
        _ => wanted,
    }
}

/// The memory the system can give without swapping (`MemAvailable` of
/// `/proc/meminfo`, or the memory cgroup's limit when that is smaller).
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = meminfo.lines().find_map(|line| line.strip_prefix("MemAvailable:"))?;
    let system = kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok()? * 1024;
    Some(cgroup_limit().map_or(system, |limit| limit.min(system)))
}

/// The memory limit of this process's cgroup (v2 `memory.max`, v1
/// `memory.limit_in_bytes`), if it has one.
fn cgroup_limit() -> Option<u64> {
    let groups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in groups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let file = match controllers {
            "" => format!("/sys/fs/cgroup{path}/memory.max"),
            c if c.split(',').any(|c| c == "memory") => format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"),
            _ => continue,
        };
        // "max" (v2) or a huge number (v1) when there is no limit.
        if let Some(limit) = std::fs::read_to_string(file).ok().and_then(|t| t.trim().parse::<u64>().ok()) {
            return Some(limit);
        }
    }
    None
}

/// Largest LZMA2 dictionary in a stream for the kernel: what the kernel's
/// own build uses for an initramfs (`xz --check=crc32 --lzma2=dict=1MiB`).
/// The kernel's decoder allocates the whole dictionary the stream header
/// asks for, at boot, so `-9`'s 64 MiB would cost a small VM dearly.
const KERNEL_XZ_DICT: u32 = 1 << 20;
/// Largest zstd window for the kernel (`2^23` = 8 MiB): levels up to 19
/// never exceed it, the `--ultra` levels would, and the kernel's decoder
/// needs the whole window in memory.
const KERNEL_ZSTD_WINDOW_LOG: u32 = 23;

/// Wraps `w` in the encoder for `compression`, made for the Linux kernel's
/// decompressors rather than the userspace tools, as an initramfs needs:
///
/// - xz gets a CRC32 check, because XZ Embedded, the kernel's decoder,
///   verifies only CRC32 (or no check) and refuses the CRC64 that
///   [`compressed_writer`] uses; and a dictionary of at most 1 MiB. The
///   x86 BCJ filter is kept if asked for (x86 kernels decode it), but
///   [`Compression::INITRAMFS_XZ`] leaves it off.
/// - zstd is one frame with a window of at most 8 MiB and no
///   long-distance matching. With `content_size` (the exact number of
///   bytes that will be written) the frame records it and the window
///   shrinks to fit the content, so that a 1.5 MB stage 1 costs the
///   booting kernel 1.5 MB of window, not 4 or 8.
/// - gzip and uncompressed streams are as [`compressed_writer`] makes them.
pub fn kernel_compressed_writer<W: Write>(
    w: W,
    compression: Compression,
    content_size: Option<u64>,
) -> Result<Encoder<W>, Error> {
    compression.check_level()?;
    let setup = |source| Error::EncoderSetup { format: compression.name(), source };
    Ok(match compression {
        Compression::Xz { level, extreme, x86_bcj } => {
            let preset = level | if extreme { PRESET_EXTREME } else { 0 };
            let mut options = LzmaOptions::new_preset(preset).map_err(|e| setup(e.into()))?;
            if level >= 1 {
                // Presets 1–9 have dictionaries of 1 MiB or more; 0 has 256 KiB.
                options.dict_size(KERNEL_XZ_DICT);
            }
            let mut filters = Filters::new();
            if x86_bcj {
                filters.x86();
            }
            filters.lzma2(&options);
            let stream = Stream::new_stream_encoder(&filters, Check::Crc32).map_err(|e| setup(e.into()))?;
            Encoder::Xz(XzEncoder::new_stream(w, stream))
        }
        Compression::Zstd { level } => {
            let mut encoder = zstd_encoder(w, level).map_err(setup)?;
            if level > 19 {
                encoder.window_log(KERNEL_ZSTD_WINDOW_LOG).map_err(setup)?;
            }
            if let Some(size) = content_size {
                encoder.include_contentsize(true).map_err(setup)?;
                encoder.set_pledged_src_size(Some(size)).map_err(setup)?;
            }
            Encoder::Zstd(encoder)
        }
        Compression::None | Compression::Gzip { .. } => compressed_writer(w, compression)?,
    })
}

/// A single-threaded `.xz` stream encoder with a CRC64 check.
fn xz_stream(preset: u32, x86_bcj: bool) -> io::Result<Stream> {
    if !x86_bcj {
        return Ok(Stream::new_easy_encoder(preset, Check::Crc64)?);
    }
    let mut filters = Filters::new();
    filters.x86().lzma2(&LzmaOptions::new_preset(preset)?);
    Ok(Stream::new_stream_encoder(&filters, Check::Crc64)?)
}

fn zstd_encoder<W: Write>(w: W, level: i32) -> io::Result<zstd::Encoder<'static, W>> {
    let mut encoder = zstd::Encoder::new(w, level)?;
    encoder.include_checksum(true)?;
    encoder.include_contentsize(false)?;
    encoder.include_dictid(false)?;
    Ok(encoder)
}

impl<W: Write> Encoder<W> {
    /// Ends the compressed stream and returns the inner writer.
    pub fn finish(self) -> Result<W, Error> {
        let format = self.format();
        let finished = match self {
            Encoder::None(mut w) => w.flush().map(|()| w),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Xz(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
        };
        finished.map_err(|source| Error::EncoderFinish { format, source })
    }

    fn format(&self) -> &'static str {
        match self {
            Encoder::None(_) => "uncompressed",
            Encoder::Gzip(_) => "gzip",
            Encoder::Xz(_) => "xz",
            Encoder::Zstd(_) => "zstd",
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::None(w) => w.write(buf),
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Xz(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::None(w) => w.flush(),
            Encoder::Gzip(e) => e.flush(),
            Encoder::Xz(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_map_to_formats() {
        assert_eq!(Compression::from_file_name("rootfs.tar.xz"), Some(Compression::ROOTFS_XZ));
        assert_eq!(Compression::from_file_name("a.tgz"), Some(Compression::Gzip { level: 9 }));
        assert_eq!(Compression::from_file_name("a.tar.zst"), Some(Compression::Zstd { level: 19 }));
        assert_eq!(Compression::from_file_name("a.tar"), Some(Compression::None));
        assert_eq!(Compression::from_file_name("a.cpio.gz"), None);
        for c in [Compression::None, Compression::Gzip { level: 1 }, Compression::ROOTFS_XZ] {
            let name = format!("rootfs.{}", c.tar_extension());
            assert_eq!(Compression::from_file_name(&name).map(Compression::extension), Some(c.extension()));
        }
    }

    #[test]
    fn levels_out_of_range_are_refused() {
        let err = compressed_writer(Vec::new(), Compression::Gzip { level: 10 }).err().unwrap();
        assert_eq!(err.to_string(), "gzip level 10 is out of range: expected 0 to 9");
        assert!(compressed_writer(Vec::new(), Compression::Zstd { level: 23 }).is_err());
        assert!(compressed_writer(Vec::new(), Compression::Xz { level: 9, extreme: true, x86_bcj: false }).is_ok());
    }

    #[test]
    fn gzip_header_has_no_name_and_no_mtime() {
        let mut enc = compressed_writer(Vec::new(), Compression::Gzip { level: 6 }).unwrap();
        enc.write_all(b"hello").unwrap();
        let out = enc.finish().unwrap();
        assert_eq!(&out[..4], &[0x1f, 0x8b, 8, 0], "no FNAME/FEXTRA/FCOMMENT flags");
        assert_eq!(&out[4..8], &[0, 0, 0, 0], "mtime 0");
        assert_eq!(out[9], 255, "OS unknown");
    }
}
