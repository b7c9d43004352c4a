//! Parsing an index in a few pieces at once: a stable `Packages` file is
//! 56 MB, and the machines microroot runs on have several cores. Pieces
//! are cut at blank lines, parsed on scoped threads, and merged in order,
//! so the result (including apt's name order) does not depend on how many
//! pieces there were.

use super::record::{self, Package};
use super::{FastMap, IndexError};
use crate::deb822::{self, Deb822Error};

/// Pieces smaller than this are not worth a thread.
const MIN_PIECE: usize = 4 << 20;

/// A run of whole paragraphs of one index text.
pub(super) struct Piece<'a> {
    pub(super) origin: &'a str,
    pub(super) text: &'a str,
    /// Lines of the text before this piece, to report real line numbers.
    pub(super) lines_before: usize,
}

/// One piece's packages, and the names it mentions in first-seen order.
pub(super) struct Parsed<'a> {
    pub(super) packages: Vec<Package>,
    pub(super) mentions: Vec<&'a str>,
}

/// Cuts `text` into about `parts` pieces at paragraph boundaries.
pub(super) fn split<'a>(origin: &'a str, text: &'a str, parts: usize) -> Vec<Piece<'a>> {
    split_min(origin, text, parts, MIN_PIECE)
}

fn split_min<'a>(origin: &'a str, text: &'a str, parts: usize, min_piece: usize) -> Vec<Piece<'a>> {
    let parts = parts.min(text.len() / min_piece).max(1);
    let mut pieces = Vec::with_capacity(parts);
    let (mut start, mut lines_before) = (0, 0);
    for i in 1..parts {
        let target = (text.len() * i / parts).max(start);
        let Some(gap) = memchr::memmem::find(&text.as_bytes()[target..], b"\n\n") else { break };
        let end = target + gap + 2;
        pieces.push(Piece { origin, text: &text[start..end], lines_before });
        lines_before += memchr::memchr_iter(b'\n', &text.as_bytes()[start..end]).count();
        start = end;
    }
    pieces.push(Piece { origin, text: &text[start..], lines_before });
    pieces
}

/// Parses every piece, on one thread each beyond the first. The first
/// piece's package vector is sized for all pieces, so that the others can
/// be appended to it without moving it.
pub(super) fn parse_all<'a>(pieces: &[Piece<'a>]) -> Result<Vec<Parsed<'a>>, IndexError> {
    let Some((first, rest)) = pieces.split_first() else { return Ok(Vec::new()) };
    let total = pieces.iter().map(|p| count_packages(p.text)).sum();
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            rest.iter().map(|piece| scope.spawn(move || parse(piece, count_packages(piece.text)))).collect();
        let mut out = vec![parse(first, total)?];
        for handle in handles {
            out.push(handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?);
        }
        Ok(out)
    })
}

pub(super) fn count_packages(text: &str) -> usize {
    memchr::memmem::find_iter(text.as_bytes(), "\nPackage:").count() + 1
}

pub(super) fn parse<'a>(piece: &Piece<'a>, capacity: usize) -> Result<Parsed<'a>, IndexError> {
    let mut seen: FastMap<&'a str, ()> = FastMap::default();
    let mut mentions = Vec::new();
    let mut mention = |name: &'a str| {
        if seen.insert(name, ()).is_none() {
            mentions.push(name);
        }
    };
    let mut packages = Vec::with_capacity(capacity);
    for para in deb822::paragraphs(piece.text) {
        let mut para = para.map_err(|e| IndexError::Syntax {
            origin: piece.origin.to_owned(),
            source: shift(e, piece.lines_before),
        })?;
        para.line += piece.lines_before;
        packages.push(record::parse_package(&para, &mut mention).map_err(|e| e.at(piece.origin, &para))?);
    }
    Ok(Parsed { packages, mentions })
}

fn shift(error: Deb822Error, lines: usize) -> Deb822Error {
    match error {
        Deb822Error::NoColon { line, text } => Deb822Error::NoColon { line: line + lines, text },
        Deb822Error::OrphanContinuation { line } => Deb822Error::OrphanContinuation { line: line + lines },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> String {
        let sha = "0".repeat(64);
        (0..n)
            .map(|i| format!("Package: p{i}\nVersion: 1\nArchitecture: all\nDepends: q{}\nFilename: f\nSize: 1\nSHA256: {sha}\n\n", n - i))
            .collect()
    }

    #[test]
    fn pieces_cover_the_text_at_paragraph_boundaries() {
        let text = text(100);
        let pieces = split_min("t", &text, 3, 1);
        assert_eq!(pieces.len(), 3);
        assert_eq!(pieces.iter().map(|p| p.text).collect::<String>(), text);
        assert!(pieces[1..].iter().all(|p| p.text.starts_with("Package:")));
        let parsed = parse_all(&pieces).unwrap();
        assert_eq!(parsed.iter().map(|p| p.packages.len()).sum::<usize>(), 100);
        assert_eq!(parsed[2].packages[0].name, format!("p{}", 100 - parsed[2].packages.len()));
    }

    #[test]
    fn errors_in_later_pieces_keep_their_line_numbers() {
        let text = text(100).replace("Package: p90\nVersion: 1", "Package: p90\nVersion: x y");
        let pieces = split_min("t", &text, 4, 1);
        let err = parse_all(&pieces).err().unwrap().to_string();
        assert_eq!(err, "t:721: package `p90`: bad version `x y`: invalid character in upstream version");
        let text = text.replace("Version: x y", "Version: 1\nbroken");
        let err = parse_all(&split_min("t", &text, 4, 1)).err().unwrap().to_string();
        assert_eq!(err, "t: line 723: expected `Field: value`, got `broken`");
    }
}
