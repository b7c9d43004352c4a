//! A module's `.modinfo` section: NUL-separated `key=value` strings that
//! `modpost` writes (`depends=`, `alias=`, `softdep=`, `license=`, ...),
//! plus the name and pattern rules kmod applies to them.

use crate::elf;

/// What a module says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModInfo {
    /// Modules that must be loaded first (`depends=a,b`), normalized.
    pub depends: Vec<String>,
    /// Names or aliases to load before this module if they exist
    /// (`softdep=pre: x y`).
    pub softdep_pre: Vec<String>,
    /// Names or aliases to load after it (`softdep=post: z`).
    pub softdep_post: Vec<String>,
    /// Each `softdep=` value verbatim, for `modules.softdep`.
    pub softdeps: Vec<String>,
    /// `alias=` patterns verbatim, in section order.
    pub aliases: Vec<String>,
}

impl ModInfo {
    /// Parses the contents of a `.modinfo` section.
    pub fn parse(section: &[u8]) -> ModInfo {
        let mut info = ModInfo::default();
        for entry in section.split(|&b| b == 0).filter(|e| !e.is_empty()) {
            let entry = String::from_utf8_lossy(entry);
            let Some((key, value)) = entry.split_once('=') else { continue };
            match key {
                "depends" => {
                    info.depends.extend(value.split(',').filter(|d| !d.is_empty()).map(normalize_name));
                }
                "alias" => info.aliases.push(value.to_owned()),
                "softdep" => {
                    let (pre, post) = parse_softdep(value);
                    info.softdep_pre.extend(pre);
                    info.softdep_post.extend(post);
                    info.softdeps.push(value.to_owned());
                }
                _ => {}
            }
        }
        info
    }

    /// Reads the `.modinfo` section of a module's (decompressed) ELF file;
    /// the error names what is wrong with the file.
    pub fn from_module(module: &[u8]) -> Result<ModInfo, String> {
        let header = elf::header(module)?;
        if header.e_type != elf::ET_REL {
            return Err(format!("ELF type {} is not a relocatable object", header.e_type));
        }
        let section = elf::section(module, &header, ".modinfo")?.ok_or("it has no .modinfo section")?;
        Ok(ModInfo::parse(section))
    }
}

/// The symbols a module exports (`__ksymtab_strings`) and the undefined
/// symbols it imports, in symbol-table order. depmod derives dependencies
/// from them; here they only order dependencies the way depmod does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Symbols {
    pub exports: Vec<String>,
    pub imports: Vec<String>,
}

impl Symbols {
    /// Reads both lists from a module's ELF file.
    pub fn from_module(module: &[u8]) -> Result<Symbols, String> {
        let header = elf::header(module)?;
        let exports = elf::section(module, &header, "__ksymtab_strings")?.unwrap_or_default();
        let exports = exports.split(|&b| b == 0).filter(|s| !s.is_empty());
        Ok(Symbols {
            exports: exports.map(|s| String::from_utf8_lossy(s).into_owned()).collect(),
            imports: elf::undefined_symbols(module, &header)?.into_iter().map(str::to_owned).collect(),
        })
    }
}

/// `pre: a b post: c` → (`[a, b]`, `[c]`), the way kmod reads `softdep`.
fn parse_softdep(value: &str) -> (Vec<String>, Vec<String>) {
    let (mut pre, mut post) = (Vec::new(), Vec::new());
    let mut target = None;
    for word in value.split_whitespace() {
        match word {
            "pre:" => target = Some(&mut pre),
            "post:" => target = Some(&mut post),
            name => {
                if let Some(list) = target.as_deref_mut() {
                    list.push(name.to_owned());
                }
            }
        }
    }
    (pre, post)
}

/// A module name as kmod compares it: `-` becomes `_`.
pub fn normalize_name(name: &str) -> String {
    name.replace('-', "_")
}

/// The module name of a file in a modules directory:
/// `kernel/drivers/nvme/host/nvme-core.ko.xz` → `nvme_core`.
pub fn name_of_path(path: &str) -> Option<String> {
    let file = path.rsplit('/').next()?;
    let stem = file.split_once(".ko").map(|(stem, _)| stem)?;
    (!stem.is_empty()).then(|| normalize_name(stem))
}

