//! Debian machine-readable copyright files (DEP-5, `copyright-format/1.0`)
//! read into SPDX license expressions.
//!
//! A package's declared license is the set of distinct `License:` short
//! names of its `Files` paragraphs, each translated to SPDX ([`license`]),
//! joined with `AND`. A copyright file that is not machine-readable
//! declares nothing (`NOASSERTION` in the SBOM).

use std::collections::BTreeSet;

use microroot_debian::deb822::{self, Paragraph};

use super::license::{self, Expr};

/// The SPDX expression a DEP-5 copyright file declares, or `None` when
/// the file is not machine-readable or names no license.
pub fn declared_license(copyright: &str) -> Option<String> {
    let paragraphs = paragraphs(copyright);
    let (header, rest) = paragraphs.split_first()?;
    let format = header.get("Format")?;
    if !(format.contains("copyright-format") || format.contains("dep5")) {
        return None;
    }
    let mut conjuncts = BTreeSet::new();
    for p in rest.iter().filter(|p| p.get("Files").is_some()) {
        if let Some(name) = short_name(p) {
            conjuncts.extend(license::parse(name).conjuncts().iter().map(Expr::render_operand));
        }
    }
    // A file whose only license sits in the header covers the whole package.
    if conjuncts.is_empty() {
        let name = short_name(header)?;
        conjuncts.extend(license::parse(name).conjuncts().iter().map(Expr::render_operand));
    }
    Some(conjuncts.into_iter().collect::<Vec<_>>().join(" AND "))
}

/// The first line of a `License:` field: the short name (what follows on
/// continuation lines is the license text).
fn short_name<'a>(p: &Paragraph<'a>) -> Option<&'a str> {
    p.get("License")?.lines().next().map(str::trim).filter(|l| !l.is_empty())
}

/// The deb822 paragraphs of `text`, skipping the ones that do not parse:
/// copyright files often hold license texts with unmarked blank lines,
/// which break one paragraph but should not lose the others.
fn paragraphs(text: &str) -> Vec<Paragraph<'_>> {
    let mut out = Vec::new();
    let (mut start, mut pos) = (None, 0);
    for line in text.split_inclusive('\n') {
        match (line.trim().is_empty(), start) {
            (false, None) => start = Some(pos),
            (true, Some(s)) => {
                out.extend(parse_chunk(&text[s..pos]));
                start = None;
            }
            _ => {}
        }
        pos += line.len();
    }
    if let Some(s) = start {
        out.extend(parse_chunk(&text[s..]));
    }
    out
}

fn parse_chunk(chunk: &str) -> Option<Paragraph<'_>> {
    deb822::paragraphs(chunk).next()?.ok()
}

#[cfg(test)]
mod tests;
