//! The kernel command line (`/proc/cmdline`) as init reads it.
//!
//! Words are split at spaces outside double quotes and the quotes dropped,
//! as the kernel does; everything after a lone `--` belongs to init's argv
//! and is ignored here. For a key given twice the last one wins.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// Parsed kernel parameters, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cmdline {
    params: Vec<(String, Option<String>)>,
}

impl Cmdline {
    /// Splits `/proc/cmdline` into `key` and `key=value` items.
    pub fn parse(text: &str) -> Cmdline {
        let mut params = Vec::new();
        for word in split_words(text) {
            if word == "--" {
                break;
            }
            match word.split_once('=') {
                Some((key, value)) => params.push((key.to_string(), Some(value.to_string()))),
                None => params.push((word, None)),
            }
        }
        Cmdline { params }
    }

    /// The value of the last `key=value` item.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.iter().rev().find(|(k, v)| k == key && v.is_some()).and_then(|(_, v)| v.as_deref())
    }

    /// Whether a bare `flag` (or `flag=...`) item is present.
    pub fn has(&self, flag: &str) -> bool {
        self.params.iter().any(|(k, _)| k == flag)
    }

    /// Whether the root file system is to be mounted read-only: the last
    /// of `ro` and `rw` wins, and without either it is read-write (the
    /// kernel's own default is read-only, but a microVM's root disk is
    /// usually the app's only writable storage).
    pub fn root_read_only(&self) -> bool {
        self.params.iter().rev().find(|(k, v)| v.is_none() && (k == "ro" || k == "rw")).is_some_and(|(k, _)| k == "ro")
    }

    /// Whether `microroot.debug` asks for verbose logs.
    pub fn debug(&self) -> bool {
        self.has("microroot.debug")
    }

    /// Parameters for a module, as `modprobe` would pass them: every
    /// `<module>.<param>[=<value>]` item, names compared with `-` and `_`
    /// equal, joined by spaces, values with spaces in double quotes.
    pub fn module_params(&self, module: &str) -> String {
        let wanted = normalize(module);
        let mut out = String::new();
        for (key, value) in &self.params {
            let Some((name, param)) = key.split_once('.') else { continue };
            if param.is_empty() || normalize(name) != wanted {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(param);
            if let Some(value) = value {
                out.push('=');
                if value.contains(char::is_whitespace) {
                    out.push('"');
                    out.push_str(value);
                    out.push('"');
                } else {
                    out.push_str(value);
                }
            }
        }
        out
    }
}

fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_quotes = false;
    let mut started = false;
    for c in text.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                started = true;
            }
            c if c.is_whitespace() && !in_quotes => {
                if started {
                    words.push(core::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_the_kernel() {
        let cmdline = Cmdline::parse("console=ttyS0 root=/dev/vda ro  quiet foo=\"a b\" \"x=y z\" -- init args=1\n");
        assert_eq!(cmdline.get("console"), Some("ttyS0"));
        assert_eq!(cmdline.get("root"), Some("/dev/vda"));
        assert_eq!(cmdline.get("foo"), Some("a b"));
        assert_eq!(cmdline.get("x"), Some("y z"));
        assert!(cmdline.has("quiet"));
        assert!(!cmdline.has("init"));
        assert_eq!(cmdline.get("args"), None);
        assert_eq!(cmdline.get("quiet"), None);
    }

    #[test]
    fn last_value_wins_and_rw_is_the_default() {
        let cmdline = Cmdline::parse("root=/dev/vda root=/dev/vdb ro rw");
        assert_eq!(cmdline.get("root"), Some("/dev/vdb"));
        assert!(!cmdline.root_read_only());
        assert!(Cmdline::parse("rw ro").root_read_only());
        assert!(!Cmdline::parse("").root_read_only());
        assert!(!Cmdline::parse("ro=1").root_read_only());
    }

    #[test]
    fn module_params_match_dash_and_underscore() {
        let cmdline = Cmdline::parse(
            "virtio-net.napi_tx=1 console=ttyS0 virtio_net.name=\"a b\" loop.max_loop=8 virtio_net.flag \
             virtio_netx.no=1 .bad=1 virtio_net.=1 microroot.debug",
        );
        assert_eq!(cmdline.module_params("virtio_net"), "napi_tx=1 name=\"a b\" flag");
        assert_eq!(cmdline.module_params("virtio-net"), "napi_tx=1 name=\"a b\" flag");
        assert_eq!(cmdline.module_params("loop"), "max_loop=8");
        assert_eq!(cmdline.module_params("ext4"), "");
        assert!(cmdline.debug());
    }
}
