//! Switching from an initramfs to the `root=` file system.

use alloc::format;
use alloc::string::{String, ToString};
use core::time::Duration;

use crate::cmdline::Cmdline;
use crate::run::Init;
use crate::sys::{Errno, Sys, MS_MOVE, MS_RDONLY, RAMFS_MAGIC, TMPFS_MAGIC};

/// Where the real root is mounted before init moves into it.
pub const NEW_ROOT: &str = "/newroot";
/// How long to wait for the `root=` device.
pub const ROOT_WAIT: Duration = Duration::from_secs(15);
/// How often to look for a device.
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// The mounts carried from the initramfs into the real root (`/dev/pts`
/// and `/dev/shm` move with `/dev`).
const MOVED_MOUNTS: [&str; 5] = ["/dev", "/proc", "/sys", "/run", "/tmp"];

impl<S: Sys> Init<'_, S> {
    pub(crate) fn on_initramfs(&mut self) -> bool {
        matches!(self.sys.fs_type("/"), Ok(RAMFS_MAGIC | TMPFS_MAGIC))
    }

    /// Mounts `root=` at [`NEW_ROOT`], moves the API mounts into it and
    /// makes it `/` (as `switch_root` does, without deleting the
    /// initramfs).
    pub(crate) fn switch_root(&mut self, root: &str, cmdline: &Cmdline) -> Result<(), String> {
        let device = root_device(root)?;
        if !self.wait_for(|sys| sys.exists(device), ROOT_WAIT) {
            return Err(format!("root device {device} did not appear within {}s", ROOT_WAIT.as_secs()));
        }
        match self.sys.mkdir(NEW_ROOT, 0o755) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(format!("cannot create {NEW_ROOT}: {e}")),
        }
        let flags = if cmdline.root_read_only() { MS_RDONLY } else { 0 };
        let data = cmdline.get("rootflags").unwrap_or("");
        let fstypes = cmdline.get("rootfstype").unwrap_or("ext4");
        let mut last_error = Errno::EINVAL;
        let mounted = fstypes.split(',').any(|fstype| match self.sys.mount(device, NEW_ROOT, fstype, flags, data) {
            Ok(()) => true,
            Err(e) => {
                last_error = e;
                false
            }
        });
        if !mounted {
            return Err(format!("cannot mount root {device} ({fstypes}) on {NEW_ROOT}: {last_error}"));
        }
        self.debug(format_args!("mounted {device} ({fstypes}) on {NEW_ROOT}"));
        for mount in MOVED_MOUNTS {
            let target = format!("{NEW_ROOT}{mount}");
            if !self.sys.exists(&target) {
                if let Err(e) = self.sys.mkdir(&target, 0o755) {
                    self.log(format_args!("cannot create {mount} in the root file system: {e}"));
                    continue;
                }
            }
            if let Err(e) = self.sys.mount(mount, &target, "", MS_MOVE, "") {
                self.log(format_args!("cannot move {mount} into the root file system: {e}"));
            }
        }
        let step = |result: Result<(), Errno>, what: &str| result.map_err(|e| format!("switching root: {what}: {e}"));
        step(self.sys.chdir(NEW_ROOT), "chdir")?;
        step(self.sys.mount(".", "/", "", MS_MOVE, ""), "mount --move . /")?;
        step(self.sys.chroot("."), "chroot")?;
        step(self.sys.chdir("/"), "chdir /")
    }

    /// Polls `ready` every 20 ms for up to `limit`.
    pub(crate) fn wait_for(&mut self, mut ready: impl FnMut(&mut S) -> bool, limit: Duration) -> bool {
        let deadline = self.sys.now() + limit;
        loop {
            if ready(self.sys) {
                return true;
            }
            if self.sys.now() >= deadline {
                return false;
            }
            self.sys.sleep(POLL);
        }
    }
}

/// The device path of `root=`.
fn root_device(root: &str) -> Result<&str, String> {
    if root.starts_with('/') {
        return Ok(root);
    }
    let kind = ["PARTUUID=", "UUID=", "PARTLABEL=", "LABEL="].into_iter().find(|k| root.starts_with(k));
    let what = kind.map_or("this form".to_string(), |k| k.trim_end_matches('=').to_string());
    Err(format!(
        "root={root}: {what} is not supported by microroot-init\n\
         hint: name the device node, e.g. root=/dev/vda"
    ))
}
