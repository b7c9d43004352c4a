//! `--html FILE`: one self-contained page (inline CSS and JavaScript, the
//! data embedded as JSON, no external resources) with a squarified treemap
//! of the image, package → directory → file, and the summary tables. For a
//! diff, the treemap is B's, with added and changed files highlighted.
//!
//! The page depends only on the images: the same input gives the same
//! bytes (no time stamps, everything sorted).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use microroot_tree::{Kind, TreePath};
use serde::Serialize;

use super::{package_of, Image, Inspection, NO_PACKAGE};
use crate::diff::{Diff, FileChange, PackageChange};
use crate::report::{human, human_delta};

const CSS: &str = include_str!("html/page.css");
const JS: &str = include_str!("html/treemap.js");
/// Files drawn per directory; the rest become one rectangle.
const FILES_PER_DIR: usize = 300;
/// Rows per table on a diff page.
const MAX_ROWS: usize = 2000;

#[derive(Serialize)]
struct Pkg {
    n: String,
    v: Option<String>,
    s: u64,
    /// Hue, or -1 for files of no package (grey).
    h: i32,
    /// 1: the package is new (diff pages).
    st: u8,
    d: Vec<Dir>,
}

/// A file on the treemap: (name, size, status: 0, 1 added, 2 changed).
type FileCell = (String, u64, u8);

#[derive(Serialize)]
struct Dir {
    n: String,
    s: u64,
    f: Vec<FileCell>,
}

/// The treemap's data: packages largest first, each with its directories
/// and files largest first.
fn treemap(image: &Image, status: &dyn Fn(&TreePath) -> u8, new_packages: &BTreeSet<&str>) -> Vec<Pkg> {
    let mut by: BTreeMap<&str, BTreeMap<String, Vec<FileCell>>> = BTreeMap::new();
    for (path, e) in image.tree.iter() {
        if !matches!(e.kind, Kind::File(_)) || e.size() == 0 {
            continue;
        }
        let dir = path.parent().unwrap_or_default().to_string();
        let file = (path.file_name().to_owned(), e.size(), status(path));
        by.entry(package_of(e)).or_default().entry(dir).or_default().push(file);
    }
    let mut pkgs: Vec<Pkg> = by
        .into_iter()
        .map(|(name, dirs)| {
            let mut d: Vec<Dir> = dirs.into_iter().map(|(n, files)| dir(n, files)).collect();
            d.sort_by(|a, b| b.s.cmp(&a.s).then_with(|| a.n.cmp(&b.n)));
            Pkg {
                n: name.to_owned(),
                v: image.versions.get(name).cloned(),
                s: d.iter().map(|d| d.s).sum(),
                h: -1,
                st: new_packages.contains(name) as u8,
                d,
            }
        })
        .collect();
    pkgs.sort_by(|a, b| b.s.cmp(&a.s).then_with(|| a.n.cmp(&b.n)));
    for (rank, p) in pkgs.iter_mut().filter(|p| p.n != NO_PACKAGE).enumerate() {
        p.h = (rank as f64 * 137.508).rem_euclid(360.0).round() as i32;
    }
    pkgs
}

fn dir(n: String, mut files: Vec<FileCell>) -> Dir {
    files.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if files.len() > FILES_PER_DIR {
        let rest = files.split_off(FILES_PER_DIR - 1);
        let status = rest.iter().map(|f| f.2).max().unwrap_or(0);
        files.push((format!("({} more files)", rest.len()), rest.iter().map(|f| f.1).sum(), status));
    }
    Dir { n, s: files.iter().map(|f| f.1).sum(), f: files }
}

/// The page for `microroot inspect --html`.
pub fn inspect_page(image: &Image, insp: &Inspection, top: usize) -> String {
    let title = format!("{} — microroot inspect", image.path.display());
    let summary = format!(
        "{}: {} entries, {} of content, {} on disk",
        insp.format,
        insp.entries.len(),
        human(insp.total_bytes),
        human(insp.compressed_bytes)
    );
    let mut tables = String::new();
    let rows = insp.by_package.iter().take(top).map(|(name, bytes)| {
        let version = insp.versions.get(name).map_or("", String::as_str);
        vec![esc(name), esc(version), human(*bytes), percent(*bytes, insp.total_bytes)]
    });
    table(&mut tables, "By package", &["package", "version", "size", "share"], rows);
    let rows = insp.by_directory.iter().take(top).map(|(d, b)| vec![esc(d), human(*b), percent(*b, insp.total_bytes)]);
    table(&mut tables, "By directory", &["directory", "size", "share"], rows);
    let rows = insp
        .largest(top)
        .into_iter()
        .map(|e| vec![esc(&e.path), human(e.size), esc(e.package.as_deref().unwrap_or(NO_PACKAGE))]);
    table(&mut tables, "Largest files", &["path", "size", "package"], rows);
    page(&title, &summary, &treemap(image, &|_| 0, &BTreeSet::new()), &format!("<div class=\"tables\">{tables}</div>"))
}

