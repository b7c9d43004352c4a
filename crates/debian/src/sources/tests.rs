//! Real-format apt source files in temp dirs, plus the host's own config.

use super::*;

const DEB822: &str = "\
Types: deb deb-src
# a comment inside the stanza
URIs: http://mirror.example/debian/
Suites: trixie trixie-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
Enabled: no
URIs: http://disabled.example/debian
Suites: sid
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: trixie
Components: main

Types: deb
URIs: https://vendor.example/apt
Suites: stable
Components: main
Architectures: amd64 arm64
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mDMEZabc
 -----END PGP PUBLIC KEY BLOCK-----
";

const ONE_LINE: &str = "\
# comment
deb http://old.example/debian bookworm main non-free-firmware
deb-src http://old.example/debian bookworm main
deb [arch=amd64 signed-by=/etc/apt/keyrings/vendor.gpg] https://vendor.example/repo stable main # trailing
deb [ trusted=yes ] file:/srv/repo ./
";

fn root_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

#[test]
fn reads_deb822_files() {
    let root = root_with(&[("etc/apt/sources.list.d/debian.sources", DEB822)]);
    let sources = read_sources(root.path()).unwrap();
    assert_eq!(sources.len(), 3, "{sources:#?}");
    assert_eq!(sources[0].suites, ["trixie", "trixie-updates"]);
    assert_eq!(sources[0].components, ["main", "contrib"]);
    assert_eq!(sources[0].line, 1);
    assert_eq!(
        sources[0].signed_by,
        Some(SignedBy::Keyrings(vec!["/usr/share/keyrings/debian-archive-keyring.gpg".into()]))
    );
    assert_eq!(sources[2].architectures, ["amd64", "arm64"]);
    let Some(SignedBy::Inline(key)) = &sources[2].signed_by else { panic!("{:?}", sources[2].signed_by) };
    assert_eq!(key, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEZabc\n-----END PGP PUBLIC KEY BLOCK-----\n");
}

#[test]
fn reads_one_line_files_in_apt_order() {
    let root = root_with(&[
        ("etc/apt/sources.list", ONE_LINE),
        ("etc/apt/sources.list.d/b.list", "deb http://b.example/debian trixie main\n"),
        (
            "etc/apt/sources.list.d/a.sources",
            "Types: deb\nURIs: http://a.example/debian\nSuites: sid\nComponents: main\n",
        ),
        ("etc/apt/sources.list.d/c.list.disabled-by-farm", "deb http://c.example/debian trixie main\n"),
        ("etc/apt/sources.list.d/d.sources.save", "Types: deb\nURIs: http://d.example/x\nSuites: x\n"),
    ]);
    let sources = read_sources(root.path()).unwrap();
    let uris: Vec<&str> = sources.iter().map(|s| s.uris[0].as_str()).collect();
    assert_eq!(
        uris,
        [
            "http://old.example/debian",
            "https://vendor.example/repo",
            "file:/srv/repo",
            "http://a.example/debian",
            "http://b.example/debian"
        ]
    );
    assert_eq!(sources[1].architectures, ["amd64"]);
    assert_eq!(sources[1].signed_by, Some(SignedBy::Keyrings(vec!["/etc/apt/keyrings/vendor.gpg".into()])));
    assert_eq!((sources[1].line, sources[1].components.as_slice()), (4, &["main".to_owned()][..]));
    assert_eq!((sources[2].suites[0].as_str(), sources[2].components.len()), ("./", 0));
}

#[test]
fn a_missing_config_is_empty() {
    let root = tempfile::tempdir().unwrap();
    assert!(read_sources(root.path()).unwrap().is_empty());
}

#[test]
fn picks_the_primary_archive() {
    let root = root_with(&[("etc/apt/sources.list.d/debian.sources", DEB822)]);
    let mirror = primary_mirror(&read_sources(root.path()).unwrap()).unwrap();
    assert_eq!(mirror.uri, "http://mirror.example/debian");
    assert_eq!(mirror.suite, "trixie");
    assert_eq!(mirror.components, ["main", "contrib"]);
    // Security and vendor repositories alone are not the archive.
    let text = "deb http://s.example/debian-security trixie-security main\n\
                deb http://u.example/debian trixie-updates main\n\
                deb http://v.example/apt stable main\n";
    let sources = parse_one_line(text, Path::new("x.list")).unwrap();
    assert_eq!(primary_mirror(&sources), None);
}

#[test]
fn errors_name_file_and_line() {
    let path = Path::new("/etc/apt/sources.list");
    let err = parse_one_line("deb http://x.example/debian\n", path).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/etc/apt/sources.list:1: expected `deb uri suite [component…]`\nhint: see sources.list(5) for the format"
    );
    let err = parse_one_line("\nrpm http://x/ a b\n", path).unwrap_err().to_string();
    assert!(err.starts_with("/etc/apt/sources.list:2: the type must be `deb` or `deb-src`"), "{err}");
    let err = parse_deb822("Types: deb\nSuites: sid\n", Path::new("a.sources")).unwrap_err().to_string();
    assert!(err.starts_with("a.sources:1: a `deb` entry needs `URIs` and `Suites`"), "{err}");
}

#[test]
fn reads_the_host_config() {
    let sources = host_sources().expect("the host's apt sources parse");
    if Path::new("/etc/apt/sources.list.d").exists() && !sources.is_empty() {
        let mirror = primary_mirror(&sources);
        assert!(mirror.is_some(), "no primary Debian mirror among {sources:#?}");
    }
}
