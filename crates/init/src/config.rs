//! The init configuration: what to run, as whom, and which modules to load.
//!
//! The image builder writes it with [`InitConfig::render`] to
//! [`CONFIG_PATH`]; init reads it with [`InitConfig::parse`]. The format is
//! one `key value` pair per line, with the value escaped so that any string
//! survives the round trip:
//!
//! ```text
//! arg /usr/sbin/nginx
//! arg -g
//! arg daemon off;
//! env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
//! env GREETING=hello\nworld
//! uid 33
//! gid 33
//! group 4
//! workdir /var/www
//! hostname web
//! module virtio_net /lib/modules/6.1.0/kernel/drivers/net/virtio_net.ko
//! stop-timeout 10
//! ```
//!
//! | key | value | times |
//! |---|---|---|
//! | `arg` | one element of argv, in order | any |
//! | `env` | `NAME=value`; the app's whole environment | any |
//! | `uid`, `gid` | decimal id (default 0) | at most once |
//! | `group` | decimal supplementary group id | any |
//! | `workdir` | absolute directory (default `/`) | at most once |
//! | `hostname` | host name (VM mode only) | at most once |
//! | `module` | module name, one space, absolute path of the uncompressed `.ko` | any |
//! | `stop-timeout` | seconds between SIGTERM and SIGKILL at shutdown (default 10) | at most once |
//!
//! The key is separated from the value by exactly one space; everything
//! after it is the value. Escapes: `\\`, `\n`, `\t`, `\r` and `\xHH` (an
//! ASCII byte); [`render`](InitConfig::render) also writes a leading or
//! trailing space as `\x20` so that editors cannot eat it. Blank lines and
//! lines starting with `#` are ignored; unknown keys are errors.
//!
//! ```
//! use microroot_init::config::{InitConfig, Module};
//!
//! let config = InitConfig {
//!     argv: vec!["/usr/sbin/nginx".into(), "-g".into(), "daemon off;".into()],
//!     env: vec![("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into())],
//!     modules: vec![Module { name: "virtio_net".into(), path: "/lib/modules/virtio_net.ko".into() }],
//!     ..InitConfig::default()
//! };
//! config.validate()?;
//! let text = config.render();
//! assert!(text.starts_with("arg /usr/sbin/nginx\narg -g\narg daemon off;\n"));
//! assert_eq!(InitConfig::parse(&text)?, config);
//! # Ok::<(), microroot_init::config::ConfigError>(())
//! ```

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// Where the config lives inside an image (and inside an initramfs).
pub const CONFIG_PATH: &str = "/etc/microroot/init.conf";

/// Seconds between SIGTERM and SIGKILL when stopping processes.
pub const DEFAULT_STOP_TIMEOUT_SECS: u32 = 10;

/// What init runs and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitConfig {
    /// The app's argv; `argv[0]` without a `/` is looked up in the `PATH`
    /// of [`env`](Self::env).
    pub argv: Vec<String>,
    /// The app's environment, exactly (init adds nothing).
    pub env: Vec<(String, String)>,
    /// User id the app runs as.
    pub uid: u32,
    /// Group id the app runs as.
    pub gid: u32,
    /// Supplementary groups of the app.
    pub groups: Vec<u32>,
    /// Absolute working directory of the app.
    pub workdir: String,
    /// Host name to set (VM mode); when `None` the `ip=` kernel parameter's
    /// host name field is used, if any.
    pub hostname: Option<String>,
    /// Kernel modules to load, in order, before anything else.
    pub modules: Vec<Module>,
    /// Seconds to wait after SIGTERM before SIGKILL at shutdown.
    pub stop_timeout_secs: u32,
}

/// A kernel module to load with `finit_module`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Absolute path of the uncompressed `.ko` in the image.
    pub path: String,
    /// Module name as the kernel knows it (`virtio_net`); `<name>.<param>=`
    /// items of the kernel command line become its parameters.
    pub name: String,
}

/// A line of a config that could not be read, or an item that cannot be
/// written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based line number (of the parsed text, or of the line
    /// [`render`](InitConfig::render) would write).
    pub line: usize,
    /// What is wrong, lowercase.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl core::error::Error for ConfigError {}

