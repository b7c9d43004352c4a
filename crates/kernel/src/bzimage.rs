//! The x86 boot protocol: from a bzImage (`boot/vmlinuz-*`) to the ELF
//! vmlinux inside it, which is what Firecracker and other VMMs without a
//! bzImage loader boot.
//!
//! A bzImage is real-mode setup code (`setup_sects` sectors after the boot
//! sector) followed by the protected-mode decompressor, which carries the
//! compressed kernel as its payload. Since boot protocol 2.08 the setup
//! header says where: `payload_offset` (0x248) and `payload_length`
//! (0x24c), relative to the start of the protected-mode code. The kernel
//! build appends the uncompressed size as a little-endian u32 after every
//! payload (for gzip it is the format's own ISIZE trailer); it is used here
//! to check the result.

use crate::compress::{self, Format};
use crate::elf;
use crate::{Error, Result};

const HEADER_MAGIC: &[u8; 4] = b"HdrS";
const SETUP_SECTS: usize = 0x1f1;
const MAGIC_AT: usize = 0x202;
const VERSION_AT: usize = 0x206;
const KERNEL_VERSION_AT: usize = 0x20e;
const PAYLOAD_OFFSET_AT: usize = 0x248;
const PAYLOAD_LENGTH_AT: usize = 0x24c;
const HEADER_END: usize = 0x250;
/// Protocol 2.08 added the payload fields.
const MIN_VERSION: u16 = 0x0208;
/// Larger than any real vmlinux; bounds memory on corrupt size fields.
const MAX_VMLINUX: u64 = 1 << 30;

/// How a bzImage payload is compressed, from its magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayloadFormat {
    Gzip,
    Xz,
    Zstd,
    Lzma,
    Bzip2,
    Lz4,
    Lzo,
    /// `CONFIG_KERNEL_UNCOMPRESSED`: the payload is the ELF itself.
    Uncompressed,
}

impl PayloadFormat {
    pub fn name(self) -> &'static str {
        match self {
            PayloadFormat::Gzip => "gzip",
            PayloadFormat::Xz => "xz",
            PayloadFormat::Zstd => "zstd",
            PayloadFormat::Lzma => "lzma",
            PayloadFormat::Bzip2 => "bzip2",
            PayloadFormat::Lz4 => "lz4",
            PayloadFormat::Lzo => "lzo",
            PayloadFormat::Uncompressed => "uncompressed",
        }
    }

    fn sniff(payload: &[u8]) -> Option<PayloadFormat> {
        if let Some(format) = Format::sniff(payload) {
            return Some(match format {
                Format::Gzip => PayloadFormat::Gzip,
                Format::Xz => PayloadFormat::Xz,
                Format::Zstd => PayloadFormat::Zstd,
            });
        }
        let magics: [(&[u8], PayloadFormat); 5] = [
            (b"\x7fELF", PayloadFormat::Uncompressed),
            (b"\x5d\x00\x00", PayloadFormat::Lzma),
            (b"BZh", PayloadFormat::Bzip2),
            // The legacy lz4 frame the kernel build writes (`lz4 -l`).
            (b"\x02\x21\x4c\x18", PayloadFormat::Lz4),
            (b"\x89LZO", PayloadFormat::Lzo),
        ];
        magics.into_iter().find(|(magic, _)| payload.starts_with(magic)).map(|(_, f)| f)
    }
}

/// The parts of the setup header this module uses.
struct Setup<'a> {
    payload: &'a [u8],
    format: PayloadFormat,
}

