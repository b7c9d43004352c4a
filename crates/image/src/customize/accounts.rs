use std::collections::BTreeMap;

use microroot_tree::Tree;

use crate::manifest::Manifest;

use super::put;

/// Debian's fixed gid of the `shadow` group (base-passwd).
const SHADOW_GID: u32 = 42;

struct Group {
    gid: u32,
    members: Vec<String>,
}

/// Writes /etc/passwd, group, shadow and gshadow: root, nobody/nogroup and
/// the manifest's users and groups. Passwords are locked (`*`) unless the
/// manifest gives a hash.
pub fn accounts(tree: &mut Tree, manifest: &Manifest) -> Result<(), super::CustomizeError> {
    let mut passwd = String::from("root:x:0:0:root:/root:/bin/sh\n");
    let mut shadow = String::from("root:*:0:0:99999:7:::\n");
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    groups.insert("root".into(), Group { gid: 0, members: vec![] });
    groups.insert("shadow".into(), Group { gid: SHADOW_GID, members: vec![] });
    groups.insert("nogroup".into(), Group { gid: 65534, members: vec![] });
    for g in &manifest.groups {
        groups.insert(g.name.clone(), Group { gid: g.gid, members: g.members.clone() });
    }
    for u in &manifest.users {
        let gid = u.gid.unwrap_or(u.uid);
        if !groups.values().any(|g| g.gid == gid) {
            groups.insert(u.name.clone(), Group { gid, members: vec![] });
        }
        let home = u.home.clone().unwrap_or_else(|| format!("/home/{}", u.name));
        let shell = u.shell.as_deref().unwrap_or("/bin/sh");
        passwd.push_str(&format!("{}:x:{}:{gid}:{}:{home}:{shell}\n", u.name, u.uid, u.name));
        let hash = u.password_hash.as_deref().unwrap_or("*");
        shadow.push_str(&format!("{}:{hash}:0:0:99999:7:::\n", u.name));
    }
    passwd.push_str("nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
    shadow.push_str("nobody:*:0:0:99999:7:::\n");

    let mut sorted: Vec<_> = groups.iter().collect();
    sorted.sort_by_key(|(_, g)| g.gid);
    let group: String =
        sorted.iter().map(|(name, g)| format!("{name}:x:{}:{}\n", g.gid, g.members.join(","))).collect();
    let gshadow: String = sorted.iter().map(|(name, g)| format!("{name}:*::{}\n", g.members.join(","))).collect();

    put(tree, "etc/passwd", 0o644, passwd)?;
    put(tree, "etc/group", 0o644, group)?;
    put(tree, "etc/shadow", 0o640, shadow)?;
    put(tree, "etc/gshadow", 0o640, gshadow)?;
    // root:shadow 0640, as Debian has them, so setgid-shadow tools work.
    for path in ["etc/shadow", "etc/gshadow"] {
        if let Some(e) = tree.get_mut(&microroot_tree::TreePath::new(path).expect("static path")) {
            e.meta.gid = SHADOW_GID;
        }
    }
    Ok(())
}