/// An alias as kmod indexes and looks it up: `-` becomes `_` except
/// inside bracket expressions. `None` for unbalanced brackets, which kmod
/// skips too.
pub fn normalize_alias(alias: &str) -> Option<String> {
    let mut out = String::with_capacity(alias.len());
    let mut chars = alias.chars();
    while let Some(c) = chars.next() {
        match c {
            '-' => out.push('_'),
            ']' => return None,
            '[' => {
                out.push('[');
                loop {
                    let c = chars.next()?;
                    out.push(c);
                    if c == ']' {
                        break;
                    }
                }
            }
            c => out.push(c),
        }
    }
    Some(out)
}

/// Shell-style matching as `fnmatch(pattern, text, 0)` does it for module
/// aliases: `*`, `?` and bracket expressions (`[a-z]`, `[!0-9]`, `[^x]`).
pub fn fnmatch(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Iterative matching with one backtrack point for the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some('?') => Some(1),
            Some('[') => match bracket(&p[pi..], t[ti]) {
                Some((true, len)) => Some(len),
                Some((false, _)) => None,
                None => ('[' == t[ti]).then_some(1),
            },
            Some(&c) => (c == t[ti]).then_some(1),
            None => None,
        };
        match (step, star) {
            (Some(len), _) => {
                pi += len;
                ti += 1;
            }
            (None, Some((sp, st))) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            (None, None) => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the bracket expression at the start of `p`:
/// whether it matched, and the expression's length. `None` when the
/// expression is unterminated, so the `[` is an ordinary character.
fn bracket(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let start = i;
    let mut matched = false;
    loop {
        let lo = *p.get(i)?;
        // A `]` right after the opening bracket is a member, not the end.
        if lo == ']' && i > start {
            break;
        }
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&hi| hi != ']') {
            matched |= (lo..=p[i + 2]).contains(&c);
            i += 3;
        } else {
            matched |= lo == c;
            i += 1;
        }
    }
    Some((matched != negate, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fields_that_matter() {
        let section = b"alias=virtio:d00000002v*\0depends=virtio_ring,nvme-core\0\0\0\
            softdep=pre: crc32c post: foo-bar\0softdep=pre: sha256\0license=GPL\0vermagic=6.12 SMP\0";
        let info = ModInfo::parse(section);
        assert_eq!(info.depends, ["virtio_ring", "nvme_core"]);
        assert_eq!(info.aliases, ["virtio:d00000002v*"]);
        assert_eq!(info.softdep_pre, ["crc32c", "sha256"]);
        assert_eq!(info.softdep_post, ["foo-bar"]);
        assert_eq!(info.softdeps, ["pre: crc32c post: foo-bar", "pre: sha256"]);
        assert_eq!(ModInfo::parse(b"depends=\0").depends, Vec::<String>::new());
    }

    #[test]
    fn names_from_paths() {
        assert_eq!(name_of_path("kernel/drivers/nvme/host/nvme-core.ko.xz").as_deref(), Some("nvme_core"));
        assert_eq!(name_of_path("kernel/fs/ext4/ext4.ko").as_deref(), Some("ext4"));
        assert_eq!(name_of_path("modules.order"), None);
    }

    #[test]
    fn aliases_normalize_outside_brackets() {
        assert_eq!(normalize_alias("fs-ext4").as_deref(), Some("fs_ext4"));
        assert_eq!(normalize_alias("usb:v0403p6001d0[0-5]*").as_deref(), Some("usb:v0403p6001d0[0-5]*"));
        assert_eq!(normalize_alias("a]b"), None);
        assert_eq!(normalize_alias("a[b"), None);
    }

    #[test]
    fn fnmatch_like_libc() {
        let cases = [
            ("virtio:d00000002v*", "virtio:d00000002v00001AF4", true),
            ("virtio:d00000002v*", "virtio:d00000001v00001AF4", false),
            ("pci:v00001AF4d*sv*sd*bc*sc*i*", "pci:v00001AF4d00001001sv00001AF4sd00000002bc01sc00i00", true),
            ("fs_ext?", "fs_ext4", true),
            ("fs_ext?", "fs_ext44", false),
            ("usb:v0403p6001d0[0-5]*", "usb:v0403p6001d03x", true),
            ("usb:v0403p6001d0[0-5]*", "usb:v0403p6001d07x", false),
            ("x[!0-9]", "xa", true),
            ("x[^0-9]", "x5", false),
            ("[]]", "]", true),
            ("*", "", true),
            ("a[b", "a[b", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("net_pf_40", "net_pf_40", true),
            ("net_pf_40", "net_pf_4", false),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(fnmatch(pattern, text), want, "fnmatch({pattern:?}, {text:?})");
        }
    }
}
