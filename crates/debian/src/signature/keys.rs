//! Which key in a keyring made a signature, and whether that key may be
//! trusted at a given time: the self-signature checks that `gpgv` does and
//! `pgp` leaves to its callers.
//!
//! The newest valid self-signature of a component decides its expiry and
//! key flags; any valid self-revocation revokes it (designated revokers
//! are not consulted). A subkey counts only with a valid binding
//! signature, the sign flag and a back-signature, under a valid primary.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pgp::composed::{SignedPublicKey, SignedPublicSubKey};
use pgp::packet::{KeyFlags, PublicKey, Signature, SignatureType};
use pgp::types::{Fingerprint, KeyDetails, KeyId, Tag, Timestamp};

/// Whether a key may vouch for a signature at some time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KeyStatus {
    Valid,
    Expired(SystemTime),
    Revoked,
    Invalid(String),
}

/// A key of the keyring that a signature names as its issuer.
pub(super) struct Candidate<'k> {
    cert: &'k SignedPublicKey,
    subkey: Option<&'k SignedPublicSubKey>,
}

/// The keys that `sig` names as issuer (all keys if it names none).
pub(super) fn candidates<'k>(certs: &'k [SignedPublicKey], sig: &Signature) -> Vec<Candidate<'k>> {
    let (fps, ids) = (sig.issuer_fingerprint(), sig.issuer_key_id());
    let named = |fp: Fingerprint, id: KeyId| {
        (fps.is_empty() && ids.is_empty()) || fps.iter().any(|f| **f == fp) || ids.iter().any(|i| **i == id)
    };
    let mut out = Vec::new();
    for cert in certs {
        let primary = &cert.primary_key;
        if named(primary.fingerprint(), primary.legacy_key_id()) {
            out.push(Candidate { cert, subkey: None });
        }
        for sub in cert.public_subkeys.iter().filter(|s| named(s.key.fingerprint(), s.key.legacy_key_id())) {
            out.push(Candidate { cert, subkey: Some(sub) });
        }
    }
    out
}

/// The issuer a signature names, for messages: fingerprints, else key ids.
pub(super) fn issuer(sig: &Signature) -> String {
    let fps: Vec<String> = sig.issuer_fingerprint().iter().map(|f| format!("{f:X}")).collect();
    if !fps.is_empty() {
        return fps.join(", ");
    }
    let ids: Vec<String> = sig.issuer_key_id().iter().map(|id| id.to_string().to_uppercase()).collect();
    if ids.is_empty() {
        "(no issuer named)".to_owned()
    } else {
        ids.join(", ")
    }
}

/// When the signature itself expires, if it says so.
pub(super) fn signature_expiry(sig: &Signature) -> Option<SystemTime> {
    let secs = std::time::Duration::from(sig.signature_expiration_time()?).as_secs();
    let created = to_time(sig.created()?);
    (secs > 0).then(|| created + Duration::from_secs(secs))
}

impl Candidate<'_> {
    pub(super) fn fingerprint(&self) -> String {
        match self.subkey {
            Some(sub) => format!("{:X}", sub.key.fingerprint()),
            None => self.primary_fingerprint(),
        }
    }

    pub(super) fn primary_fingerprint(&self) -> String {
        format!("{:X}", self.cert.primary_key.fingerprint())
    }

    /// The primary user id, else the first one.
    pub(super) fn user_id(&self) -> String {
        let users = &self.cert.details.users;
        let user = users.iter().find(|u| u.is_primary()).or(users.first());
        user.map_or_else(|| "no user id".to_owned(), |u| String::from_utf8_lossy(u.id.id()).into_owned())
    }

    /// Checks the signature cryptographically over `data`.
    pub(super) fn verify(&self, sig: &Signature, data: &[u8]) -> pgp::errors::Result<()> {
        match self.subkey {
            Some(sub) => sig.verify(&sub.key, data),
            None => sig.verify(&self.cert.primary_key, data),
        }
    }

    pub(super) fn status(&self, now: SystemTime) -> KeyStatus {
        let (status, flags) = primary_status(self.cert, now);
        match (self.subkey, status) {
            (None, KeyStatus::Valid) if !may_sign(&flags) => {
                KeyStatus::Invalid("primary key is not marked for signing".into())
            }
            (Some(sub), KeyStatus::Valid) => subkey_status(&self.cert.primary_key, sub, now),
            (_, status) => status,
        }
    }
}

fn primary_status(cert: &SignedPublicKey, now: SystemTime) -> (KeyStatus, KeyFlags) {
    let primary = &cert.primary_key;
    if cert.details.revocation_signatures.iter().any(|s| s.verify_key(primary).is_ok()) {
        return (KeyStatus::Revoked, KeyFlags::default());
    }
    let direct = cert.details.direct_signatures.iter().filter(|s| s.typ() == Some(SignatureType::Key));
    let direct = direct.filter(|s| s.verify_key(primary).is_ok());
    let certs = cert.details.users.iter().flat_map(|u| {
        u.signatures
            .iter()
            .filter(|s| s.typ() != Some(SignatureType::CertRevocation))
            .filter(move |s| s.verify_certification(primary, Tag::UserId, &u.id).is_ok())
    });
    let Some(newest) = newest(direct.chain(certs)) else {
        return (KeyStatus::Invalid("no valid self-signature".into()), KeyFlags::default());
    };
    (expiry_status(primary.created_at(), newest, now), newest.key_flags())
}

fn subkey_status(primary: &PublicKey, sub: &SignedPublicSubKey, now: SystemTime) -> KeyStatus {
    let valid = |typ| move |s: &&Signature| s.typ() == Some(typ) && s.verify_subkey_binding(primary, &sub.key).is_ok();
    if sub.signatures.iter().any(|s| valid(SignatureType::SubkeyRevocation)(&s)) {
        return KeyStatus::Revoked;
    }
    let Some(binding) = newest(sub.signatures.iter().filter(valid(SignatureType::SubkeyBinding))) else {
        return KeyStatus::Invalid("subkey has no valid binding signature".into());
    };
    if !binding.key_flags().sign() {
        return KeyStatus::Invalid("subkey is not marked for signing".into());
    }
    let backsig = binding.embedded_signature().map(|b| b.verify_primary_key_binding(&sub.key, primary));
    if !matches!(backsig, Some(Ok(()))) {
        return KeyStatus::Invalid("signing subkey has no valid back-signature".into());
    }
    expiry_status(sub.key.created_at(), binding, now)
}

/// The most recent of `sigs`, which decides expiry and key flags.
fn newest<'s>(sigs: impl Iterator<Item = &'s Signature>) -> Option<&'s Signature> {
    sigs.filter_map(|s| Some((s.created()?, s))).max_by_key(|(t, _)| t.as_secs()).map(|(_, s)| s)
}

fn expiry_status(created: Timestamp, self_sig: &Signature, now: SystemTime) -> KeyStatus {
    let lifetime = self_sig.key_expiration_time().map_or(0, |d| std::time::Duration::from(d).as_secs());
    let expires = to_time(created) + Duration::from_secs(lifetime);
    if lifetime > 0 && expires <= now {
        KeyStatus::Expired(expires)
    } else {
        KeyStatus::Valid
    }
}

/// Keys whose self-signature carries no key flags at all predate them and may sign.
fn may_sign(flags: &KeyFlags) -> bool {
    flags.sign() || *flags == KeyFlags::default()
}

fn to_time(t: Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(t.as_secs().into())
}
