//! Checks a parsed manifest for values TOML accepts but a build cannot use.

use std::path::Path;

use crate::manifest::{Manifest, ManifestError, Owner};

/// Debian architectures a manifest may name.
pub const ARCHES: &[&str] = &["amd64", "arm64", "armel", "armhf", "i386", "ppc64el", "riscv64", "s390x"];

/// Output formats `[output] formats` accepts.
pub const FORMATS: &[&str] = &[
    "tar",
    "tar.gz",
    "tar.xz",
    "tar.zst",
    "ext4",
    "cpio",
    "cpio.gz",
    "cpio.xz",
    "cpio.zst",
    "cpio-list",
    "oci",
    "oci-archive",
    "docker-archive",
    "bundle",
];

/// The formats that are OCI images or runtime bundles.
pub const OCI_FORMATS: &[&str] = &["oci", "oci-archive", "docker-archive", "bundle"];

pub(crate) fn validate(m: &Manifest, path: &Path) -> Result<(), ManifestError> {
    let bad =
        |message: String, hint: &str| ManifestError::Invalid { path: path.to_owned(), message, hint: hint.to_owned() };
    if !ARCHES.contains(&m.image.arch.as_str()) {
        return Err(bad(
            format!("image.arch: unknown architecture `{}`", m.image.arch),
            &format!("use one of: {}", ARCHES.join(", ")),
        ));
    }
    if m.packages.include.is_empty() && m.base.is_none() {
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
        if !(mirror.starts_with("http://") || mirror.starts_with("https://")) {
            return Err(bad(
                format!("source.mirrors: `{mirror}` is not an http(s) URL"),
                "write the mirror's full URL, e.g. http://host/debian",
            ));
        }
    }
    let word = |v: &str| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    for (field, value) in std::iter::once(("source.suite", &m.source.suite))
        .chain(m.source.components.iter().map(|c| ("source.components", c)))
    {
        if !word(value) {
            return Err(bad(
                format!("{field}: `{value}` is not a suite or component name"),
                "use names like stable, trixie, main",
            ));
        }
    }
    let host = &m.image.hostname;
    if host.is_empty() || host.len() > 64 || !host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
        return Err(bad(
            format!("image.hostname: `{host}` is not a valid host name"),
            "use letters, digits, `-` and `.`, at most 64 characters",
        ));
    }
    if !word(&m.image.name) {
        return Err(bad(
            format!("image.name: `{}` is not a valid image name", m.image.name),
            "use letters, digits, `.`, `_` and `-`",
        ));
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
    check_boot(m, path)?;
    check_oci(m, path)?;
    check_accounts(m, path)
}

fn check_oci(m: &Manifest, path: &Path) -> Result<(), ManifestError> {
    let bad =
        |message: String, hint: &str| ManifestError::Invalid { path: path.to_owned(), message, hint: hint.to_owned() };
    for port in &m.config.ports {
        if parse_exposed_port(port).is_none() {
            return Err(bad(
                format!("config.ports: `{port}` is not a port"),
                "write a port number with an optional protocol: \"80\", \"80/tcp\" or \"53/udp\"",
            ));
        }
    }
    if let Some(tag) = &m.image.tag {
        if !is_reference(tag) {
            return Err(bad(
                format!("image.tag: `{tag}` is not an image reference"),
                "use lower-case NAME[:TAG], e.g. \"microroot/nginx:1.0\" or \"registry.example:5000/app:v2\"",
            ));
        }
    }
    if !is_reference(&m.tag()) {
        return Err(bad(
            format!("image.name: `{}` cannot name an OCI image (they are lower case)", m.image.name),
            "set image.tag, e.g. tag = \"my-image:latest\"",
        ));
    }
    if let Some(signal) = &m.config.stop_signal {
        let name = signal.strip_prefix("SIG").unwrap_or(signal);
        let known = ["TERM", "INT", "QUIT", "HUP", "KILL", "USR1", "USR2", "WINCH", "STOP"];
        if !known.contains(&name) && !name.starts_with("RTMIN") && name.parse::<u8>().is_err() {
            return Err(bad(
                format!("config.stop_signal: `{signal}` is not a signal"),
                "use a signal name such as SIGTERM or SIGQUIT",
            ));
        }
    }
    if m.output.max_layers == 0 || m.output.max_layers > 127 {
        return Err(bad(
            format!("output.max_layers: `{}` is out of range", m.output.max_layers),
            "use 1 to 127 (container runtimes stack at most 127 layers)",
        ));
    }
    if let Some(base) = &m.base {
        if base.trim().is_empty() {
            return Err(bad("base: is empty".into(), "name an OCI layout, an image archive or a registry reference"));
        }
    }
    Ok(())
}

