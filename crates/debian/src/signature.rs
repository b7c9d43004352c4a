//! OpenPGP verification of a suite's `InRelease` (or `Release` +
//! `Release.gpg`) against a [`Keyring`], with the pure-Rust `pgp` crate.
//!
//! Fail closed: [`verify_inrelease`] returns the payload only as the
//! verifier saw it — the dash-unescaped cleartext that the signatures
//! cover, line endings normalized to `\n` — and never re-reads the raw
//! file, so text outside the signed block cannot reach
//! [`crate::release`]. A signature counts only when its key (a primary key
//! or a signing subkey with a back-signature) carries a valid
//! self-signature, is neither expired nor revoked at `now`, and the
//! signature is not from the future. At least one signature must verify,
//! and none by a known key may be cryptographically bad; signatures by
//! unknown or expired keys are ignored when another one verifies (Debian's
//! `InRelease` carries one per current archive key).

mod keys;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pgp::composed::{CleartextSignedMessage, Deserializable, DetachedSignature, SignedPublicKey};
use pgp::packet::{Signature, SignatureType};

use crate::release::{format_utc, CLOCK_SKEW};
use keys::{Candidate, KeyStatus};

const KEYRING_HINT: &str = "hint: set `keyring = \"…\"` in the manifest to a keyring (.gpg or .asc) \
                            holding the repository's signing key";

/// A keyring that cannot be read, or a signature that cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("cannot read keyring {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no usable OpenPGP public keys in {keyring}\n  {KEYRING_HINT}")]
    EmptyKeyring { keyring: String },
    #[error("{file}: not an OpenPGP signed message: {reason}")]
    Malformed { file: String, reason: String },
    #[error("{file}: no signature found")]
    NoSignature { file: String },
    #[error("{file}: bad signature by key {fingerprint}: {reason}")]
    BadSignature { file: String, fingerprint: String, reason: String },
    #[error("{file}: signed by key {key}, which is not in keyring {keyring}\n  {KEYRING_HINT}")]
    UnknownKey { file: String, key: String, keyring: String },
    #[error(
        "{file}: signed by key {fingerprint} ({user_id}), which expired at {expired}\n  hint: \
         install a newer archive keyring (e.g. debian-archive-keyring) and point `keyring = …` at it"
    )]
    ExpiredKey { file: String, fingerprint: String, user_id: String, expired: String },
    #[error("{file}: signed by key {fingerprint} ({user_id}), which has been revoked")]
    RevokedKey { file: String, fingerprint: String, user_id: String },
    #[error("{file}: signature by key {fingerprint} expired at {expired}")]
    ExpiredSignature { file: String, fingerprint: String, expired: String },
    #[error("{file}: key {fingerprint} cannot be trusted: {reason}")]
    InvalidKey { file: String, fingerprint: String, reason: String },
    #[error("{file}: signature by key {fingerprint} was made at {created}, in the future (now is {now})\n  hint: check the system clock")]
    FutureSignature { file: String, fingerprint: String, created: String, now: String },
    #[error("{file}: signed text is not UTF-8")]
    NotUtf8 { file: String },
}

/// Public keys trusted to sign repositories.
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
    origin: String,
}

impl Keyring {
    /// Loads a binary (`.gpg`) or ASCII-armored (`.asc`) keyring, or every
    /// `*.gpg` and `*.asc` file of a directory, in name order.
    pub fn load(path: &Path) -> Result<Self, SignatureError> {
        let io = |source| SignatureError::Io { path: path.to_owned(), source };
        let mut keys = Vec::new();
        if path.is_dir() {
            let mut files = Vec::new();
            for entry in std::fs::read_dir(path).map_err(io)? {
                let file = entry.map_err(io)?.path();
                if file.extension().is_some_and(|e| e == "gpg" || e == "asc") {
                    files.push(file);
                }
            }
            files.sort();
            for file in files {
                let bytes = std::fs::read(&file).map_err(|source| SignatureError::Io { path: file, source })?;
                keys.extend(parse_keys(&bytes));
            }
        } else {
            keys = parse_keys(&std::fs::read(path).map_err(io)?);
        }
        Self::from_keys(keys, path.display().to_string())
    }

