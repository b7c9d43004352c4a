//! deb822 control-file syntax: paragraphs of `Field: value` lines separated
//! by blank lines, continuation lines starting with a space or tab, and
//! `#` comment lines. Parsing borrows from the input so that a 50 MB
//! `Packages` index is split without copying.

/// A malformed line in a deb822 text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Deb822Error {
    #[error("line {line}: expected `Field: value`, got `{text}`")]
    NoColon { line: usize, text: String },
    #[error("line {line}: continuation line with no field before it")]
    OrphanContinuation { line: usize },
}

/// One paragraph. Field names are matched case-insensitively; values are
/// trimmed, and a multi-line value keeps its continuation lines verbatim
/// (see [`Paragraph::lines`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paragraph<'a> {
    /// 1-based line number of the paragraph's first field.
    pub line: usize,
    pub fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Paragraph<'a> {
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }

    /// The lines of a multi-line field, each trimmed; an empty first line
    /// (as in `SHA256:` lists) is skipped.
    pub fn lines(&self, name: &str) -> impl Iterator<Item = &'a str> {
        self.get(name).unwrap_or("").lines().map(str::trim).filter(|l| !l.is_empty())
    }
}

/// Splits `text` into paragraphs.
pub fn paragraphs(text: &str) -> Paragraphs<'_> {
    Paragraphs { text, pos: 0, line: 0 }
}

/// Iterator returned by [`paragraphs`].
pub struct Paragraphs<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> Paragraphs<'a> {
    fn next_line(&mut self) -> Option<(usize, &'a str)> {
        if self.pos >= self.text.len() {
            return None;
        }
        let rest = &self.text[self.pos..];
        let (line, advance) = match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        let start = self.pos;
        self.pos += advance;
        self.line += 1;
        Some((start, line.strip_suffix('\r').unwrap_or(line)))
    }
}

impl<'a> Iterator for Paragraphs<'a> {
    type Item = Result<Paragraph<'a>, Deb822Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut para = Paragraph { line: 0, fields: Vec::new() };
        // Start offset of the current field's value and the end of its last line.
        let mut open: Option<(&'a str, usize, usize)> = None;
        while let Some((start, line)) = self.next_line() {
            if line.starts_with('#') {
                continue;
            }
            if line.trim().is_empty() {
                if para.fields.is_empty() && open.is_none() {
                    continue;
                }
                break;
            }
            if line.starts_with([' ', '\t']) {
                match &mut open {
                    Some((_, _, end)) => *end = start + line.len(),
                    None => return Some(Err(Deb822Error::OrphanContinuation { line: self.line })),
                }
                continue;
            }
            if let Some((name, vstart, end)) = open.take() {
                para.fields.push((name, self.text[vstart..end].trim()));
            }
            let Some(colon) = line.find(':') else {
                return Some(Err(Deb822Error::NoColon { line: self.line, text: line.to_owned() }));
            };
            if para.fields.is_empty() {
                para.line = self.line;
            }
            open = Some((line[..colon].trim(), start + colon + 1, start + line.len()));
        }
        if let Some((name, vstart, end)) = open {
            para.fields.push((name, self.text[vstart..end].trim()));
        }
        (!para.fields.is_empty()).then_some(Ok(para))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paragraphs_and_continuations() {
        let text = "# comment\nPackage: a\nDescription: short\n long\n .\n more\n\n\nPackage: b\r\nVersion: 1\n";
        let ps: Vec<_> = paragraphs(text).collect::<Result<_, _>>().unwrap();
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0].get("package"), Some("a"));
        assert_eq!(ps[0].get("Description"), Some("short\n long\n .\n more"));
        assert_eq!(ps[1].line, 9);
        assert_eq!(ps[1].get("Version"), Some("1"));
    }

    #[test]
    fn multi_line_lists() {
        let text = "SHA256:\n abc 12 main/x\n def 34 main/y\n";
        let p = paragraphs(text).next().unwrap().unwrap();
        assert_eq!(p.lines("SHA256").collect::<Vec<_>>(), ["abc 12 main/x", "def 34 main/y"]);
    }

    #[test]
    fn errors_carry_line_numbers() {
        let err = paragraphs("A: 1\nbroken\n").next().unwrap().unwrap_err();
        assert_eq!(err, Deb822Error::NoColon { line: 2, text: "broken".into() });
        let err = paragraphs(" x\n").next().unwrap().unwrap_err();
        assert_eq!(err, Deb822Error::OrphanContinuation { line: 1 });
    }
}
