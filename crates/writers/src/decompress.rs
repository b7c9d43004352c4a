//! The way back: recognizing and decoding the compressed streams the
//! encoders write, for readers of finished outputs (`microroot inspect`).
//!
//! Streams are recognized by their magic bytes, never by a file name.
//! [`decode_stream`] decodes exactly one stream and says how many input
//! bytes it took, which is what reading the concatenated initramfs
//! archives the kernel accepts needs; [`decompress`] decodes a whole file
//! of back-to-back streams of one format, as `xz -d` and `zstd -d` do.

use std::io::{self, Read};

/// A compression format a reader can decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Gzip,
    Xz,
    Zstd,
}

/// What the first bytes of a stream say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    Compressed(Codec),
    /// A compression the kernel knows but these readers do not.
    Unsupported(&'static str),
    /// Anything else: the data itself.
    Plain,
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Xz => "xz",
            Codec::Zstd => "zstd",
        }
    }
}

/// Recognizes the compression of `head` by its magic bytes.
pub fn sniff(head: &[u8]) -> Sniffed {
    const MAGICS: [(&[u8], Sniffed); 7] = [
        (&[0x1f, 0x8b], Sniffed::Compressed(Codec::Gzip)),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0], Sniffed::Compressed(Codec::Xz)),
        (&[0x28, 0xb5, 0x2f, 0xfd], Sniffed::Compressed(Codec::Zstd)),
        (b"BZh", Sniffed::Unsupported("bzip2")),
        (&[0x5d, 0, 0], Sniffed::Unsupported("lzma")),
        (&[0x02, 0x21, 0x4c, 0x18], Sniffed::Unsupported("lz4")),
        (&[0x89, b'L', b'Z', b'O'], Sniffed::Unsupported("lzo")),
    ];
    MAGICS.iter().find(|(magic, _)| head.starts_with(magic)).map_or(Sniffed::Plain, |(_, s)| *s)
}

/// Decodes the one `codec` stream at the start of `data`. Returns the
/// decoded bytes and how many bytes of `data` the stream took.
pub fn decode_stream(data: &[u8], codec: Codec) -> io::Result<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let rest = match codec {
        Codec::Gzip => {
            let mut d = flate2::bufread::GzDecoder::new(data);
            d.read_to_end(&mut out)?;
            d.into_inner()
        }
        Codec::Xz => {
            let mut d = liblzma::bufread::XzDecoder::new(data);
            d.read_to_end(&mut out)?;
            d.into_inner()
        }
        Codec::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(data)?.single_frame();
            d.read_to_end(&mut out)?;
            d.finish()
        }
    };
    Ok((out, data.len() - rest.len()))
}

/// The first `n` decoded bytes (fewer if the stream is shorter) of the
/// `codec` stream at the start of `data`: enough to recognize what it holds
/// without decoding all of it.
pub fn decode_prefix(data: &[u8], codec: Codec, n: usize) -> io::Result<Vec<u8>> {
    let reader: Box<dyn Read + '_> = match codec {
        Codec::Gzip => Box::new(flate2::bufread::GzDecoder::new(data)),
        Codec::Xz => Box::new(liblzma::bufread::XzDecoder::new(data)),
        Codec::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(data)?),
    };
    let mut out = Vec::with_capacity(n);
    reader.take(n as u64).read_to_end(&mut out)?;
    Ok(out)
}

/// Decodes `data` when it starts with a known compressed stream (and any
/// streams of the same format after it, zero padding allowed between
/// them); returns plain data as it is. A compression that is recognized
/// but not supported is an error naming it.
pub fn decompress(data: &[u8]) -> io::Result<std::borrow::Cow<'_, [u8]>> {
    let codec = match sniff(data) {
        Sniffed::Plain => return Ok(data.into()),
        Sniffed::Unsupported(name) => {
            return Err(io::Error::new(io::ErrorKind::Unsupported, format!("{name} compression is not supported")))
        }
        Sniffed::Compressed(codec) => codec,
    };
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let (mut decoded, used) = decode_stream(&data[at..], codec)?;
        out.append(&mut decoded);
        at += used.max(1);
        while data.get(at) == Some(&0) {
            at += 1;
        }
        if at < data.len() && sniff(&data[at..]) != Sniffed::Compressed(codec) {
            let message = format!("{} bytes after the {} stream are not another one", data.len() - at, codec.name());
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::{compressed_writer, Compression};

    fn compress(data: &[u8], c: Compression) -> Vec<u8> {
        let mut enc = compressed_writer(Vec::new(), c).unwrap();
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn one_stream_reports_what_it_took() {
        for c in [Compression::Gzip { level: 6 }, Compression::ROOTFS_XZ, Compression::Zstd { level: 3 }] {
            let mut data = compress(b"first", c);
            let len = data.len();
            data.extend_from_slice(b"trailing bytes");
            let Sniffed::Compressed(codec) = sniff(&data) else { panic!("{c:?} not recognized") };
            assert_eq!(decode_stream(&data, codec).unwrap(), (b"first".to_vec(), len), "{c:?}");
            assert_eq!(decode_prefix(&data, codec, 3).unwrap(), b"fir", "{c:?}");
            let mut two = compress(b"one,", c);
            two.extend_from_slice(&[0; 4]);
            two.extend(compress(b"two", c));
            assert_eq!(&*decompress(&two).unwrap(), b"one,two", "{c:?}");
        }
        assert_eq!(&*decompress(b"plain").unwrap(), b"plain");
        assert_eq!(sniff(b"BZh91AY"), Sniffed::Unsupported("bzip2"));
        assert!(decompress(&[0x1f, 0x8b, 8, 0, 1, 2]).is_err());
    }
}