    /// A keyring from the bytes of a `.gpg` or `.asc` file; `origin` names it in messages.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self, SignatureError> {
        Self::from_keys(parse_keys(bytes), origin.to_owned())
    }

    fn from_keys(keys: Vec<SignedPublicKey>, origin: String) -> Result<Self, SignatureError> {
        if keys.is_empty() {
            return Err(SignatureError::EmptyKeyring { keyring: origin });
        }
        Ok(Keyring { keys, origin })
    }

    /// Where the keys came from, for messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Number of certificates (primary keys with their subkeys).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Certificates that fail to parse (e.g. unsupported algorithms) are
/// skipped: they could not verify anything anyway.
fn parse_keys(bytes: &[u8]) -> Vec<SignedPublicKey> {
    match SignedPublicKey::from_reader_many(bytes) {
        Ok((keys, _)) => keys.filter_map(Result::ok).collect(),
        Err(_) => Vec::new(),
    }
}

/// A key whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// Fingerprint (uppercase hex) of the key that made the signature.
    pub fingerprint: String,
    /// Fingerprint of its primary key (the same unless a subkey signed).
    pub primary_fingerprint: String,
    pub user_id: String,
    pub created: SystemTime,
}

/// A verified message: the signed payload and who signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub payload: String,
    pub signers: Vec<Signer>,
}

/// Verifies an `InRelease` (cleartext-signed message) named `file`.
pub fn verify_inrelease(
    file: &str,
    data: &[u8],
    keyring: &Keyring,
    now: SystemTime,
) -> Result<Verified, SignatureError> {
    let malformed = |e| malformed(file, e);
    let (msg, _headers) = CleartextSignedMessage::from_armor(data).map_err(malformed)?;
    // The exact text the signatures are checked over; the payload is derived from it alone.
    let signed = msg.signed_text();
    let signers = check_all(file, msg.signatures(), signed.as_bytes(), keyring, now)?;
    Ok(Verified { payload: signed.replace("\r\n", "\n"), signers })
}

/// Verifies a detached signature (`Release.gpg`, armored or binary) over `release`.
pub fn verify_detached(
    file: &str,
    release: &[u8],
    signature: &[u8],
    keyring: &Keyring,
    now: SystemTime,
) -> Result<Verified, SignatureError> {
    let malformed = |e| malformed(file, e);
    let (sigs, _) = DetachedSignature::from_reader_many(signature).map_err(malformed)?;
    let sigs: Vec<Signature> = sigs.map(|s| s.map(|d| d.signature)).collect::<Result<_, _>>().map_err(malformed)?;
    let signers = check_all(file, &sigs, release, keyring, now)?;
    let payload = String::from_utf8(release.to_vec()).map_err(|_| SignatureError::NotUtf8 { file: file.to_owned() })?;
    Ok(Verified { payload, signers })
}

/// `pgp`'s parse errors can embed the whole remaining input as a byte
/// list; keep only the description.
fn malformed(file: &str, e: pgp::errors::Error) -> SignatureError {
    let reason = e.to_string();
    let reason = reason.split(" Error(").next().unwrap_or_default();
    let reason: String = reason.chars().take(200).collect();
    SignatureError::Malformed { file: file.to_owned(), reason }
}

fn check_all(
    file: &str,
    sigs: &[Signature],
    data: &[u8],
    keyring: &Keyring,
    now: SystemTime,
) -> Result<Vec<Signer>, SignatureError> {
    if sigs.is_empty() {
        return Err(SignatureError::NoSignature { file: file.to_owned() });
    }
    let (mut signers, mut failures) = (Vec::new(), Vec::new());
    for sig in sigs {
        match check_one(file, sig, data, keyring, now) {
            Ok(signer) => signers.push(signer),
            Err(e) => failures.push(e),
        }
    }
    let bad = failures.iter().position(|e| matches!(e, SignatureError::BadSignature { .. }));
    match (bad, signers.is_empty()) {
        (Some(i), _) => Err(failures.swap_remove(i)),
        (None, true) => Err(most_severe(failures, keyring)),
        (None, false) => Ok(signers),
    }
}