impl Default for InitConfig {
    fn default() -> Self {
        InitConfig {
            argv: Vec::new(),
            env: Vec::new(),
            uid: 0,
            gid: 0,
            groups: Vec::new(),
            workdir: "/".to_string(),
            hostname: None,
            modules: Vec::new(),
            stop_timeout_secs: DEFAULT_STOP_TIMEOUT_SECS,
        }
    }
}

/// One `key value` line before escaping.
struct Item<'a> {
    key: &'static str,
    /// Printed verbatim before the escaped value (a module's name).
    prefix: Option<&'a str>,
    /// The name part of an `env` value, to check on its own.
    env_name: Option<&'a str>,
    value: String,
}

impl InitConfig {
    /// The config as text, one `key value` per line.
    ///
    /// [`parse`](Self::parse) gives back an equal config for every config
    /// that [`validate`](Self::validate) accepts.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for item in self.items() {
            out.push_str(item.key);
            if item.prefix.is_some() || !item.value.is_empty() {
                out.push(' ');
            }
            if let Some(prefix) = item.prefix {
                out.push_str(prefix);
                out.push(' ');
            }
            out.push_str(&escape(&item.value));
            out.push('\n');
        }
        out
    }

    /// Checks what [`render`](Self::render) cannot represent or init could
    /// not use: env names that are empty or contain `=`, NUL bytes, relative
    /// paths, module names with whitespace.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (index, item) in self.items().iter().enumerate() {
            let fail = |message: String| Err(ConfigError { line: index + 1, message });
            if item.value.contains('\0') || item.prefix.is_some_and(|p| p.contains('\0')) {
                return fail(format!("`{}` value contains a NUL byte", item.key));
            }
            match item.key {
                "env" => {
                    let name = item.env_name.unwrap_or("");
                    if name.is_empty() {
                        return fail("env name is empty".to_string());
                    }
                    if name.contains('=') {
                        return fail(format!("env name {name:?} contains `=`"));
                    }
                }
                "workdir" if !item.value.starts_with('/') => {
                    return fail(format!("workdir {:?} is not absolute", item.value));
                }
                "module" => {
                    let name = item.prefix.unwrap_or("");
                    if name.is_empty() || name.contains(char::is_whitespace) || name.contains('\\') {
                        return fail(format!("module name {name:?} is empty or contains whitespace or `\\`"));
                    }
                    if !item.value.starts_with('/') {
                        return fail(format!("module path {:?} is not absolute", item.value));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Reads a config written by [`render`](Self::render) (or by hand).
    pub fn parse(text: &str) -> Result<InitConfig, ConfigError> {
        let mut config = InitConfig::default();
        let mut seen: Vec<&str> = Vec::new();
        for (index, raw) in text.split('\n').enumerate() {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            let fail = |message: String| ConfigError { line: index + 1, message };
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let (key, raw_value) = line.split_once(' ').unwrap_or((line, ""));
            if ["uid", "gid", "workdir", "hostname", "stop-timeout"].contains(&key) {
                if seen.contains(&key) {
                    return Err(fail(format!("`{key}` given twice")));
                }
                seen.push(key);
            }
            match key {
                "arg" => config.argv.push(unescape(raw_value).map_err(fail)?),
                "env" => {
                    let (name, value) = raw_value
                        .split_once('=')
                        .ok_or_else(|| fail(format!("env {raw_value:?} has no `=`; expected env NAME=value")))?;
                    let name = unescape(name).map_err(fail)?;
                    if name.is_empty() {
                        return Err(fail("env name is empty".to_string()));
                    }
                    config.env.push((name, unescape(value).map_err(fail)?));
                }
                "uid" => config.uid = number(key, raw_value).map_err(fail)?,
                "gid" => config.gid = number(key, raw_value).map_err(fail)?,
                "group" => config.groups.push(number(key, raw_value).map_err(fail)?),
                "workdir" => {
                    let dir = unescape(raw_value).map_err(fail)?;
                    if !dir.starts_with('/') {
                        return Err(fail(format!("workdir {dir:?} is not absolute")));
                    }
                    config.workdir = dir;
                }
                "hostname" => config.hostname = Some(unescape(raw_value).map_err(fail)?),
                "module" => config.modules.push(module(raw_value).map_err(fail)?),
                "stop-timeout" => config.stop_timeout_secs = number(key, raw_value).map_err(fail)?,
                _ => {
                    return Err(fail(format!(
                        "unknown key {key:?}; expected arg, env, uid, gid, group, workdir, hostname, module or stop-timeout"
                    )))
                }
            }
        }
        Ok(config)
    }

    /// The lines [`render`](Self::render) writes, in order.
    fn items(&self) -> Vec<Item<'_>> {
        let plain = |key, value: &str| Item { key, prefix: None, env_name: None, value: value.to_string() };
        let mut items = Vec::new();
        items.extend(self.argv.iter().map(|arg| plain("arg", arg)));
        items.extend(self.env.iter().map(|(name, value)| Item {
            key: "env",
            prefix: None,
            env_name: Some(name),
            value: format!("{name}={value}"),
        }));
        items.push(plain("uid", &self.uid.to_string()));
        items.push(plain("gid", &self.gid.to_string()));
        items.extend(self.groups.iter().map(|group| plain("group", &group.to_string())));
        items.push(plain("workdir", &self.workdir));
        items.extend(self.hostname.iter().map(|name| plain("hostname", name)));
        items.extend(self.modules.iter().map(|m| Item {
            key: "module",
            prefix: Some(&m.name),
            env_name: None,
            value: m.path.clone(),
        }));
        items.push(plain("stop-timeout", &self.stop_timeout_secs.to_string()));
        items
    }
}

fn number(key: &str, value: &str) -> Result<u32, String> {
    value.parse().map_err(|_| format!("`{key}` needs a decimal number, got {value:?}"))
}

fn module(value: &str) -> Result<Module, String> {
    let (name, path) =
        value.split_once(' ').ok_or_else(|| format!("module {value:?} needs a name and a path: module NAME PATH"))?;
    let path = unescape(path)?;
    if name.is_empty() {
        return Err("module name is empty".to_string());
    }
    if !path.starts_with('/') {
        return Err(format!("module path {path:?} is not absolute"));
    }
    Ok(Module { path, name: name.to_string() })
}

/// Escapes a value so that it fits on one line and keeps its outer spaces.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.len().saturating_sub(1);
    for (i, c) in value.char_indices() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            ' ' if i == 0 || i == last => out.push_str("\\x20"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn unescape(value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                match u8::from_str_radix(&hex, 16) {
                    Ok(byte) if hex.len() == 2 && byte.is_ascii() => out.push(char::from(byte)),
                    _ => return Err(format!("bad escape \\x{hex}: expected two hex digits of an ASCII byte")),
                }
            }
            Some(other) => return Err(format!("unknown escape \\{other}; use \\\\ for a backslash")),
            None => return Err("value ends with a lone backslash".to_string()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> InitConfig {
        InitConfig {
            argv: vec!["/usr/sbin/nginx".into(), "-g".into(), "daemon off;".into(), " two\nlines\t ".into()],
            env: vec![("PATH".into(), "/usr/bin:/bin".into()), ("EMPTY".into(), String::new())],
            uid: 33,
            gid: 34,
            groups: vec![4, 27],
            workdir: "/var/www".into(),
            hostname: Some("web".into()),
            modules: vec![Module { path: "/lib/modules/virtio_net.ko".into(), name: "virtio_net".into() }],
            stop_timeout_secs: 3,
        }
    }

    #[test]
    fn renders_the_documented_format() {
        let text = sample().render();
        assert_eq!(
            text,
            "arg /usr/sbin/nginx\narg -g\narg daemon off;\narg \\x20two\\nlines\\t\\x20\n\
             env PATH=/usr/bin:/bin\nenv EMPTY=\nuid 33\ngid 34\ngroup 4\ngroup 27\nworkdir /var/www\n\
             hostname web\nmodule virtio_net /lib/modules/virtio_net.ko\nstop-timeout 3\n"
        );
        assert_eq!(InitConfig::parse(&text).unwrap(), sample());
    }

    #[test]
    fn defaults_and_comments() {
        let config = InitConfig::parse("# app\n\narg /bin/true\r\n  # indented comment\n").unwrap();
        assert_eq!(config, InitConfig { argv: vec!["/bin/true".into()], ..InitConfig::default() });
        assert_eq!(config.workdir, "/");
        assert_eq!(config.stop_timeout_secs, 10);
        let empty_arg = InitConfig { argv: vec![String::new()], ..InitConfig::default() };
        assert_eq!(InitConfig::parse(&empty_arg.render()).unwrap(), empty_arg);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("arg a\nfoo bar\n", 2, "unknown key \"foo\""),
            ("uid 1\nuid 2\n", 2, "`uid` given twice"),
            ("uid x\n", 1, "decimal number"),
            ("env NOVALUE\n", 1, "has no `=`"),
            ("env =x\n", 1, "env name is empty"),
            ("workdir tmp\n", 1, "not absolute"),
            ("module virtio_net\n", 1, "needs a name and a path"),
            ("module m relative.ko\n", 1, "not absolute"),
            ("arg a\\q\n", 1, "unknown escape \\q"),
            ("arg a\\\n", 1, "lone backslash"),
            ("arg \\xzz\n", 1, "bad escape"),
            ("arg \\xff\n", 1, "bad escape"),
        ];
        for (text, line, message) in cases {
            let err = InitConfig::parse(text).unwrap_err();
            assert_eq!(err.line, line, "{text:?}");
            assert!(err.message.contains(message), "{text:?}: {err}");
        }
    }

    #[test]
    fn validate_rejects_what_cannot_round_trip() {
        assert_eq!(sample().validate(), Ok(()));
        let bad_env = InitConfig { env: vec![("A=B".into(), "c".into())], ..sample() };
        let err = bad_env.validate().unwrap_err();
        assert_eq!(err.line, 5);
        assert!(err.message.contains("contains `=`"), "{err}");
        let nul = InitConfig { argv: vec!["a\0b".into()], ..InitConfig::default() };
        assert!(nul.validate().unwrap_err().message.contains("NUL"));
        let module = InitConfig {
            modules: vec![Module { path: "/m.ko".into(), name: "two words".into() }],
            ..InitConfig::default()
        };
        assert!(module.validate().unwrap_err().message.contains("module name"));
        let relative = InitConfig { workdir: "srv".into(), ..InitConfig::default() };
        assert!(relative.validate().unwrap_err().message.contains("not absolute"));
    }

    fn text() -> impl Strategy<Value = String> {
        proptest::string::string_regex("(?s).{0,12}").unwrap().prop_map(|s| s.replace('\0', ""))
    }

    fn config() -> impl Strategy<Value = InitConfig> {
        let env_name = proptest::string::string_regex("[^=\\x00]{1,8}").unwrap();
        let module = ("[a-z0-9_-]{1,10}", text()).prop_map(|(name, path)| Module { path: format!("/{path}"), name });
        (
            proptest::collection::vec(text(), 0..5),
            proptest::collection::vec((env_name, text()), 0..4),
            (any::<u32>(), any::<u32>(), proptest::collection::vec(any::<u32>(), 0..3)),
            (text(), proptest::option::of(text())),
            proptest::collection::vec(module, 0..3),
            any::<u32>(),
        )
            .prop_map(|(argv, env, (uid, gid, groups), (workdir, hostname), modules, stop)| InitConfig {
                argv,
                env,
                uid,
                gid,
                groups,
                workdir: format!("/{workdir}"),
                hostname,
                modules,
                stop_timeout_secs: stop,
            })
    }

    proptest! {
        #[test]
        fn render_parse_round_trip(config in config()) {
            prop_assert_eq!(config.validate(), Ok(()));
            let text = config.render();
            prop_assert_eq!(text.matches('\n').count(), text.lines().count());
            prop_assert_eq!(InitConfig::parse(&text), Ok(config));
        }

        #[test]
        fn escape_round_trip(value in ".*") {
            let escaped = escape(&value);
            prop_assert!(!escaped.contains('\n'));
            prop_assert!(!escaped.starts_with(' ') && !escaped.ends_with(' '));
            prop_assert_eq!(unescape(&escaped), Ok(value));
        }
    }
}
