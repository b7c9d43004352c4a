//! Checks a parsed manifest for values TOML accepts but a build cannot use.

use std::path::Path;

use crate::manifest::{Manifest, ManifestError, Owner};

/// Debian architectures a manifest may name.
pub const ARCHES: &[&str] = &["amd64", "arm64", "armel", "armhf", "i386", "ppc64el", "riscv64", "s390x"];

/// Output formats `[output] formats` accepts.
pub const FORMATS: &[&str] = &["tar", "tar.gz", "tar.xz", "tar.zst"];

pub(crate) fn validate(m: &Manifest, path: &Path) -> Result<(), ManifestError> {
    let bad =
        |message: String, hint: &str| ManifestError::Invalid { path: path.to_owned(), message, hint: hint.to_owned() };
    if !ARCHES.contains(&m.image.arch.as_str()) {
        return Err(bad(
            format!("image.arch: unknown architecture `{}`", m.image.arch),
            &format!("use one of: {}", ARCHES.join(", ")),
        ));
    }
    if m.packages.include.is_empty() {
        return Err(bad("packages.include is empty".into(), "name at least one package, e.g. include = [\"busybox\"]"));
    }
    for f in &m.output.formats {
        if !FORMATS.contains(&f.as_str()) {
            return Err(bad(
                format!("output.formats: unknown format `{f}`"),
                &format!("use one of: {}", FORMATS.join(", ")),
            ));
        }
    }
    for mirror in &m.source.mirrors {
        if !(mirror.starts_with("http://") || mirror.starts_with("https://") || mirror.starts_with("file://")) {
            return Err(bad(
                format!("source.mirrors: `{mirror}` is not an http(s) or file URL"),
                "write the mirror's full URL, e.g. http://host/debian",
            ));
        }
    }
    for pattern in m.prune.exclude.iter() {
        if !pattern.starts_with('/') {
            return Err(bad(
                format!("prune.exclude: `{pattern}` is not an absolute path pattern"),
                "start patterns with /, e.g. \"/usr/share/doc/**\"",
            ));
        }
        globset::Glob::new(pattern)
            .map_err(|e| bad(format!("prune.exclude: `{pattern}`: {e}"), "see docs/manifest.md for glob syntax"))?;
    }
    for f in &m.files {
        check_abs(&f.path, "files", path)?;
        check_owner(&f.owner, &f.path, path)?;
        if f.content.is_some() == f.source.is_some() {
            return Err(bad(
                format!("files: `{}` needs exactly one of `content` or `source`", f.path),
                "content = \"text\" for inline text, source = \"path/on/host\" to copy a file",
            ));
        }
    }
    for d in &m.dirs {
        check_abs(&d.path, "dirs", path)?;
        check_owner(&d.owner, &d.path, path)?;
    }
    for s in &m.symlinks {
        check_abs(&s.path, "symlinks", path)?;
    }
    for d in &m.devices {
        check_abs(&d.path, "devices", path)?;
        check_owner(&d.owner, &d.path, path)?;
        if !["char", "block", "fifo"].contains(&d.kind.as_str()) {
            return Err(bad(
                format!("devices: `{}` has unknown type `{}`", d.path, d.kind),
                "type is one of: char, block, fifo",
            ));
        }
    }
    check_accounts(m, path)
}

fn check_abs(p: &str, table: &str, path: &Path) -> Result<(), ManifestError> {
    if p.starts_with('/') && microroot_tree::TreePath::new(p).is_ok_and(|t| !t.is_root()) {
        return Ok(());
    }
    Err(ManifestError::Invalid {
        path: path.to_owned(),
        message: format!("{table}: path `{p}` must be absolute and inside the image"),
        hint: "write it as it will appear in the image, e.g. \"/etc/motd\"".into(),
    })
}

fn check_owner(owner: &Owner, p: &str, path: &Path) -> Result<(), ManifestError> {
    match &owner.mode {
        Some(mode) if parse_mode(mode).is_none() => Err(ManifestError::Invalid {
            path: path.to_owned(),
            message: format!("`{p}`: mode `{mode}` is not an octal permission"),
            hint: "write modes as quoted octal strings, e.g. mode = \"0644\"".into(),
        }),
        _ => Ok(()),
    }
}

/// Parses `"0755"`-style octal permissions (at most 0o7777).
pub fn parse_mode(s: &str) -> Option<u32> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8).ok().filter(|m| *m <= 0o7777)
}

fn check_accounts(m: &Manifest, path: &Path) -> Result<(), ManifestError> {
    let mut names = std::collections::BTreeSet::new();
    let mut uids = std::collections::BTreeSet::new();
    for u in &m.users {
        let valid = !u.name.is_empty() && u.name.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !valid || !names.insert(u.name.as_str()) || !uids.insert(u.uid) {
            return Err(ManifestError::Invalid {
                path: path.to_owned(),
                message: format!("users: `{}` (uid {}) is invalid or defined twice", u.name, u.uid),
                hint: "user names are letters, digits, `_`, `-`, `.`; names and uids must be unique".into(),
            });
        }
    }
    Ok(())
}
