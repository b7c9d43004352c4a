//! `config.json` of an OCI runtime bundle (runtime-spec 1.0.2), shaped
//! like what `runc spec` (and `runc spec --rootless`) generates.

use serde::{Deserialize, Serialize};

use super::BundleSpec;

/// The capabilities `runc spec` grants: enough to bind low ports and
/// signal, nothing more.
const CAPS: [&str; 3] = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
const MASKED: [&str; 10] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
];
const READONLY: [&str; 5] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];
/// What Docker sets when an image has no `PATH`.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A runtime `config.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeConfig {
    pub oci_version: String,
    pub process: Process,
    pub root: Root,
    pub hostname: String,
    pub mounts: Vec<Mount>,
    pub linux: Linux,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    pub terminal: bool,
    pub user: User,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub capabilities: Capabilities,
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_gids: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub bounding: Vec<String>,
    pub effective: Vec<String>,
    pub permitted: Vec<String>,
    pub ambient: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    #[serde(rename = "type")]
    pub kind: String,
    pub hard: u64,
    pub soft: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    pub path: String,
    pub readonly: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub destination: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Linux {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uid_mappings: Vec<IdMapping>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gid_mappings: Vec<IdMapping>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<serde_json::Value>,
    pub namespaces: Vec<Namespace>,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdMapping {
    #[serde(rename = "containerID")]
    pub container_id: u32,
    #[serde(rename = "hostID")]
    pub host_id: u32,
    pub size: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    #[serde(rename = "type")]
    pub kind: String,
}

impl RuntimeConfig {
    /// The config for `spec`. With `rootless` set to the host's
    /// `(euid, egid)`, it is changed as `runc spec --rootless` changes it:
    /// a user namespace mapping container root to that user, no network
    /// namespace, `/sys` bind-mounted instead of a new sysfs, no `gid=`
    /// mount options and no cgroup resources. No cgroups path is set: the
    /// runtime picks its default.
    pub fn new(spec: &BundleSpec, rootless: Option<(u32, u32)>) -> RuntimeConfig {
        let caps = || CAPS.map(String::from).to_vec();
        let mut env = spec.env.clone();
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(0, DEFAULT_PATH.into());
        }
        let namespaces = match rootless {
            None => &["pid", "network", "ipc", "uts", "mount"][..],
            Some(_) => &["pid", "ipc", "uts", "mount", "user"][..],
        };
        let mapping = |host_id| vec![IdMapping { container_id: 0, host_id, size: 1 }];
        RuntimeConfig {
            oci_version: "1.0.2".into(),
            process: Process {
                terminal: false,
                user: User { uid: spec.uid, gid: spec.gid, additional_gids: spec.additional_gids.clone() },
                args: spec.args.clone(),
                env,
                cwd: spec.cwd.clone(),
                capabilities: Capabilities { bounding: caps(), effective: caps(), permitted: caps(), ambient: caps() },
                rlimits: vec![Rlimit { kind: "RLIMIT_NOFILE".into(), hard: 1024, soft: 1024 }],
                no_new_privileges: true,
            },
            root: Root { path: "rootfs".into(), readonly: false },
            hostname: spec.hostname.clone(),
            mounts: mounts(rootless.is_some()),
            linux: Linux {
                uid_mappings: rootless.map(|(uid, _)| mapping(uid)).unwrap_or_default(),
                gid_mappings: rootless.map(|(_, gid)| mapping(gid)).unwrap_or_default(),
                resources: rootless
                    .is_none()
                    .then(|| serde_json::json!({"devices": [{"allow": false, "access": "rwm"}]})),
                namespaces: namespaces.iter().map(|&kind| Namespace { kind: kind.into() }).collect(),
                masked_paths: MASKED.map(String::from).to_vec(),
                readonly_paths: READONLY.map(String::from).to_vec(),
            },
        }
    }
}

fn mounts(rootless: bool) -> Vec<Mount> {
    let m = |destination: &str, kind: &str, source: &str, options: &[&str]| Mount {
        destination: destination.into(),
        kind: kind.into(),
        source: source.into(),
        options: options.iter().map(|&o| o.into()).collect(),
    };
    let devpts: &[&str] = if rootless {
        &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
    } else {
        &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]
    };
    vec![
        m("/proc", "proc", "proc", &[]),
        m("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"]),
        m("/dev/pts", "devpts", "devpts", devpts),
        m("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
        m("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"]),
        if rootless {
            m("/sys", "none", "/sys", &["rbind", "nosuid", "noexec", "nodev", "ro"])
        } else {
            m("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"])
        },
        m("/sys/fs/cgroup", "cgroup", "cgroup", &["nosuid", "noexec", "nodev", "relatime", "ro"]),
    ]
}