fn setup(bzimage: &[u8]) -> Result<Setup<'_>> {
    let not = |reason: String| Error::NotBzImage { reason };
    if bzimage.len() < HEADER_END {
        return Err(not(format!("{} bytes is too short for a boot setup header", bzimage.len())));
    }
    if &bzimage[MAGIC_AT..MAGIC_AT + 4] != HEADER_MAGIC {
        return Err(not(format!("no `HdrS` magic at 0x{MAGIC_AT:x}")));
    }
    let version = elf::u16_at(bzimage, VERSION_AT);
    if version < MIN_VERSION {
        return Err(not(format!(
            "boot protocol {}.{:02} is older than 2.08 and does not locate its payload",
            version >> 8,
            version & 0xff
        )));
    }
    let setup_sects = match bzimage[SETUP_SECTS] {
        0 => 4,
        n => usize::from(n),
    };
    let offset = ((setup_sects + 1) * 512) as u64 + u64::from(elf::u32_at(bzimage, PAYLOAD_OFFSET_AT));
    let length = u64::from(elf::u32_at(bzimage, PAYLOAD_LENGTH_AT));
    let out_of_bounds = || Error::PayloadOutOfBounds { offset, length, file_len: bzimage.len() };
    let end = offset.checked_add(length).ok_or_else(out_of_bounds)?;
    let payload = bzimage.get(offset as usize..end as usize).ok_or_else(out_of_bounds)?;
    let format = PayloadFormat::sniff(payload)
        .ok_or_else(|| Error::UnknownCompression { magic: payload[..payload.len().min(6)].to_vec() })?;
    Ok(Setup { payload, format })
}

/// The release the image was built as (`6.12.107+deb13-cloud-amd64`): the
/// first word of the header's `kernel_version` string.
pub fn kernel_version(bzimage: &[u8]) -> Result<String> {
    setup(bzimage)?;
    let pointer = usize::from(elf::u16_at(bzimage, KERNEL_VERSION_AT));
    let text = bzimage.get(pointer + 0x200..).unwrap_or_default();
    let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len()).min(256)];
    let version = String::from_utf8_lossy(text).split_whitespace().next().unwrap_or_default().to_owned();
    if version.is_empty() {
        return Err(Error::NotBzImage { reason: "the header's kernel_version string is empty".to_owned() });
    }
    Ok(version)
}

/// Decompresses the kernel inside `bzimage` and returns the ELF vmlinux.
///
/// Payloads compressed with zstd, xz or gzip are supported; lzma, bzip2,
/// lz4 and lzo are reported as unsupported. The result must be an x86-64
/// ELF executable with at least one loadable segment, and as long as the
/// size the build recorded after the payload.
pub fn extract_vmlinux(bzimage: &[u8]) -> Result<Vec<u8>> {
    let Setup { payload, format } = setup(bzimage)?;
    let what = || "the kernel payload".to_owned();
    let vmlinux = match format {
        PayloadFormat::Uncompressed => payload.to_vec(),
        PayloadFormat::Gzip | PayloadFormat::Xz | PayloadFormat::Zstd => {
            let Some(size_at) = payload.len().checked_sub(4) else {
                return Err(Error::NotBzImage { reason: format!("a payload of {} bytes is too short", payload.len()) });
            };
            let expected = u64::from(elf::u32_at(payload, size_at));
            let stream = Format::sniff(payload).expect("sniffed above");
            let out = compress::decompress(stream, payload, MAX_VMLINUX).map_err(|source| Error::Decompress {
                what: what(),
                format: format.name(),
                source,
            })?;
            if out.len() as u64 != expected {
                return Err(Error::SizeMismatch { what: what(), expected, got: out.len() as u64 });
            }
            out
        }
        other => return Err(Error::UnsupportedCompression { format: other.name() }),
    };
    check_vmlinux(&vmlinux)?;
    Ok(vmlinux)
}

fn check_vmlinux(data: &[u8]) -> Result<()> {
    let bad = |reason: String| Error::Elf { what: "the decompressed kernel".to_owned(), reason };
    let h = elf::header(data).map_err(bad)?;
    if h.machine != elf::EM_X86_64 {
        return Err(bad(format!("machine {} is not x86-64 ({})", h.machine, elf::EM_X86_64)));
    }
    if h.e_type != elf::ET_EXEC {
        return Err(bad(format!("type {} is not an executable", h.e_type)));
    }
    if elf::load_segments(data, &h).map_err(bad)? == 0 {
        return Err(bad("it has no loadable segments".to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
