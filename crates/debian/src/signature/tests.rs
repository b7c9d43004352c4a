//! Keys generated in the test, signing a small Release text; times are fixed
//! so that every check is deterministic.

use pgp::composed::{
    ArmorOptions, EncryptionCaps, KeyType, SecretKeyParamsBuilder, SignedSecretKey, SubkeyParamsBuilder,
};
use pgp::packet::{SignatureConfig, Subpacket, SubpacketData};
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, Password, SigningKey, Tag, Timestamp};
use rand_chacha::{rand_core::SeedableRng, ChaCha8Rng};

use super::*;

/// 2026-09-21 14:13:20 UTC.
const T0: u32 = 1_790_000_000;
const DAY: u32 = 86_400;
const RELEASE: &str = "Origin: Test\nSuite: stable\nDate: Mon, 21 Sep 2026 05:00:00 UTC\nSHA256:\n \
                       0000000000000000000000000000000000000000000000000000000000000000 0 main/x\n";

fn at(secs: u32) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs.into())
}

/// An Ed25519 key created a day before T0; with `subkey`, the primary only
/// certifies and a subkey signs (like Debian's automatic signing keys).
fn key(seed: u64, subkey: bool) -> SignedSecretKey {
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(!subkey)
        .created_at(Timestamp::from_secs(T0 - DAY))
        .primary_user_id(format!("Test Key {seed} <test@example.org>"));
    if subkey {
        let mut sub = SubkeyParamsBuilder::default();
        sub.key_type(KeyType::Ed25519Legacy)
            .can_sign(true)
            .can_encrypt(EncryptionCaps::None)
            .created_at(Timestamp::from_secs(T0 - DAY));
        params.subkeys(vec![sub.build().unwrap()]);
    }
    params.build().unwrap().generate(ChaCha8Rng::seed_from_u64(seed)).unwrap()
}

fn keyring(keys: &[&SignedSecretKey]) -> Keyring {
    let mut bytes = Vec::new();
    for k in keys {
        SignedPublicKey::from((*k).clone()).to_writer(&mut bytes).unwrap();
    }
    Keyring::from_bytes(&bytes, "test.gpg").unwrap()
}

fn signature(signer: &impl SigningKey, typ: SignatureType, text: &str, created: u32) -> Signature {
    let mut config = SignatureConfig::from_key(ChaCha8Rng::seed_from_u64(0), signer, typ).unwrap();
    config.hashed_subpackets = vec![
        Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::from_secs(created))).unwrap(),
        Subpacket::regular(SubpacketData::IssuerFingerprint(signer.fingerprint())).unwrap(),
    ];
    config.unhashed_subpackets = vec![Subpacket::regular(SubpacketData::IssuerKeyId(signer.legacy_key_id())).unwrap()];
    config.sign(signer, &Password::empty(), text.as_bytes()).unwrap()
}

/// `text` clear-signed by each of `signers` at `created`.
fn clearsign(text: &str, signers: &[&dyn Fn(&str) -> Signature]) -> String {
    let msg = CleartextSignedMessage::new_many(text, |t| Ok(signers.iter().map(|s| s(t)).collect())).unwrap();
    msg.to_armored_string(ArmorOptions::default()).unwrap()
}

fn signed_by(k: &SignedSecretKey, created: u32) -> String {
    clearsign(RELEASE, &[&|t: &str| signature(&k.primary_key, SignatureType::Text, t, created)])
}

fn verify(armored: &str, ring: &Keyring) -> Result<Verified, SignatureError> {
    verify_inrelease("InRelease", armored.as_bytes(), ring, at(T0))
}

#[test]
fn valid_signature_yields_exact_payload_and_signer() {
    let k = key(1, false);
    let v = verify(&signed_by(&k, T0 - 60), &keyring(&[&k])).unwrap();
    assert_eq!(v.payload, RELEASE);
    assert_eq!(v.signers.len(), 1);
    assert_eq!(v.signers[0].fingerprint, format!("{:X}", k.fingerprint()));
    assert_eq!(v.signers[0].fingerprint, v.signers[0].primary_fingerprint);
    assert_eq!(v.signers[0].user_id, "Test Key 1 <test@example.org>");
    assert_eq!(v.signers[0].created, at(T0 - 60));
}

#[test]
fn subkey_signature_names_subkey_and_primary() {
    let k = key(2, true);
    let sub = &k.secret_subkeys[0].key;
    let armored = clearsign(RELEASE, &[&|t: &str| signature(sub, SignatureType::Text, t, T0 - 60)]);
    let v = verify(&armored, &keyring(&[&k])).unwrap();
    assert_eq!(v.signers[0].fingerprint, format!("{:X}", sub.fingerprint()));
    assert_eq!(v.signers[0].primary_fingerprint, format!("{:X}", k.fingerprint()));
}

