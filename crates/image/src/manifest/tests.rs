use std::path::Path;

use proptest::prelude::*;

use super::*;

fn parse(text: &str) -> Result<Manifest, ManifestError> {
    Manifest::parse(text, Path::new("m.toml"))
}

#[test]
fn default_manifest_is_the_base_image() {
    let m = Manifest::default_base();
    assert_eq!(m.packages.include, ["busybox", "libc6", "libgcc-s1"]);
    assert_eq!(m.source.suite, "stable");
    assert!(m.source.mirrors.is_empty(), "the default must take the mirror from the host");
    assert_eq!(m.output.formats, ["tar.xz"]);
}

#[test]
fn syntax_errors_point_at_line_and_column() {
    let err = parse("[packages]\ninclude = [busybox]\n").unwrap_err().to_string();
    assert!(err.starts_with("m.toml:2:12:"), "{err}");
    assert!(err.contains("hint: strings need quotes"), "{err}");
    assert!(err.contains("include = [busybox]"), "{err}");
}

#[test]
fn unknown_keys_are_errors_with_a_hint() {
    let err = parse("[pakages]\ninclude = [\"busybox\"]\n").unwrap_err().to_string();
    assert!(err.contains("m.toml:1:"), "{err}");
    assert!(err.contains("unknown field `pakages`"), "{err}");
    assert!(err.contains("hint: check the spelling"), "{err}");
}

#[test]
fn semantic_errors_name_the_field_and_fix() {
    let cases = [
        ("[image]\narch = \"amd65\"\n[packages]\ninclude = [\"a\"]", "unknown architecture `amd65`"),
        ("[packages]\ninclude = []", "packages.include is empty"),
        ("[packages]\ninclude = [\"a\"]\n[output]\nformats = [\"zip\"]", "unknown format `zip`"),
        ("[packages]\ninclude = [\"a\"]\n[[files]]\npath = \"etc/x\"\ncontent = \"\"", "must be absolute"),
        ("[packages]\ninclude = [\"a\"]\n[[files]]\npath = \"/x\"\ncontent = \"\"\nmode = \"999\"", "not an octal"),
        ("[packages]\ninclude = [\"a\"]\n[[files]]\npath = \"/x\"", "exactly one of `content` or `source`"),
        ("[packages]\ninclude = [\"a\"]\n[prune]\nexclude = [\"usr/**\"]", "not an absolute path pattern"),
        ("[packages]\ninclude = [\"a\"]\n[source]\nmirrors = [\"ftp://x\"]", "not an http(s) URL"),
        (
            "[packages]\ninclude = [\"a\"]\n[[users]]\nname = \"app\"\nuid = 1007\nshell = \"/bin/sh:x\"",
            "containing `:`",
        ),
        ("[packages]\ninclude = [\"a\"]\n[[users]]\nname = \"root\"\nuid = 1007", "reserved or defined twice"),
        ("[packages]\ninclude = [\"a\"]\n[[users]]\nname = \"app\"\nuid = 33", "reserved or defined twice"),
        ("[packages]\ninclude = [\"a\"]\n[[groups]]\nname = \"g\"\ngid = 42", "reserved or defined twice"),
        ("[image]\nhostname = \"a b\"\n[packages]\ninclude = [\"a\"]", "not a valid host name"),
        ("[source]\nsuite = \"../x\"\n[packages]\ninclude = [\"a\"]", "not a suite or component name"),
        ("[packages]\ninclude = [\"a\"]\n[[files]]\npath = \"/../x\"\ncontent = \"\"", "inside the image"),
        ("[packages]\ninclude = [\"a\"]\n[config]\nports = [\"80/icmp\"]", "`80/icmp` is not a port"),
        ("[packages]\ninclude = [\"a\"]\n[image]\ntag = \"Bad/Name\"", "not an image reference"),
        ("[packages]\ninclude = [\"a\"]\n[image]\nname = \"Big\"", "cannot name an OCI image"),
        ("[packages]\ninclude = [\"a\"]\n[config]\nstop_signal = \"SIGFOO\"", "not a signal"),
        ("[packages]\ninclude = [\"a\"]\n[output]\nmax_layers = 500", "out of range"),
    ];
    for (text, wanted) in cases {
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains(wanted), "{text:?}: {err}");
        assert!(err.contains("hint:"), "{text:?}: {err}");
    }
}

