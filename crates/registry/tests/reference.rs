//! Reference parsing against docker/distribution's normalisation, and
//! parse ↔ display round trips.

use microroot_registry::{Digest, Reference, Repository};
use proptest::prelude::*;

const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn parts(input: &str) -> (String, String, Option<String>, Option<String>) {
    let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
    (
        r.registry().to_string(),
        r.repository().name().to_string(),
        r.tag().map(Into::into),
        r.digest().map(|d| d.to_string()),
    )
}

#[test]
fn docker_normalisation() {
    let s = |x: &str| x.to_string();
    let digest = format!("sha256:{HEX}");
    let cases = [
        ("alpine", (s("docker.io"), s("library/alpine"), Some(s("latest")), None)),
        ("alpine:3.19", (s("docker.io"), s("library/alpine"), Some(s("3.19")), None)),
        ("user/app", (s("docker.io"), s("user/app"), Some(s("latest")), None)),
        ("docker.io/alpine", (s("docker.io"), s("library/alpine"), Some(s("latest")), None)),
        ("index.docker.io/user/app:v1", (s("docker.io"), s("user/app"), Some(s("v1")), None)),
        ("localhost/app", (s("localhost"), s("app"), Some(s("latest")), None)),
        ("localhost:5000/a/b/c:t", (s("localhost:5000"), s("a/b/c"), Some(s("t")), None)),
        ("Reg/app", (s("Reg"), s("app"), Some(s("latest")), None)),
        ("[::1]:5000/app", (s("[::1]:5000"), s("app"), Some(s("latest")), None)),
        ("a__b/c-d.e/f---g", (s("docker.io"), s("a__b/c-d.e/f---g"), Some(s("latest")), None)),
    ];
    for (input, want) in &cases {
        assert_eq!(parts(input), *want, "{input}");
    }
    assert_eq!(parts(&format!("alpine@{digest}")), (s("docker.io"), s("library/alpine"), None, Some(digest.clone())));
    assert_eq!(
        parts(&format!("127.0.0.1:5000/x:v2@{digest}")),
        (s("127.0.0.1:5000"), s("x"), Some(s("v2")), Some(digest.clone()))
    );
    let pinned = Reference::parse(&format!("r.io/x:v2@{digest}")).unwrap();
    assert_eq!(pinned.manifest_path_part(), digest);
    assert_eq!(Reference::parse("r.io/x:v2").unwrap().manifest_path_part(), "v2");
    assert_eq!(Reference::parse("alpine").unwrap().to_string(), "docker.io/library/alpine:latest");
    assert_eq!(Repository::parse("alpine").unwrap().api_host(), "registry-1.docker.io");
    assert_eq!(Repository::parse("quay.io/a/b").unwrap().api_host(), "quay.io");
}

#[test]
fn invalid_references() {
    let bad = [
        "",
        "UPPER",
        "docker.io/Upper",
        "a//b",
        "-a",
        "a-",
        "a..b",
        "a___b",
        "a:",
        "a:-tag",
        "a@sha256:abc",
        "a@sha512:00",
        HEX,
        "host:port/x",
        "h_st.io:5000/x",
        "[::1/x",
        "a b",
        "a/b:tag:more",
    ];
    for input in bad {
        let err = Reference::parse(input).expect_err(input);
        let text = err.to_string();
        assert!(text.starts_with(&format!("invalid image reference {input:?}: ")), "{text}");
        assert!(text.contains("\nhint: "), "{text}");
    }
    let long_tag = format!("a:{}", "t".repeat(129));
    assert!(Reference::parse(&long_tag).is_err());
    let long_name = format!("r.io/{}", "a".repeat(260));
    assert!(Reference::parse(&long_name).unwrap_err().to_string().contains("255"));
}

fn component() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,6}(([._]|__|-{1,3})[a-z0-9]{1,6}){0,2}"
}

fn registry() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("docker.io".to_string())),
        Just(Some("localhost".to_string())),
        "[a-z0-9]{1,8}(\\.[a-z0-9]{1,8}){1,2}(:[0-9]{1,5})?".prop_map(Some),
        "localhost:[0-9]{1,5}".prop_map(Some),
    ]
}

fn reference_text() -> impl Strategy<Value = String> {
    let tag = proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}");
    let digest = proptest::option::of(proptest::array::uniform32(any::<u8>()));
    (registry(), proptest::collection::vec(component(), 1..4), tag, digest).prop_map(|(reg, mut names, tag, digest)| {
        if reg.is_none() {
            // A first component with a dot would be taken for a registry.
            names[0] = names[0].replace('.', "-");
        }
        let mut s = reg.map(|r| format!("{r}/")).unwrap_or_default();
        s.push_str(&names.join("/"));
        if let Some(t) = tag {
            s.push(':');
            s.push_str(&t);
        }
        if let Some(d) = digest {
            s.push('@');
            s.push_str(&Digest::from_sha256(d).to_string());
        }
        s
    })
}

proptest! {
    #[test]
    fn display_round_trips(input in reference_text()) {
        let parsed = Reference::parse(&input).unwrap();
        let shown = parsed.to_string();
        let again = Reference::parse(&shown).unwrap();
        prop_assert_eq!(&again, &parsed);
        prop_assert_eq!(again.to_string(), shown.clone());
        // Whatever the input named survives normalisation.
        prop_assert!(shown.ends_with(input.rsplit('/').next().unwrap()) || parsed.tag() == Some("latest"));
        let repo = parsed.repository();
        prop_assert_eq!(Repository::parse(&repo.to_string()).unwrap(), repo.clone());
    }

    #[test]
    fn parse_never_panics(input in "\\PC{0,80}") {
        if let Ok(r) = Reference::parse(&input) {
            prop_assert_eq!(Reference::parse(&r.to_string()).unwrap(), r);
        }
    }
}