/// The page for `microroot diff --html`: B's treemap, changes highlighted.
pub fn diff_page(diff: &Diff, b: &Image) -> String {
    let title = format!("{} → {} — microroot diff", diff.a.path.display(), diff.b.path.display());
    let status: BTreeMap<String, u8> = (diff.files.added.iter().map(|f| (f.path.clone(), 1)))
        .chain(diff.files.changed.iter().map(|f| (f.path.clone(), 2)))
        .collect();
    let new: BTreeSet<&str> = diff.packages.added.iter().map(|p| p.name.as_str()).collect();
    let data = treemap(b, &|p| status.get(&p.to_string()).copied().unwrap_or(0), &new);
    let mut body = String::new();
    let pkg_rows = |list: &[PackageChange], mark: &str| -> Vec<Vec<String>> {
        list.iter()
            .map(|p| {
                let v = |v: &Option<String>| esc(v.as_deref().unwrap_or("-"));
                let delta = p.bytes_b as i64 - p.bytes_a as i64;
                vec![
                    format!("<span class=\"{mark}\">{}</span>", esc(&p.name)),
                    v(&p.from),
                    v(&p.to),
                    human_delta(delta),
                ]
            })
            .collect()
    };
    let head = ["package", "from", "to", "size"];
    table(&mut body, "Packages added", &head, pkg_rows(&diff.packages.added, "add").into_iter());
    table(&mut body, "Packages removed", &head, pkg_rows(&diff.packages.removed, "del").into_iter());
    table(&mut body, "Packages changed", &head, pkg_rows(&diff.packages.changed, "chg").into_iter());
    let file_rows = |list: &[FileChange], mark: &str| {
        let rows: Vec<Vec<String>> = list
            .iter()
            .take(MAX_ROWS)
            .map(|f| {
                vec![
                    format!("<span class=\"{mark}\">{}</span>", esc(&f.path)),
                    esc(&f.details.join("; ")),
                    human_delta(f.size_b as i64 - f.size_a as i64),
                    esc(f.package.as_deref().unwrap_or(NO_PACKAGE)),
                ]
            })
            .collect();
        rows
    };
    let head = ["path", "what", "size", "package"];
    for (name, list, mark) in [
        ("Files added", &diff.files.added, "add"),
        ("Files removed", &diff.files.removed, "del"),
        ("Files changed", &diff.files.changed, "chg"),
    ] {
        table(&mut body, name, &head, file_rows(list, mark).into_iter());
        if list.len() > MAX_ROWS {
            let _ = write!(body, "<p class=\"note\">and {} more (see --json)</p>", list.len() - MAX_ROWS);
        }
    }
    page(&title, &crate::diff::summary_line(diff), &data, &body)
}

fn page(title: &str, summary: &str, data: &[Pkg], tables: &str) -> String {
    // `<` only occurs inside JSON strings, where `\u003c` means the same:
    // the script element cannot be closed early.
    let json = serde_json::to_string(&serde_json::json!({ "packages": data }))
        .expect("the treemap data serializes")
        .replace('<', "\\u003c");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p class=\"summary\">{}</p>\n\
         <div id=\"treemap\"></div>\n<div id=\"tip\"></div>\n{tables}\n\
         <script type=\"application/json\" id=\"treemap-data\">{json}</script>\n<script>\n{JS}</script>\n</body>\n</html>\n",
        esc(title),
        esc(title),
        esc(summary),
    )
}

fn table(out: &mut String, title: &str, head: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    let rows: Vec<Vec<String>> = rows.collect();
    if rows.is_empty() {
        return;
    }
    let _ = write!(out, "<section><h2>{}</h2>\n<table>\n<tr>", esc(title));
    for h in head {
        let class = if matches!(*h, "size" | "share") { " class=\"num\"" } else { "" };
        let _ = write!(out, "<th{class}>{h}</th>");
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for (h, cell) in head.iter().zip(row) {
            let class = match *h {
                "size" | "share" => " class=\"num\"",
                "path" | "directory" => " class=\"path\"",
                _ => "",
            };
            let _ = write!(out, "<td{class}>{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table></section>\n");
}

fn percent(part: u64, total: u64) -> String {
    format!("{:.1}%", if total == 0 { 0.0 } else { part as f64 * 100.0 / total as f64 })
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