/// `"80"`, `"80/tcp"`, `"53/udp"`, `"132/sctp"` → `"80/tcp"` and so on.
pub fn parse_exposed_port(s: &str) -> Option<String> {
    let (port, proto) = s.split_once('/').unwrap_or((s, "tcp"));
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    ["tcp", "udp", "sctp"].contains(&proto).then(|| format!("{port}/{proto}"))
}

/// A docker-style reference `[host[:port]/]path[:tag]`: lower-case path
/// components of `[a-z0-9._-]`, a tag of `[A-Za-z0-9_.-]` up to 128 chars.
pub fn is_reference(s: &str) -> bool {
    let (name, tag) = match s.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (s, None),
    };
    let tag_ok = tag.is_none_or(|t| {
        !t.is_empty()
            && t.len() <= 128
            && !t.starts_with(['.', '-'])
            && t.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    });
    let mut parts = name.split('/').collect::<Vec<_>>();
    // A first component with a `.` or `:` or `localhost` is a registry host.
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        let host = parts.remove(0);
        if !host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c)) {
            return false;
        }
    }
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
            && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
    };
    tag_ok && !parts.is_empty() && parts.iter().all(|c| component_ok(c))
}

fn check_boot(m: &Manifest, path: &Path) -> Result<(), ManifestError> {
    use crate::manifest::InitMode;
    let bad =
        |message: String, hint: &str| ManifestError::Invalid { path: path.to_owned(), message, hint: hint.to_owned() };
    if m.kernel.package.is_some() && m.kernel.path.is_some() {
        return Err(bad(
            "kernel: both `package` and `path` are set".into(),
            "use package = \"linux-image-cloud-amd64\" for a Debian kernel or path = \"bzImage\" for a local one",
        ));
    }
    if let Some(p) = m.kernel.package.as_deref().filter(|p| !p.starts_with("linux-image-")) {
        return Err(bad(
            format!("kernel.package: `{p}` is not a linux-image package"),
            "name a Debian kernel such as linux-image-cloud-amd64 or linux-image-amd64",
        ));
    }
    if let Some(m) = m.kernel.modules.iter().find(|n| n.is_empty() || n.contains(['/', ' '])) {
        return Err(bad(format!("kernel.modules: `{m}` is not a module name"), "write module names such as \"vsock\""));
    }
    if m.argv().iter().any(|a| a.contains('\0'))
        || m.config.env.iter().any(|(k, v)| k.contains(['=', '\0']) || v.contains('\0'))
    {
        return Err(bad(
            "config: an entrypoint/cmd argument or env value contains a NUL byte, or an env name contains '='".into(),
            "remove it",
        ));
    }
    match (m.init.mode, &m.init.script) {
        (Some(InitMode::Script), None) => {
            return Err(bad(
                "init: mode `script` needs `script`".into(),
                "script = \"init.sh\" names the host file to install as /sbin/init",
            ))
        }
        (Some(mode), Some(_)) if mode != InitMode::Script => {
            return Err(bad(
                "init: `script` is only used with mode = \"script\"".into(),
                "set mode = \"script\" or drop script",
            ))
        }
        _ => {}
    }
    if m.output.initramfs.is_some() && !m.output.formats.iter().any(|f| f.starts_with("cpio")) {
        return Err(bad(
            "output.initramfs is set but no cpio format is built".into(),
            "add \"cpio.zst\" (or cpio, cpio.gz, cpio.xz) to output.formats",
        ));
    }
    if m.output.initramfs == Some(crate::manifest::InitramfsKind::Stage1)
        && !m.output.formats.iter().any(|f| f == "ext4")
    {
        return Err(bad(
            "output.initramfs: a `stage1` initramfs needs the `ext4` root it mounts".into(),
            "add \"ext4\" to output.formats, or set initramfs = \"full\"",
        ));
    }
    if m.output.ext4_size != "auto" && parse_size(&m.output.ext4_size).is_none() {
        return Err(bad(
            format!("output.ext4_size: `{}` is not a size", m.output.ext4_size),
            "write \"auto\" or a size such as \"256M\", \"1G\" or a number of bytes",
        ));
    }
    for p in &m.vm.ports {
        if parse_port_forward(p).is_none() {
            return Err(bad(format!("vm.ports: `{p}` is not HOST:GUEST"), "write forwards as \"8080:80\""));
        }
    }
    if m.vm.memory < 32 || m.vm.cpus == 0 || m.vm.cpus > 64 {
        return Err(bad(
            format!("vm: memory {} MiB / cpus {} out of range", m.vm.memory, m.vm.cpus),
            "memory is at least 32 (MiB), cpus 1 to 64",
        ));
    }
    Ok(())
}

