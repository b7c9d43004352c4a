//! SHA-256 digests and the (hash, size) pair every download is checked against.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// A SHA-256 digest; displays as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Hash([u8; 32]);

impl Sha256Hash {
    /// Wraps raw digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Hashes a byte slice.
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }

    /// Lowercase hex, as used in cache paths and Debian indexes.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl FromStr for Sha256Hash {
    type Err = InvalidDigest;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut bytes).map_err(|_| InvalidDigest { value: s.to_string() })?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for Sha256Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Hash({self})")
    }
}

/// A string that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid sha256 {value:?}: expected 64 hex digits")]
pub struct InvalidDigest {
    /// The rejected text.
    pub value: String,
}

/// What a file must be: its SHA-256 and its exact size in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Expected {
    /// The SHA-256 of the whole file.
    pub sha256: Sha256Hash,
    /// The size of the file in bytes.
    pub size: u64,
}

impl Expected {
    /// Pairs a digest with a size.
    pub const fn new(sha256: Sha256Hash, size: u64) -> Self {
        Self { sha256, size }
    }

    /// Parses a hex digest, as found in a `Packages` index.
    pub fn parse(sha256_hex: &str, size: u64) -> Result<Self, InvalidDigest> {
        Ok(Self::new(sha256_hex.parse()?, size))
    }

    /// The expectation a byte slice meets.
    pub fn of(data: &[u8]) -> Self {
        Self::new(Sha256Hash::of(data), data.len() as u64)
    }
}

/// A running SHA-256 and byte count over a stream.
#[derive(Clone, Default)]
pub struct Hasher {
    sha: Sha256,
    len: u64,
}

impl Hasher {
    /// Adds `data` to the digest and the count.
    pub fn update(&mut self, data: &[u8]) {
        self.sha.update(data);
        self.len += data.len() as u64;
    }

    /// Bytes seen so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no byte has been seen.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest and length of everything seen.
    pub fn finish(self) -> (Sha256Hash, u64) {
        (Sha256Hash(self.sha.finalize().into()), self.len)
    }
}

/// Hashes a whole file, returning its digest and length.
pub(crate) fn hash_file(path: &Path) -> io::Result<(Sha256Hash, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Hasher::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(hasher.finish()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn hex_round_trip() {
        let h: Sha256Hash = EMPTY.parse().unwrap();
        assert_eq!(h, Sha256Hash::of(b""));
        assert_eq!(h.to_string(), EMPTY);
        assert_eq!(EMPTY.to_uppercase().parse::<Sha256Hash>().unwrap(), h);
    }

    #[test]
    fn rejects_bad_hex() {
        assert!("abc".parse::<Sha256Hash>().is_err());
        assert!(EMPTY.replace('e', "g").parse::<Sha256Hash>().is_err());
        let err = Expected::parse("zz", 1).unwrap_err();
        assert_eq!(err.to_string(), "invalid sha256 \"zz\": expected 64 hex digits");
    }
}
