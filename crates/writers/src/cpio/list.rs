//! The kernel's `gen_init_cpio` file list, the format of
//! `CONFIG_INITRAMFS_SOURCE` list files: one entry per line,
//!
//! ```text
//! # comment
//! dir /dev 755 0 0
//! nod /dev/console 600 0 0 c 5 1
//! file /init ${BUILD}/init 755 0 0 /sbin/init
//! slink /bin busybox 777 0 0
//! pipe /run/initctl 600 0 0
//! sock /run/sock 755 0 0
//! ```
//!
//! Modes are octal permission bits, owners numeric. A `file` reads its
//! content from a location on the host (relative to a base directory, with
//! `${VAR}` replaced from the environment, an unset variable by nothing,
//! as gen_init_cpio does); extra names after the gid become hardlinks to
//! it. [`parse_list`] reads a list into a [`Tree`]; [`render_list`] writes
//! a tree as a list whose files the caller puts under one directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use microroot_tree::{Entry, Kind, Meta, Tree, TreePath};

mod render;

pub use render::render_list;

const TYPES: [&str; 6] = ["file", "dir", "nod", "slink", "pipe", "sock"];

/// Where a list comes from and how to read it.
#[derive(Clone, Debug)]
pub struct ListOptions {
    /// How errors name the list, e.g. `initramfs.list`.
    pub file_name: String,
    /// What relative `file` locations are relative to.
    pub base_dir: PathBuf,
    /// The mtime of every entry (the list has none; `gen_init_cpio -t`).
    pub mtime: i64,
    /// Variables for `${VAR}` in locations; `None` reads the process
    /// environment.
    pub env: Option<BTreeMap<String, String>>,
}

impl ListOptions {
    pub fn new(file_name: impl Into<String>, base_dir: impl Into<PathBuf>) -> Self {
        ListOptions { file_name: file_name.into(), base_dir: base_dir.into(), mtime: 0, env: None }
    }

    fn var(&self, name: &str) -> Option<String> {
        match &self.env {
            Some(env) => env.get(name).cloned(),
            None => std::env::var(name).ok(),
        }
    }
}

/// A line of a list that cannot be used, located as `file:line:column`
/// (both counted from 1).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}{}", hint.as_ref().map(|h| format!("\nhint: {h}")).unwrap_or_default())]
pub struct ListError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// A whitespace-separated word and the column it starts at.
#[derive(Clone, Copy)]
struct Word<'a> {
    text: &'a str,
    column: usize,
}

/// One line being parsed: its words and how to report errors on it.
struct Line<'a> {
    opts: &'a ListOptions,
    number: usize,
    words: Vec<Word<'a>>,
    end_column: usize,
}

impl Line<'_> {
    fn error(&self, column: usize, message: impl Into<String>, hint: Option<String>) -> ListError {
        ListError { file: self.opts.file_name.clone(), line: self.number, column, message: message.into(), hint }
    }

    fn at(&self, word: Word<'_>, message: impl Into<String>, hint: impl Into<Option<String>>) -> ListError {
        self.error(word.column, message, hint.into())
    }
}

/// Reads a gen_init_cpio list into a tree. Parents missing from the list
/// are created as root-owned 0755 directories.
pub fn parse_list(text: &str, opts: &ListOptions) -> Result<Tree, ListError> {
    let mut tree = Tree::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.starts_with('#') {
            continue;
        }
        let line = Line { opts, number: i + 1, words: words(raw), end_column: raw.chars().count() + 1 };
        let Some(&kind) = line.words.first() else { continue };
        let fields = &line.words[1..];
        match kind.text {
            "file" => parse_file(&line, fields, &mut tree)?,
            "dir" => {
                let [name, mode, uid, gid] = exactly(&line, kind, fields, "<name> <mode> <uid> <gid>")?;
                let meta = meta(&line, mode, uid, gid)?;
                insert(&line, name, Entry::new(meta, Kind::Dir), &mut tree, true)?;
            }
            "nod" => {
                let usage = "<name> <mode> <uid> <gid> <dev_type> <maj> <min>";
                let [name, mode, uid, gid, ty, major, minor] = exactly(&line, kind, fields, usage)?;
                let (major, minor) = (number(&line, major, "major")?, number(&line, minor, "minor")?);
                let kind = match ty.text {
                    "c" => Kind::CharDev { major, minor },
                    "b" => Kind::BlockDev { major, minor },
                    other => {
                        let hint = "`c` for a character device, `b` for a block device".to_owned();
                        return Err(line.at(ty, format!("unknown device type \"{other}\""), hint));
                    }
                };
                insert(&line, name, Entry::new(meta(&line, mode, uid, gid)?, kind), &mut tree, false)?;
            }
            "slink" => {
                let [name, target, mode, uid, gid] =
                    exactly(&line, kind, fields, "<name> <target> <mode> <uid> <gid>")?;
                let entry = Entry::new(meta(&line, mode, uid, gid)?, Kind::Symlink(target.text.to_owned()));
                insert(&line, name, entry, &mut tree, false)?;
            }
            "pipe" | "sock" => {
                let [name, mode, uid, gid] = exactly(&line, kind, fields, "<name> <mode> <uid> <gid>")?;
                let k = if kind.text == "pipe" { Kind::Fifo } else { Kind::Socket };
                insert(&line, name, Entry::new(meta(&line, mode, uid, gid)?, k), &mut tree, false)?;
            }
            other => return Err(line.at(kind, format!("unknown type \"{other}\""), type_hint(other))),
        }
    }
    Ok(tree)
}

