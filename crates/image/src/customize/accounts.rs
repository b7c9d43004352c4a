//! /etc/passwd, group, shadow and gshadow: Debian's fixed system accounts
//! (what base-passwd installs, so packages find `www-data`, `daemon`,
//! `staff`, … as on any Debian system) followed by the manifest's own.

use microroot_tree::{Tree, TreePath};

use crate::manifest::Manifest;

use super::put;

/// Debian's fixed gid of the `shadow` group, which owns the shadow files.
const SHADOW_GID: u32 = 42;

const NOLOGIN: &str = "/usr/sbin/nologin";

/// name, uid, gid, gecos, home, shell (`None`: nologin).
type UserRow = (&'static str, u32, u32, &'static str, &'static str, Option<&'static str>);

/// base-passwd's users.
pub(crate) const BASE_USERS: &[UserRow] = &[
    ("root", 0, 0, "root", "/root", Some("/bin/sh")),
    ("daemon", 1, 1, "daemon", "/usr/sbin", None),
    ("bin", 2, 2, "bin", "/bin", None),
    ("sys", 3, 3, "sys", "/dev", None),
    ("sync", 4, 65534, "sync", "/bin", Some("/bin/sync")),
    ("games", 5, 60, "games", "/usr/games", None),
    ("man", 6, 12, "man", "/var/cache/man", None),
    ("lp", 7, 7, "lp", "/var/spool/lpd", None),
    ("mail", 8, 8, "mail", "/var/mail", None),
    ("news", 9, 9, "news", "/var/spool/news", None),
    ("uucp", 10, 10, "uucp", "/var/spool/uucp", None),
    ("proxy", 13, 13, "proxy", "/bin", None),
    ("www-data", 33, 33, "www-data", "/var/www", None),
    ("backup", 34, 34, "backup", "/var/backups", None),
    ("list", 38, 38, "Mailing List Manager", "/var/list", None),
    ("irc", 39, 39, "ircd", "/run/ircd", None),
    ("nobody", 65534, 65534, "nobody", "/nonexistent", None),
];

/// base-passwd's groups: name, gid.
pub(crate) const BASE_GROUPS: &[(&str, u32)] = &[
    ("root", 0),
    ("daemon", 1),
    ("bin", 2),
    ("sys", 3),
    ("adm", 4),
    ("tty", 5),
    ("disk", 6),
    ("lp", 7),
    ("mail", 8),
    ("news", 9),
    ("uucp", 10),
    ("man", 12),
    ("proxy", 13),
    ("kmem", 15),
    ("dialout", 20),
    ("fax", 21),
    ("voice", 22),
    ("cdrom", 24),
    ("floppy", 25),
    ("tape", 26),
    ("sudo", 27),
    ("audio", 29),
    ("dip", 30),
    ("www-data", 33),
    ("backup", 34),
    ("operator", 37),
    ("list", 38),
    ("irc", 39),
    ("src", 40),
    ("shadow", SHADOW_GID),
    ("utmp", 43),
    ("video", 44),
    ("sasl", 45),
    ("plugdev", 46),
    ("staff", 50),
    ("games", 60),
    ("users", 100),
    ("nogroup", 65534),
];

/// Writes the four files. Passwords are locked (`*`) unless the manifest
/// gives a hash; a manifest user gets a group of its own name unless its
/// gid names an existing group.
pub fn accounts(tree: &mut Tree, manifest: &Manifest) -> Result<(), super::CustomizeError> {
    let (mut passwd, mut shadow) = (String::new(), String::new());
    for (name, uid, gid, gecos, home, shell) in BASE_USERS {
        passwd.push_str(&format!("{name}:x:{uid}:{gid}:{gecos}:{home}:{}\n", shell.unwrap_or(NOLOGIN)));
        shadow.push_str(&format!("{name}:*:0:0:99999:7:::\n"));
    }
    let mut groups: Vec<(String, u32, Vec<String>)> =
        BASE_GROUPS.iter().map(|(n, g)| (n.to_string(), *g, Vec::new())).collect();
    groups.extend(manifest.groups.iter().map(|g| (g.name.clone(), g.gid, g.members.clone())));
    for u in &manifest.users {
        let gid = u.gid.unwrap_or(u.uid);
        if !groups.iter().any(|g| g.1 == gid) {
            groups.push((u.name.clone(), gid, Vec::new()));
        }
        let home = u.home.clone().unwrap_or_else(|| format!("/home/{}", u.name));
        let shell = u.shell.as_deref().unwrap_or("/bin/sh");
        passwd.push_str(&format!("{}:x:{}:{gid}:{}:{home}:{shell}\n", u.name, u.uid, u.name));
        let hash = u.password_hash.as_deref().unwrap_or("*");
        shadow.push_str(&format!("{}:{hash}:0:0:99999:7:::\n", u.name));
    }
    groups.sort_by_key(|g| g.1);
    let group: String = groups.iter().map(|(n, gid, m)| format!("{n}:x:{gid}:{}\n", m.join(","))).collect();
    let gshadow: String = groups.iter().map(|(n, _, m)| format!("{n}:*::{}\n", m.join(","))).collect();

    put(tree, "etc/passwd", 0o644, passwd)?;
    put(tree, "etc/group", 0o644, group)?;
    put(tree, "etc/shadow", 0o640, shadow)?;
    put(tree, "etc/gshadow", 0o640, gshadow)?;
    // root:shadow 0640, as Debian has them, so setgid-shadow tools work.
    for path in ["etc/shadow", "etc/gshadow"] {
        if let Some(e) = tree.get_mut(&TreePath::new(path).expect("static path")) {
            e.meta.gid = SHADOW_GID;
        }
    }
    Ok(())
}
