//! Debian package versions, `[epoch:]upstream[-revision]`, ordered exactly
//! as dpkg orders them (Debian policy §5.6.12): every candidate choice and
//! every versioned relation in the solver depends on this being right, so
//! the tests compare it with `dpkg --compare-versions` itself.
//!
//! A [`Version`] keeps its original text, so [`Display`](fmt::Display)
//! round-trips byte for byte, while equality and hashing follow dpkg
//! (`1.0` = `0:1.0` = `1.0-0`).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// Why a version string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("version is empty")]
    Empty,
    #[error("bad version `{version}`: {reason}")]
    Invalid { version: String, reason: &'static str },
}

/// A parsed Debian version. Cheap to compare: the epoch is pre-parsed and
/// the upstream and revision parts are slices of the original text.
#[derive(Clone)]
pub struct Version {
    text: Box<str>,
    epoch: u32,
    /// Byte offset where the upstream part starts (after `epoch:`).
    upstream_start: u16,
    /// Byte offset of the `-` before the revision; 0 when there is none
    /// (the upstream part is never empty, so 0 is free).
    hyphen: u16,
}

impl Version {
    /// Parses `text` (surrounding whitespace is ignored).
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        let bad = |reason| VersionError::Invalid { version: text.to_owned(), reason };
        let (epoch, upstream_start) = match text.find(':') {
            Some(colon) => (parse_epoch(&text[..colon]).map_err(bad)?, colon + 1),
            None => (0, 0),
        };
        let hyphen = text[upstream_start..].rfind('-').map(|i| i + upstream_start);
        let upstream = &text[upstream_start..hyphen.unwrap_or(text.len())];
        if upstream.is_empty() {
            return Err(bad("upstream version is empty"));
        }
        if !upstream.bytes().all(|b| b.is_ascii_alphanumeric() || b".+~-:".contains(&b)) {
            return Err(bad("invalid character in upstream version"));
        }
        if let Some(h) = hyphen {
            let revision = &text[h + 1..];
            if revision.is_empty() {
                return Err(bad("revision is empty"));
            }
            if !revision.bytes().all(|b| b.is_ascii_alphanumeric() || b".+~".contains(&b)) {
                return Err(bad("invalid character in revision"));
            }
        }
        let offset = |i: usize| u16::try_from(i).map_err(|_| bad("version is too long"));
        Ok(Version {
            epoch,
            upstream_start: offset(upstream_start)?,
            hyphen: offset(hyphen.unwrap_or(0))?,
            text: text.into(),
        })
    }

    /// The epoch; 0 when the version has none.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    pub fn upstream(&self) -> &str {
        let end = if self.hyphen == 0 { self.text.len() } else { usize::from(self.hyphen) };
        &self.text[usize::from(self.upstream_start)..end]
    }

    /// The Debian revision, if the version has one.
    pub fn revision(&self) -> Option<&str> {
        (self.hyphen != 0).then(|| &self.text[usize::from(self.hyphen) + 1..])
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn parse_epoch(s: &str) -> Result<u32, &'static str> {
    if s.is_empty() {
        return Err("epoch is empty");
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("epoch is not a number");
    }
    s.parse::<u32>().ok().filter(|e| *e <= i32::MAX as u32).ok_or("epoch is too big")
}

/// dpkg's character weight: `~` sorts before everything, even the end of
/// the string; letters sort before all other non-digits.
fn weight(c: u8) -> i32 {
    match c {
        b'~' => -1,
        0 | b'0'..=b'9' => 0,
        c if c.is_ascii_alphabetic() => i32::from(c),
        c => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternating non-digit and digit runs; the end of a
/// string behaves like a 0 byte.
fn compare_part(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let (wa, wb) = (weight(at(a, i)), weight(at(b, j)));
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        let (da, db) = (digit_run(a, &mut i), digit_run(b, &mut j));
        let ord = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Consumes a run of digits at `*i` and returns it without leading zeros.
fn digit_run<'s>(s: &'s [u8], i: &mut usize) -> &'s [u8] {
    let start = *i;
    while *i < s.len() && s[*i].is_ascii_digit() {
        *i += 1;
    }
    let run = &s[start..*i];
    let zeros = run.iter().take_while(|&&c| c == b'0').count();
    &run[zeros..]
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_part(self.upstream(), other.upstream()))
            .then_with(|| compare_part(self.revision().unwrap_or(""), other.revision().unwrap_or("")))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl Hash for Version {
    /// Hashes a canonical form so that versions dpkg calls equal (`1.0`,
    /// `0:1.0`, `1.00-0`) hash alike.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.epoch.hash(state);
        hash_part(self.upstream(), state);
        hash_part(self.revision().unwrap_or(""), state);
    }
}

