//! Human tables and JSON summaries on stdout.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use microroot_image::inspect::Inspection;
use microroot_image::report::{human, BuildReport};

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
        "{}: {} entries, {} of content, {} on disk",
        r.archive.display(),
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
    let mut files: Vec<_> = r.entries.iter().filter(|e| e.kind == '0').collect();
    files.sort_by_key(|e| std::cmp::Reverse(e.size));
    writeln!(out, "largest files:")?;
    for e in files.iter().take(args.top) {
        writeln!(out, "  {:>10}  {}", human(e.size), e.path)?;
    }
    if args.entries {
        writeln!(out, "entries:")?;
        for e in &r.entries {
            let link = e.link.as_deref().map(|l| format!(" -> {l}")).unwrap_or_default();
            writeln!(out, "  {} {:04o} {:>5}:{:<5} {:>9} {}{link}", e.kind, e.mode, e.uid, e.gid, e.size, e.path)?;
        }
    }
    Ok(())
}
