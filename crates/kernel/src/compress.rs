//! The compression formats kernels and modules come in, told apart by
//! their magic bytes.

use std::io::{self, Read};

/// A compressed stream as found in a bzImage payload or a module file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Gzip,
    Xz,
    Zstd,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Gzip => "gzip",
            Format::Xz => "xz",
            Format::Zstd => "zstd",
        }
    }

    /// The format whose magic `data` starts with.
    pub fn sniff(data: &[u8]) -> Option<Format> {
        if data.starts_with(&[0x1f, 0x8b]) {
            Some(Format::Gzip)
        } else if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Format::Xz)
        } else if data.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Format::Zstd)
        } else {
            None
        }
    }
}

/// Decompresses the first stream of `data` (anything after it is ignored),
/// reading at most `limit` bytes of output: more is an error, since no
/// kernel or module is that big.
pub fn decompress(format: Format, data: &[u8], limit: u64) -> io::Result<Vec<u8>> {
    let reader: Box<dyn Read + '_> = match format {
        Format::Gzip => Box::new(flate2::read::GzDecoder::new(data)),
        Format::Xz => Box::new(liblzma::read::XzDecoder::new(data)),
        Format::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(data)?.single_frame();
            // Kernels are compressed with `zstd -22 --ultra`, whose window
            // can exceed the decoder's default limit.
            decoder.window_log_max(31)?;
            Box::new(decoder)
        }
    };
    let mut out = Vec::new();
    reader.take(limit + 1).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("output exceeds {limit} bytes")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn each_format_round_trips_and_ignores_trailing_bytes() {
        let text = b"hello kernel ".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&text).unwrap();
        let xz = liblzma::encode_all(&text[..], 6).unwrap();
        let zst = zstd::encode_all(&text[..], 3).unwrap();
        for (format, mut bytes) in [(Format::Gzip, gz.finish().unwrap()), (Format::Xz, xz), (Format::Zstd, zst)] {
            assert_eq!(Format::sniff(&bytes), Some(format));
            bytes.extend_from_slice(&[1, 2, 3, 4]);
            assert_eq!(decompress(format, &bytes, 10_000).unwrap(), text, "{format:?}");
            assert!(decompress(format, &bytes, 100).is_err(), "{format:?} limit");
        }
        assert_eq!(Format::sniff(b"\x7fELF"), None);
    }
}