fn hash_part<H: Hasher>(part: &str, state: &mut H) {
    let s = part.as_bytes();
    let mut i = 0;
    // (non-digit run, digit run) pairs; trailing ("", 0) pairs compare equal to nothing.
    let mut pending = 0usize;
    while i < s.len() {
        let start = i;
        while i < s.len() && !s[i].is_ascii_digit() {
            i += 1;
        }
        let letters = &s[start..i];
        let digits = digit_run(s, &mut i);
        if letters.is_empty() && digits.is_empty() {
            pending += 1;
            continue;
        }
        for _ in 0..pending {
            state.write(b"\x00\x01");
        }
        pending = 0;
        state.write(letters);
        state.write_u8(0);
        state.write(digits);
        state.write_u8(1);
    }
    state.write_u8(0xff);
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({:?})", &*self.text)
    }
}

impl FromStr for Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::process::Command;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn splits_epoch_upstream_revision() {
        let x = v("1:2.41-12+deb13u4");
        assert_eq!((x.epoch(), x.upstream(), x.revision()), (1, "2.41", Some("12+deb13u4")));
        let x = v("1.0-rc1-2");
        assert_eq!((x.upstream(), x.revision()), ("1.0-rc1", Some("2")));
        let x = v("7:1.2:3");
        assert_eq!((x.epoch(), x.upstream(), x.revision()), (7, "1.2:3", None));
        assert_eq!(v(" 1.0 ").to_string(), "1.0");
    }

    #[test]
    fn errors_name_the_bad_string() {
        assert_eq!(Version::parse("  "), Err(VersionError::Empty));
        for (bad, why) in [
            (":1.0", "epoch is empty"),
            ("a:1.0", "epoch is not a number"),
            ("1:", "upstream version is empty"),
            ("1.0-", "revision is empty"),
            ("1.0 beta", "invalid character in upstream version"),
            ("1.0-a_b", "invalid character in revision"),
            ("99999999999:1", "epoch is too big"),
        ] {
            let err = Version::parse(bad).unwrap_err();
            assert_eq!(err.to_string(), format!("bad version `{bad}`: {why}"));
        }
    }

    #[test]
    fn policy_ordering() {
        let ordered = [
            "~~",
            "~~a",
            "~",
            "0",
            "1.0~rc1",
            "1.0",
            "1.0-1",
            "1.0a",
            "1.0+dfsg-1",
            "1.0.1",
            "1.1",
            "1.10",
            "2.41-12",
            "2.41-12+deb13u4",
            "2.41-13",
            "1:0",
            "1:0.1",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn equal_versions_hash_alike() {
        use std::collections::hash_map::DefaultHasher;
        let hash = |x: &Version| {
            let mut h = DefaultHasher::new();
            x.hash(&mut h);
            h.finish()
        };
        for (a, b) in [("1.0", "0:1.0"), ("1.0", "1.0-0"), ("1.00", "1.0"), ("a0", "a"), ("1.01-01", "1.1-1")] {
            assert_eq!(v(a), v(b));
            assert_eq!(hash(&v(a)), hash(&v(b)), "{a} vs {b}");
        }
        assert_ne!(v("1.0"), v("1.0."));
    }

    const TRICKY: &[&str] = &[
        "0",
        "1",
        "1.0",
        "1.0~rc1",
        "1.0~rc1-1",
        "1.0~~",
        "1.0~",
        "1:0",
        "0:1.0",
        "1.0-0",
        "1.0+dfsg-1",
        "1.0+dfsg1-1",
        "1.0-1+b1",
        "1.0a",
        "1.0A",
        "1.0.",
        "1.0+",
        "1.00",
        "1.0-1~bpo12+1",
        "2.41-12",
        "2.41-12+deb13u4",
        "2.41-12+deb13u10",
        "1:1.3.dfsg+really1.3.1-1+b1",
        "3.0.11-1~deb12u2",
        "3.5.1-1",
        "252.39-1~deb12u1",
        "257.8-1~deb13u2",
        "10",
        "9.9",
        "1.2.3~beta+git20240101",
        "0.0~git20230101.abc123-1",
        "2:1.0",
        "1.0-1.1",
        "1.0-1a",
        "a",
        "a~",
        "z",
    ];

    fn dpkg_cmp(a: &str, b: &str) -> Ordering {
        let run = |op: &str| {
            Command::new("dpkg")
                .args(["--compare-versions", a, op, b])
                .stderr(std::process::Stdio::null())
                .status()
                .expect("dpkg is needed for this test; hint: apt-get install dpkg")
                .success()
        };
        if run("lt") {
            Ordering::Less
        } else if run("eq") {
            Ordering::Equal
        } else {
            Ordering::Greater
        }
    }

    /// Deterministic pseudo-random versions built from the characters that
    /// make ordering interesting.
    fn generated(n: usize) -> Vec<String> {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % m) as usize
        };
        let atoms = ["0", "1", "2", "10", "01", "9", ".", "~", "+", "a", "b", "Z", "~a", ".0"];
        (0..n)
            .map(|_| {
                let mut s = String::new();
                if next(5) == 0 {
                    s.push_str(["1:", "0:", "2:"][next(3)]);
                }
                s.push_str(["0", "1", "2"][next(3)]);
                (0..next(5)).for_each(|_| s.push_str(atoms[next(atoms.len() as u64)]));
                if next(2) == 0 {
                    s.push_str(["-1", "-0", "-1~", "-1+b1", "-a", "-1.1"][next(6)]);
                }
                s
            })
            .collect()
    }

    #[test]
    fn ordering_matches_dpkg() {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (i, a) in TRICKY.iter().enumerate() {
            for b in &TRICKY[i + 1..] {
                pairs.push((a.to_string(), b.to_string()));
            }
        }
        let gen = generated(400);
        pairs.extend(gen.chunks(2).map(|c| (c[0].clone(), c[1].clone())));
        assert!(pairs.len() >= 700, "{} pairs", pairs.len());
        let wrong: Vec<String> = pairs
            .iter()
            .filter_map(|(a, b)| {
                let (ours, dpkg) = (v(a).cmp(&v(b)), dpkg_cmp(a, b));
                (ours != dpkg).then(|| format!("{a} vs {b}: ours {ours:?}, dpkg {dpkg:?}"))
            })
            .collect();
        assert!(wrong.is_empty(), "disagreements with dpkg:\n{}", wrong.join("\n"));
    }

    fn version_text() -> impl Strategy<Value = String> {
        let epoch = prop::option::of(0u32..100).prop_map(|e| e.map(|e| format!("{e}:")).unwrap_or_default());
        let upstream = "[0-9][A-Za-z0-9.+~]{0,8}";
        let revision =
            prop::option::of("[A-Za-z0-9.+~]{1,6}").prop_map(|r| r.map(|r| format!("-{r}")).unwrap_or_default());
        (epoch, upstream, revision).prop_map(|(e, u, r)| format!("{e}{u}{r}"))
    }

    proptest! {
        #[test]
        fn display_round_trips(text in version_text()) {
            let parsed = Version::parse(&text).unwrap();
            prop_assert_eq!(parsed.to_string(), text.clone());
            prop_assert_eq!(Version::parse(&parsed.to_string()).unwrap(), parsed);
        }

        #[test]
        fn ordering_is_consistent(a in version_text(), b in version_text()) {
            let (a, b) = (v(&a), v(&b));
            prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
            prop_assert_eq!(a == b, a.cmp(&b) == Ordering::Equal);
        }
    }
}