/// Picks the error to report when no signature verified: a problem with a
/// known key first, else all unknown keys together.
fn most_severe(mut failures: Vec<SignatureError>, keyring: &Keyring) -> SignatureError {
    failures.sort_by_key(|e| matches!(e, SignatureError::UnknownKey { .. }));
    let unknown: Vec<String> = failures
        .iter()
        .filter_map(|e| match e {
            SignatureError::UnknownKey { key, .. } => Some(key.clone()),
            _ => None,
        })
        .collect();
    match failures.swap_remove(0) {
        SignatureError::UnknownKey { file, .. } => {
            SignatureError::UnknownKey { file, key: unknown.join(", "), keyring: keyring.origin.clone() }
        }
        other => other,
    }
}

fn check_one(
    file: &str,
    sig: &Signature,
    data: &[u8],
    keyring: &Keyring,
    now: SystemTime,
) -> Result<Signer, SignatureError> {
    let candidates = keys::candidates(&keyring.keys, sig);
    let Some(first) = candidates.first() else {
        return Err(SignatureError::UnknownKey {
            file: file.to_owned(),
            key: keys::issuer(sig),
            keyring: keyring.origin.clone(),
        });
    };
    let bad = |fingerprint: String, reason: String| SignatureError::BadSignature {
        file: file.to_owned(),
        fingerprint,
        reason,
    };
    if !matches!(sig.typ(), Some(SignatureType::Binary | SignatureType::Text)) {
        return Err(bad(first.fingerprint(), format!("unexpected signature type {:?}", sig.typ())));
    }
    // apt refuses these digests for repositories; so do we.
    use pgp::crypto::hash::HashAlgorithm as H;
    match sig.hash_alg() {
        Some(H::Sha224 | H::Sha256 | H::Sha384 | H::Sha512 | H::Sha3_256 | H::Sha3_512) => {}
        other => {
            let name = other.map_or_else(|| "none".to_owned(), |h| h.to_string());
            return Err(bad(first.fingerprint(), format!("weak digest {name}: only SHA-2 and SHA-3 are accepted")));
        }
    }
    let mut last = None;
    for cand in &candidates {
        match cand.verify(sig, data) {
            Ok(()) => return accept(file, cand, sig, now),
            Err(e) => last = Some(bad(cand.fingerprint(), e.to_string())),
        }
    }
    Err(last.expect("candidates is not empty"))
}

/// A signature that verified: is its key trustworthy at `now`, and its time plausible?
fn accept(file: &str, cand: &Candidate<'_>, sig: &Signature, now: SystemTime) -> Result<Signer, SignatureError> {
    let (fingerprint, user_id) = (cand.fingerprint(), cand.user_id());
    let file = file.to_owned();
    let created = sig.created().map(|t| UNIX_EPOCH + Duration::from_secs(t.as_secs().into()));
    let Some(created) = created else {
        return Err(SignatureError::BadSignature { file, fingerprint, reason: "no creation time".into() });
    };
    if created > now + CLOCK_SKEW {
        let (created, now) = (format_utc(created), format_utc(now));
        return Err(SignatureError::FutureSignature { file, fingerprint, created, now });
    }
    if let Some(expired) = keys::signature_expiry(sig).filter(|&t| t <= now) {
        return Err(SignatureError::ExpiredSignature { file, fingerprint, expired: format_utc(expired) });
    }
    match cand.status(now) {
        KeyStatus::Valid => {}
        KeyStatus::Expired(at) => {
            return Err(SignatureError::ExpiredKey { file, fingerprint, user_id, expired: format_utc(at) })
        }
        KeyStatus::Revoked => return Err(SignatureError::RevokedKey { file, fingerprint, user_id }),
        KeyStatus::Invalid(reason) => return Err(SignatureError::InvalidKey { file, fingerprint, reason }),
    }
    Ok(Signer { fingerprint, primary_fingerprint: cand.primary_fingerprint(), user_id, created })
}