/// Parses `"256M"`, `"1G"`, `"4096K"` or a plain byte count.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let factor: u64 = match unit.trim_end_matches(['i', 'B']) {
        "" => 1,
        "K" | "k" => 1 << 10,
        "M" | "m" => 1 << 20,
        "G" | "g" => 1 << 30,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(factor).filter(|n| *n > 0)
}

/// Parses a `"HOST:GUEST"` TCP port forward.
pub fn parse_port_forward(s: &str) -> Option<(u16, u16)> {
    let (host, guest) = s.split_once(':')?;
    let host: u16 = host.parse().ok()?;
    let guest: u16 = guest.parse().ok()?;
    (host != 0 && guest != 0).then_some((host, guest))
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
    let bad =
        |message: String, hint: &str| ManifestError::Invalid { path: path.to_owned(), message, hint: hint.to_owned() };
    let valid_name = |n: &str| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    // Fields end up in colon-separated, one-per-line files.
    let valid_field = |v: &str| !v.contains([':', '\n', '\r']);
    use crate::customize::{BASE_GROUPS, BASE_USERS};
    let mut names: std::collections::BTreeSet<&str> = BASE_USERS.iter().map(|u| u.0).collect();
    let mut uids: std::collections::BTreeSet<u32> = BASE_USERS.iter().map(|u| u.1).collect();
    for u in &m.users {
        let fields = [u.home.as_deref(), u.shell.as_deref(), u.password_hash.as_deref()];
        if !valid_name(&u.name) || !names.insert(u.name.as_str()) || !uids.insert(u.uid) {
            return Err(bad(
                format!("users: `{}` (uid {}) is invalid, reserved or defined twice", u.name, u.uid),
                "user names are letters, digits, `_`, `-`, `.`; names and uids must be unique and not Debian's system accounts (root, daemon, www-data, nobody, … with uids below 100 and 65534)",
            ));
        }
        if !fields.into_iter().flatten().all(valid_field) {
            return Err(bad(
                format!("users: `{}` has a home, shell or password_hash containing `:` or a newline", u.name),
                "remove the `:` or newline",
            ));
        }
    }
    let mut group_names: std::collections::BTreeSet<&str> = BASE_GROUPS.iter().map(|g| g.0).collect();
    let mut gids: std::collections::BTreeSet<u32> = BASE_GROUPS.iter().map(|g| g.1).collect();
    for g in &m.groups {
        if !valid_name(&g.name) || !group_names.insert(g.name.as_str()) || !gids.insert(g.gid) {
            return Err(bad(
                format!("groups: `{}` (gid {}) is invalid, reserved or defined twice", g.name, g.gid),
                "group names are letters, digits, `_`, `-`, `.`, unique and not Debian's system groups (root, shadow, staff, users, nogroup, …)",
            ));
        }
        if let Some(member) = g.members.iter().find(|n| !valid_name(n)) {
            return Err(bad(
                format!("groups: `{}` has an invalid member `{member}`", g.name),
                "members are user names",
            ));
        }
    }
    Ok(())
}