#[test]
fn primary_that_may_not_sign_is_refused() {
    let k = key(3, true);
    let err = verify(&signed_by(&k, T0 - 60), &keyring(&[&k])).unwrap_err();
    assert!(matches!(err, SignatureError::InvalidKey { .. }), "{err}");
}

#[test]
fn flipped_byte_in_payload_is_refused() {
    let k = key(4, false);
    let armored = signed_by(&k, T0 - 60).replace("Suite: stable", "Suite: stabld");
    let err = verify(&armored, &keyring(&[&k])).unwrap_err();
    assert!(matches!(err, SignatureError::BadSignature { .. }), "{err}");
    assert!(err.to_string().starts_with("InRelease: bad signature by key"), "{err}");
}

#[test]
fn unknown_key_is_refused_naming_key_and_keyring() {
    let (a, b) = (key(5, false), key(6, false));
    let err = verify(&signed_by(&b, T0 - 60), &keyring(&[&a])).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, SignatureError::UnknownKey { .. }), "{msg}");
    assert!(msg.contains(&format!("{:X}", b.fingerprint())), "{msg}");
    assert!(msg.contains("test.gpg") && msg.contains("keyring = "), "{msg}");
}

#[test]
fn one_good_signature_among_unknown_ones_is_enough() {
    let (a, b) = (key(7, false), key(8, false));
    let sign_a = |t: &str| signature(&a.primary_key, SignatureType::Text, t, T0 - 60);
    let sign_b = |t: &str| signature(&b.primary_key, SignatureType::Text, t, T0 - 60);
    let v = verify(&clearsign(RELEASE, &[&sign_b, &sign_a]), &keyring(&[&a])).unwrap();
    assert_eq!(v.signers.len(), 1);
    assert_eq!(v.signers[0].fingerprint, format!("{:X}", a.fingerprint()));
}

#[test]
fn future_signature_is_refused() {
    let k = key(9, false);
    let err = verify(&signed_by(&k, T0 + 3600), &keyring(&[&k])).unwrap_err();
    assert!(matches!(err, SignatureError::FutureSignature { .. }), "{err}");
    // Within the clock-skew tolerance it is accepted.
    verify(&signed_by(&k, T0 + 60), &keyring(&[&k])).unwrap();
}

#[test]
fn expired_key_is_refused() {
    let k = key(10, false);
    let mut public = SignedPublicKey::from(k.clone());
    let mut config =
        SignatureConfig::from_key(ChaCha8Rng::seed_from_u64(0), &k.primary_key, SignatureType::CertPositive).unwrap();
    let lifetime = std::time::Duration::from_secs(DAY.into()).try_into().unwrap();
    let mut flags = pgp::packet::KeyFlags::default();
    flags.set_sign(true);
    config.hashed_subpackets = vec![
        Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::from_secs(T0 - DAY / 2))).unwrap(),
        Subpacket::regular(SubpacketData::KeyExpirationTime(lifetime)).unwrap(),
        Subpacket::regular(SubpacketData::KeyFlags(flags)).unwrap(),
        Subpacket::regular(SubpacketData::IssuerFingerprint(k.fingerprint())).unwrap(),
    ];
    let user = &mut public.details.users[0];
    let pk = k.primary_key.public_key();
    let sig = config.sign_certification(&k.primary_key, pk, &Password::empty(), Tag::UserId, &user.id).unwrap();
    user.signatures = vec![sig];
    let mut bytes = Vec::new();
    public.to_writer(&mut bytes).unwrap();
    let ring = Keyring::from_bytes(&bytes, "test.gpg").unwrap();
    let err = verify(&signed_by(&k, T0 - 60), &ring).unwrap_err();
    assert!(matches!(err, SignatureError::ExpiredKey { .. }), "{err}");
    assert!(err.to_string().contains("2026-09-21 14:13:20 UTC"), "{err}");
}

#[test]
fn revoked_key_is_refused() {
    let k = key(11, false);
    let mut public = SignedPublicKey::from(k.clone());
    let mut config =
        SignatureConfig::from_key(ChaCha8Rng::seed_from_u64(0), &k.primary_key, SignatureType::KeyRevocation).unwrap();
    config.hashed_subpackets = vec![
        Subpacket::regular(SubpacketData::SignatureCreationTime(Timestamp::from_secs(T0 - 3600))).unwrap(),
        Subpacket::regular(SubpacketData::IssuerFingerprint(k.fingerprint())).unwrap(),
    ];
    let pk = k.primary_key.public_key();
    public.details.revocation_signatures.push(config.sign_key(&k.primary_key, &Password::empty(), pk).unwrap());
    let mut bytes = Vec::new();
    public.to_writer(&mut bytes).unwrap();
    let ring = Keyring::from_bytes(&bytes, "test.gpg").unwrap();
    let err = verify(&signed_by(&k, T0 - 60), &ring).unwrap_err();
    assert!(matches!(err, SignatureError::RevokedKey { .. }), "{err}");
}