fn word() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,12}"
}

fn abs_path() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z0-9_.]{1,8}", 1..4)
        .prop_map(|parts| format!("/{}", parts.join("/")))
        .prop_filter("no dot components", |p| !p.split('/').any(|c| c == "." || c == ".."))
}

prop_compose! {
    fn manifest()(
        name in word(), hostname in word(), epoch in prop::option::of(0i64..4_000_000_000),
        suite in word(), packages in prop::collection::vec(word(), 1..5),
        defaults in any::<bool>(), excludes in prop::collection::vec(abs_path(), 0..3),
        files in prop::collection::vec((abs_path(), ".{0,20}", 0u32..0o7777), 0..3),
        links in prop::collection::vec((abs_path(), ".{1,20}"), 0..3),
        env in prop::collection::btree_map("[A-Z_]{1,8}", "[^\u{0}]{0,16}", 0..3),
        cmd in prop::collection::vec("[^\u{0}]{1,10}", 0..3),
    ) -> Manifest {
        let mut m = Manifest::default_base();
        m.image = Image { name, arch: "arm64".into(), hostname, epoch, tag: None };
        m.source.suite = suite;
        m.packages.include = packages;
        m.prune = Prune { defaults, exclude: excludes };
        m.files = files.into_iter().map(|(path, content, mode)| FileSpec {
            path, content: Some(content), source: None,
            owner: Owner { mode: Some(format!("{mode:04o}")), uid: Some(mode), gid: None },
        }).collect();
        m.symlinks = links.into_iter().map(|(path, target)| SymlinkSpec { path, target }).collect();
        m.config.env = env;
        m.config.cmd = cmd;
        m
    }
}

proptest! {
    #[test]
    fn serialize_then_parse_round_trips(m in manifest()) {
        let text = toml::to_string(&m).unwrap();
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back, m);
    }
}

#[test]
fn oci_settings_parse_and_default() {
    let m = parse(
        "base = \"base.oci.tar\"\n[image]\nname = \"web\"\n[config]\nports = [\"80\", \"53/udp\"]\nlabels = { a = \"b\" }\n[output]\nformats = [\"oci\", \"docker-archive\"]\nlayers = \"packages\"\n",
    )
    .unwrap();
    assert!(m.is_oci() && !m.is_vm());
    assert_eq!(m.tag(), "web:latest");
    assert_eq!(m.output.layers, LayerMode::Packages);
    assert_eq!(m.output.max_layers, 64);
    assert_eq!(m.base.as_deref(), Some("base.oci.tar"));
    let ports: Vec<_> = m.config.ports.iter().filter_map(|p| crate::validate::parse_exposed_port(p)).collect();
    assert_eq!(ports, ["80/tcp", "53/udp"]);
    for good in ["nginx", "a/b:1.0", "localhost:5000/x/y:v2", "registry.example/app", "x:latest"] {
        assert!(crate::validate::is_reference(good), "{good}");
    }
    for bad in ["", "A", "a:", "a//b", "-a", "a:.x", "a/B"] {
        assert!(!crate::validate::is_reference(bad), "{bad}");
    }
}

#[test]
fn validation_errors_point_at_the_value() {
    let err = parse("[packages]\ninclude = [\"a\"]\n\n[image]\narch = \"amd65\"\n").unwrap_err().to_string();
    assert!(err.starts_with("m.toml:5:8: image.arch: unknown architecture `amd65`"), "{err}");
    assert!(err.contains("  | arch = \"amd65\""), "{err}");
}