fn words(line: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (column, (i, c)) in line.char_indices().enumerate() {
        match (c == ' ' || c == '\t', start) {
            (true, Some((s, col))) => {
                out.push(Word { text: &line[s..i], column: col });
                start = None;
            }
            (false, None) => start = Some((i, column + 1)),
            _ => {}
        }
    }
    if let Some((s, col)) = start {
        out.push(Word { text: &line[s..], column: col });
    }
    out
}

fn type_hint(word: &str) -> String {
    let close = TYPES.iter().find(|t| strsim::levenshtein(word, t) <= 2);
    match close {
        Some(t) => format!("did you mean `{t}`? The types are {}", TYPES.join(", ")),
        None => format!("the types are {}", TYPES.join(", ")),
    }
}

/// The fields of a fixed-length line type, or an error naming what is
/// missing or extra.
fn exactly<'a, const N: usize>(
    line: &Line<'a>,
    kind: Word<'_>,
    fields: &[Word<'a>],
    usage: &str,
) -> Result<[Word<'a>; N], ListError> {
    if let Some(extra) = fields.get(N) {
        let message = format!("unexpected \"{}\": a `{}` line has {N} fields", extra.text, kind.text);
        return Err(line.at(*extra, message, format!("{} {usage}", kind.text)));
    }
    fields.try_into().map_err(|_| {
        let field = usage.split(' ').nth(fields.len()).unwrap_or_default();
        let message = format!("`{}` needs {N} fields, this line has {}: {field} is missing", kind.text, fields.len());
        line.error(line.end_column, message, Some(format!("{} {usage}", kind.text)))
    })
}

fn parse_file(line: &Line<'_>, fields: &[Word<'_>], tree: &mut Tree) -> Result<(), ListError> {
    let usage = "file <name> <location> <mode> <uid> <gid> [<hard links>...]";
    let [name, location, mode, uid, gid] = match fields.get(..5) {
        Some(&[a, b, c, d, e]) => [a, b, c, d, e],
        _ => {
            let field = usage.split(' ').nth(fields.len() + 1).unwrap_or_default();
            let message = format!("`file` needs at least 5 fields, this line has {}: {field} is missing", fields.len());
            return Err(line.error(line.end_column, message, Some(usage.to_owned())));
        }
    };
    let meta = meta(line, mode, uid, gid)?;
    let data = read_location(line, location)?;
    let at = insert(line, name, Entry::new(meta.clone(), Kind::File(data.into())), tree, false)?;
    for link in &fields[5..] {
        insert(line, *link, Entry::new(meta.clone(), Kind::Hardlink(at.clone())), tree, false)?;
    }
    Ok(())
}

/// Reads a `file` location after `${VAR}` expansion.
fn read_location(line: &Line<'_>, location: Word<'_>) -> Result<Vec<u8>, ListError> {
    let (expanded, unset) = expand(location.text, line.opts);
    let path = line.opts.base_dir.join(&expanded);
    std::fs::read(&path).map_err(|e| {
        let hint = match unset.first() {
            Some(var) => format!("`${{{var}}}` is not set, so it expanded to nothing"),
            None if Path::new(&expanded).is_relative() => {
                format!("relative locations are read from {}", line.opts.base_dir.display())
            }
            None => "check that the file exists and is readable".to_owned(),
        };
        line.at(location, format!("cannot read \"{}\" ({}): {e}", location.text, path.display()), hint)
    })
}

/// gen_init_cpio's `${VAR}` expansion; also returns the unset names.
fn expand(location: &str, opts: &ListOptions) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut unset = Vec::new();
    let mut rest = location;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else { break };
        let name = &rest[start + 2..start + 2 + len];
        out.push_str(&rest[..start]);
        match opts.var(name) {
            Some(value) => out.push_str(&value),
            None => unset.push(name.to_owned()),
        }
        rest = &rest[start + 3 + len..];
    }
    out.push_str(rest);
    (out, unset)
}

fn meta(line: &Line<'_>, mode: Word<'_>, uid: Word<'_>, gid: Word<'_>) -> Result<Meta, ListError> {
    let bits = u32::from_str_radix(mode.text, 8).map_err(|_| {
        line.at(
            mode,
            format!("mode \"{}\" is not an octal number", mode.text),
            "modes are octal, like 755 or 0644".to_owned(),
        )
    })?;
    if bits > 0o7777 {
        let hint = "give permission bits only (at most 7777); the line's type sets the file type".to_owned();
        return Err(line.at(mode, format!("mode {bits:o} has bits beyond 7777"), hint));
    }
    let mut meta = Meta::new(bits);
    meta.uid = number(line, uid, "uid")?;
    meta.gid = number(line, gid, "gid")?;
    meta.mtime = line.opts.mtime;
    Ok(meta)
}

fn number(line: &Line<'_>, word: Word<'_>, what: &str) -> Result<u32, ListError> {
    word.text.parse().map_err(|_| {
        let hint = format!("{what}s are decimal numbers from 0 to {}", u32::MAX);
        line.at(word, format!("{what} \"{}\" is not a number", word.text), hint)
    })
}

fn insert(
    line: &Line<'_>,
    name: Word<'_>,
    entry: Entry,
    tree: &mut Tree,
    root_ok: bool,
) -> Result<TreePath, ListError> {
    let path = TreePath::new(name.text).map_err(|e| line.at(name, e.to_string(), None))?;
    if path.is_root() && !root_ok {
        return Err(line.at(name, format!("\"{}\" names the root, which can only be a `dir`", name.text), None));
    }
    tree.insert(&path, entry).map_err(|e| line.at(name, e.to_string(), None))
}

#[cfg(test)]
mod tests;
