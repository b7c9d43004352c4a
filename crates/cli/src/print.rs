//! Human tables and JSON summaries on stdout.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use microroot_image::diff::{summary_line, Diff};
use microroot_image::inspect::{Inspection, NO_PACKAGE};
use microroot_image::report::{human, human_delta, BuildReport};

use crate::args::InspectArgs;

pub fn build_report(r: &BuildReport, elapsed: Duration, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let mut value = serde_json::to_value(r)?;
        value["seconds"] = serde_json::json!(elapsed.as_secs_f64());
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    writeln!(out, "{} — Debian {} ({}), {}, epoch {}", r.image, r.suite, r.codename, r.arch, r.epoch)?;
    writeln!(out, "  {:<24} {:<28} {:>6} {:>10}", "package", "version", "entries", "size")?;
    for p in &r.packages {
        let version = p.version.as_deref().unwrap_or("-");
        writeln!(out, "  {:<24} {:<28} {:>6} {:>10}", p.owner, version, p.entries, human(p.bytes))?;
    }
    writeln!(out, "  {:<24} {:<28} {:>6} {:>10}", "total", "", r.entries, human(r.content_bytes))?;
    for o in &r.outputs {
        writeln!(out, "{}  {}  sha256:{}", o.path.display(), human(o.bytes), o.sha256)?;
    }
    if r.up_to_date {
        writeln!(
            out,
            "up to date ({:.1}s): same manifest, plan and inputs as the outputs above",
            elapsed.as_secs_f64()
        )?;
    } else {
        writeln!(out, "built in {:.1}s", elapsed.as_secs_f64())?;
    }
    Ok(())
}

pub fn inspection(r: &Inspection, args: &InspectArgs, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(r)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{} ({}): {} entries, {} of content, {} on disk",
        r.archive.display(),
        r.format,
        r.entries.len(),
        human(r.total_bytes),
        human(r.compressed_bytes)
    )?;
    writeln!(out, "by package:")?;
    for (name, bytes) in r.by_package.iter().take(args.top) {
        writeln!(out, "  {:>10}  {name}", human(*bytes))?;
    }
    writeln!(out, "by directory:")?;
    for (name, bytes) in r.by_directory.iter().take(args.top) {
        writeln!(out, "  {:>10}  {name}", human(*bytes))?;
    }
    writeln!(out, "largest files:")?;
    for e in r.largest(args.top) {
        writeln!(out, "  {:>10}  {}", human(e.size), e.path)?;
    }
    if args.entries {
        writeln!(out, "entries:")?;
        for e in &r.entries {
            let link = e.link.as_deref().map(|l| format!(" -> {l}")).unwrap_or_default();
            let (kind, mode, size) = (type_letter(e.kind), e.mode, e.size);
            writeln!(out, "  {kind} {mode:04o} {:>5}:{:<5} {size:>9} {}{link}", e.uid, e.gid, e.path)?;
        }
    }
    Ok(())
}

/// The `ls -l` letter of an entry kind (`h` for a hardlink).
fn type_letter(kind: &str) -> char {
    match kind {
        "directory" => 'd',
        "symlink" => 'l',
        "hardlink" => 'h',
        "character device" => 'c',
        "block device" => 'b',
        "fifo" => 'p',
        "socket" => 's',
        _ => '-',
    }
}

pub fn diff(d: &Diff, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(d)?)?;
        return Ok(());
    }
    writeln!(out, "{} ({}) -> {} ({})", d.a.path.display(), d.a.format, d.b.path.display(), d.b.format)?;
    if !d.packages.is_empty() {
        writeln!(out, "packages:")?;
    }
    let version = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    for (mark, list) in [('+', &d.packages.added), ('-', &d.packages.removed), ('~', &d.packages.changed)] {
        for p in list {
            let versions = match mark {
                '+' => version(&p.to),
                '-' => version(&p.from),
                _ => format!("{} -> {}", version(&p.from), version(&p.to)),
            };
            let delta = human_delta(p.bytes_b as i64 - p.bytes_a as i64);
            writeln!(out, "  {mark} {} {versions}  ({delta})", p.name)?;
        }
    }
    if !d.files.is_empty() {
        writeln!(out, "files:")?;
    }
    let package = |p: &Option<String>| p.clone().unwrap_or_else(|| NO_PACKAGE.into());
    for f in &d.files.added {
        writeln!(out, "  + {}  {}  {}  {}", f.path, f.kind_b.unwrap_or("?"), human(f.size_b), package(&f.package))?;
    }
    for f in &d.files.removed {
        writeln!(out, "  - {}  {}  {}  {}", f.path, f.kind_a.unwrap_or("?"), human(f.size_a), package(&f.package))?;
    }
    for f in &d.files.changed {
        let delta = human_delta(f.size_b as i64 - f.size_a as i64);
        writeln!(out, "  ~ {}  {}  ({delta})", f.path, f.details.join("; "))?;
    }
    if d.same {
        writeln!(out, "no differences")?;
    }
    writeln!(out, "{}", summary_line(d))?;
    Ok(())
}