/// Text outside the signed block never reaches the payload: either the
/// message is refused or the payload is exactly what was signed.
#[test]
fn text_outside_the_signed_block_is_not_in_the_payload() {
    let k = key(12, false);
    let ring = keyring(&[&k]);
    let armored = signed_by(&k, T0 - 60);
    let injected = "Valid-Until: Sat, 01 Jan 2100 00:00:00 UTC\n";
    let second = signed_by(&k, T0 - 60).replace("Origin: Test", "Origin: Evil");
    let attempts = [
        format!("{armored}{injected}"),
        format!("{armored}\n{injected}"),
        format!("{injected}\n{armored}"),
        armored.replacen("Hash: SHA256\n", &format!("Hash: SHA256\n{injected}"), 1),
        armored.replacen("-----BEGIN PGP SIGNATURE-----\n", &format!("-----BEGIN PGP SIGNATURE-----\n{injected}"), 1),
        format!("{armored}{second}"),
    ];
    let mut refused = 0;
    for attempt in &attempts {
        match verify(attempt, &ring) {
            Ok(v) => assert_eq!(v.payload, RELEASE, "attempt:\n{attempt}"),
            Err(SignatureError::Malformed { .. }) => refused += 1,
            Err(e) => panic!("unexpected error {e} for attempt:\n{attempt}"),
        }
    }
    // Only the armor header of the signature block is tolerated, and it is not payload.
    assert_eq!(refused, attempts.len() - 1);
}

#[test]
fn payload_is_canonical_despite_line_ending_and_whitespace_changes() {
    let k = key(13, false);
    let armored = signed_by(&k, T0 - 60).replace("Suite: stable\n", "Suite: stable  \r\n");
    assert_eq!(verify(&armored, &keyring(&[&k])).unwrap().payload, RELEASE);
}

#[test]
fn dash_escaped_lines_are_unescaped() {
    let k = key(14, false);
    let text = "A: 1\n-B: 2\n";
    let armored = clearsign(text, &[&|t: &str| signature(&k.primary_key, SignatureType::Text, t, T0)]);
    assert!(armored.contains("\n- -B: 2\n"));
    assert_eq!(verify(&armored, &keyring(&[&k])).unwrap().payload, text);
}

#[test]
fn detached_signature_verifies_and_catches_tampering() {
    let k = key(15, false);
    let sig = signature(&k.primary_key, SignatureType::Binary, RELEASE, T0 - 60);
    let armored = DetachedSignature::new(sig).to_armored_bytes(ArmorOptions::default()).unwrap();
    let ring = keyring(&[&k]);
    let v = verify_detached("Release.gpg", RELEASE.as_bytes(), &armored, &ring, at(T0)).unwrap();
    assert_eq!(v.payload, RELEASE);
    let tampered = RELEASE.replace("Test", "Tesu");
    let err = verify_detached("Release.gpg", tampered.as_bytes(), &armored, &ring, at(T0)).unwrap_err();
    assert!(matches!(err, SignatureError::BadSignature { .. }), "{err}");
}

#[test]
fn missing_signature_is_refused() {
    let ring = keyring(&[&key(16, false)]);
    let empty = b"-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n";
    let err = verify_detached("Release.gpg", RELEASE.as_bytes(), empty, &ring, at(T0)).unwrap_err();
    assert!(matches!(err, SignatureError::NoSignature { .. } | SignatureError::Malformed { .. }), "{err}");
    let err = verify_inrelease("InRelease", RELEASE.as_bytes(), &ring, at(T0)).unwrap_err();
    assert!(matches!(err, SignatureError::Malformed { .. }), "{err}");
    assert!(err.to_string().starts_with("InRelease: "), "{err}");
}

#[test]
fn keyring_directory_reads_gpg_and_asc_files() {
    let (a, b) = (key(17, false), key(18, false));
    let dir = tempfile::tempdir().unwrap();
    let mut bin = Vec::new();
    SignedPublicKey::from(a.clone()).to_writer(&mut bin).unwrap();
    std::fs::write(dir.path().join("a.gpg"), bin).unwrap();
    let asc = SignedPublicKey::from(b.clone()).to_armored_bytes(ArmorOptions::default()).unwrap();
    std::fs::write(dir.path().join("b.asc"), asc).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a key").unwrap();
    let ring = Keyring::load(dir.path()).unwrap();
    assert_eq!(ring.len(), 2);
    verify(&signed_by(&b, T0 - 60), &ring).unwrap();

    let empty = tempfile::tempdir().unwrap();
    let err = Keyring::load(empty.path()).unwrap_err();
    assert!(matches!(err, SignatureError::EmptyKeyring { .. }), "{err}");
    let err = Keyring::load(&dir.path().join("missing.gpg")).unwrap_err();
    assert!(err.to_string().contains("missing.gpg"), "{err}");
}
