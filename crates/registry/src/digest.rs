//! Content digests (`sha256:<64 hex>`) and a running verifier for streams.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

use crate::error::Error;

/// An OCI content digest. Only `sha256` is supported, which is what every
/// registry and image in practice uses; displays as `sha256:<64 hex>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The digest of a byte slice.
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }

    /// Wraps raw SHA-256 bytes (e.g. from another crate's hash type).
    pub const fn from_sha256(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw SHA-256 bytes.
    pub fn sha256(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 lowercase hex digits, without the `sha256:` prefix.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl FromStr for Digest {
    type Err = Error;

    /// Parses `sha256:<64 lowercase hex>`, the canonical form the spec
    /// requires (uppercase hex is rejected, as registries do).
    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidDigest { value: s.to_string() };
        let hex = s.strip_prefix("sha256:").ok_or_else(invalid)?;
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(invalid());
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex, &mut bytes).map_err(|_| invalid())?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

/// A running SHA-256 and byte count over a stream.
pub(crate) use microroot_fetch::Hasher;

impl From<microroot_fetch::Sha256Hash> for Digest {
    fn from(hash: microroot_fetch::Sha256Hash) -> Self {
        Self(*hash.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn round_trip() {
        let d: Digest = EMPTY.parse().unwrap();
        assert_eq!(d, Digest::of(b""));
        assert_eq!(d.to_string(), EMPTY);
        let mut h = Hasher::default();
        h.update(b"");
        assert_eq!(Digest::from(h.finish().0), d);
    }

    #[test]
    fn rejects_non_canonical() {
        for bad in [&EMPTY[7..], "sha512:00", "sha256:abc", &EMPTY.to_uppercase().replace("SHA256", "sha256")] {
            let err = bad.parse::<Digest>().unwrap_err();
            assert!(err.to_string().contains("invalid digest"), "{err}");
        }
    }
}
