//! Debian license short names and expressions (`GPL-2+ or Artistic`,
//! `A or B, and C`, `GPL-2 with Linux-syscall-note exception`) as SPDX
//! license expressions.
//!
//! Names on the SPDX list map to their ids (`GPL-2+` → `GPL-2.0-or-later`,
//! `Expat` → `MIT`); any other name becomes `LicenseRef-<name>`, and so
//! does a license whose exception is not on the SPDX exception list (SPDX
//! 2.3 has no way to name one).

/// A license expression, flattened (no `And` directly inside `And`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// An SPDX license id or `LicenseRef-…`.
    Id(String),
    /// `id WITH exception`, both on the SPDX lists.
    With(String, &'static str),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

impl Expr {
    pub fn render(&self) -> String {
        let join = |parts: &[Expr], op: &str| parts.iter().map(Expr::render_operand).collect::<Vec<_>>().join(op);
        match self {
            Expr::Id(id) => id.clone(),
            Expr::With(id, exception) => format!("{id} WITH {exception}"),
            Expr::And(parts) => join(parts, " AND "),
            Expr::Or(parts) => join(parts, " OR "),
        }
    }

    /// Rendered as an operand of `AND`/`OR`: compound ones in parentheses
    /// (SPDX binds AND tighter than OR; the parentheses spare the reader).
    pub fn render_operand(&self) -> String {
        match self {
            Expr::And(_) | Expr::Or(_) => format!("({})", self.render()),
            _ => self.render(),
        }
    }

    /// The operands of a top-level `AND`, or the expression itself.
    pub fn conjuncts(self) -> Vec<Expr> {
        match self {
            Expr::And(parts) => parts,
            other => vec![other],
        }
    }

    fn combine(parts: Vec<Expr>, and: bool) -> Expr {
        let mut flat: Vec<Expr> = Vec::new();
        for part in parts {
            let inner = match (part, and) {
                (Expr::And(inner), true) | (Expr::Or(inner), false) => inner,
                (part, _) => vec![part],
            };
            for e in inner {
                if !flat.contains(&e) {
                    flat.push(e);
                }
            }
        }
        match (flat.len(), and) {
            (1, _) => flat.pop().expect("one part"),
            (_, true) => Expr::And(flat),
            (_, false) => Expr::Or(flat),
        }
    }
}

/// Parses a `License:` short-name line. Commas separate groups of lower
/// precedence (`A or B, and C` is `(A OR B) AND C`); within a group `and`
/// binds tighter than `or`, as in SPDX.
pub fn parse(text: &str) -> Expr {
    let mut groups = text.split(',');
    let mut acc = parse_group(groups.next().unwrap_or_default());
    for group in groups {
        let group = group.trim();
        let (op, rest) = group.split_once(char::is_whitespace).unwrap_or((group, ""));
        let (and, rhs) = match op.to_ascii_lowercase().as_str() {
            "or" => (false, parse_group(rest)),
            "and" => (true, parse_group(rest)),
            _ => (true, parse_group(group)),
        };
        acc = match (acc, rhs) {
            (Some(lhs), Some(rhs)) => Some(Expr::combine(vec![lhs, rhs], and)),
            (lhs, rhs) => lhs.or(rhs),
        };
    }
    acc.unwrap_or_else(|| Expr::Id(license_ref("")))
}

fn is_word(word: &str, op: &str) -> bool {
    word.eq_ignore_ascii_case(op)
}

/// `A and B or C with X exception`: an OR of ANDs of terms.
fn parse_group(text: &str) -> Option<Expr> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut alternatives: Vec<Vec<Expr>> = vec![Vec::new()];
    let mut i = 0;
    while i < words.len() {
        if is_word(words[i], "or") {
            alternatives.push(Vec::new());
            i += 1;
            continue;
        }
        if is_word(words[i], "and") {
            i += 1;
            continue;
        }
        // A name runs to the next operator; stray spaces inside one
        // (`GPL 2`) are read as dashes.
        let start = i;
        while i < words.len() && !["and", "or", "with"].iter().any(|op| is_word(words[i], op)) {
            i += 1;
        }
        let name = words[start..i].join("-");
        let mut exception = None;
        if i < words.len() && is_word(words[i], "with") {
            let from = i + 1;
            i = from;
            while i < words.len() && !is_word(words[i], "and") && !is_word(words[i], "or") {
                i += 1;
                if is_word(words[i - 1], "exception") {
                    break;
                }
            }
            exception = Some(words[from..i].join(" "));
        }
        alternatives.last_mut().expect("one group").push(term(&name, exception.as_deref()));
    }
    let ors: Vec<Expr> = alternatives.into_iter().filter(|a| !a.is_empty()).map(|a| Expr::combine(a, true)).collect();
    (!ors.is_empty()).then(|| Expr::combine(ors, false))
}

/// One license, with its exception if any.
fn term(name: &str, exception: Option<&str>) -> Expr {
    // `LGPL-2.1+-with-link-exception`: the same, written as one word.
    let lower = name.to_ascii_lowercase();
    let (name, exception) = match (exception, lower.find("-with-")) {
        (None, Some(at)) => (&name[..at], Some(name[at + 6..].replace('-', " "))),
        (exception, _) => (name, exception.map(str::to_owned)),
    };
    let id = license_id(name);
    let Some(exception) = exception else { return id };
    match &id {
        Expr::Id(spdx) if !spdx.starts_with("LicenseRef-") => match exception_id(spdx, &exception) {
            Some(known) => Expr::With(spdx.clone(), known),
            None => Expr::Id(license_ref(&format!("{name} with {exception}"))),
        },
        _ => Expr::Id(license_ref(&format!("{name} with {exception}"))),
    }
}

/// The SPDX id of a Debian short name; `LicenseRef-…` when it has none.
pub fn license_id(name: &str) -> Expr {
    let name = name.trim_matches(|c: char| c == '.' || c == ';' || c == '"');
    let lower = name.to_ascii_lowercase();
    if lower == "perl" {
        // Debian's `Perl` is "Artistic or GPL-1+", Perl's own terms.
        return Expr::Or(vec![Expr::Id("Artistic-1.0-Perl".into()), Expr::Id("GPL-1.0-or-later".into())]);
    }
    if let Some(id) = gnu(&lower) {
        return Expr::Id(id);
    }
    match SIMPLE.iter().find(|(debian, _)| *debian == lower) {
        Some((_, spdx)) => Expr::Id((*spdx).to_owned()),
        None => Expr::Id(license_ref(name)),
    }
}

/// Debian short names (lower case) with one SPDX id.
const SIMPLE: &[(&str, &str)] = &[
    ("0bsd", "0BSD"),
    ("apache-1.0", "Apache-1.0"),
    ("apache-1.1", "Apache-1.1"),
    ("apache-2", "Apache-2.0"),
    ("apache-2.0", "Apache-2.0"),
    // Debian's common-licenses/Artistic is Perl's Artistic License 1.0.
    ("artistic", "Artistic-1.0-Perl"),
    ("artistic-1.0", "Artistic-1.0"),
    ("artistic-2.0", "Artistic-2.0"),
    ("bsd-2-clause", "BSD-2-Clause"),
    ("bsd-3-clause", "BSD-3-Clause"),
    ("bsd-4-clause", "BSD-4-Clause"),
    ("bsl-1.0", "BSL-1.0"),
    ("cc-by-3.0", "CC-BY-3.0"),
    ("cc-by-4.0", "CC-BY-4.0"),
    ("cc-by-sa-3.0", "CC-BY-SA-3.0"),
    ("cc-by-sa-4.0", "CC-BY-SA-4.0"),
    ("cc0", "CC0-1.0"),
    ("cc0-1.0", "CC0-1.0"),
    ("cddl-1.0", "CDDL-1.0"),
    ("curl", "curl"),
    ("epl-1.0", "EPL-1.0"),
    ("epl-2.0", "EPL-2.0"),
    ("expat", "MIT"),
    ("fsfap", "FSFAP"),
    ("fsful", "FSFUL"),
    ("fsfullr", "FSFULLR"),
    ("isc", "ISC"),
    ("libpng", "Libpng"),
    ("mit", "MIT"),
    ("mit-0", "MIT-0"),
    ("mpl-1.1", "MPL-1.1"),
    ("mpl-2", "MPL-2.0"),
    ("mpl-2.0", "MPL-2.0"),
    ("ms-pl", "MS-PL"),
    ("ofl-1.1", "OFL-1.1"),
    ("openssl", "OpenSSL"),
    ("psf-2.0", "PSF-2.0"),
    ("python-2.0", "Python-2.0"),
    ("sleepycat", "Sleepycat"),
    ("unicode-dfs-2015", "Unicode-DFS-2015"),
    ("unicode-dfs-2016", "Unicode-DFS-2016"),
    ("unlicense", "Unlicense"),
    ("wtfpl", "WTFPL"),
    ("x11", "X11"),
    ("zlib", "Zlib"),
    ("zpl-2.1", "ZPL-2.1"),
];

/// The GNU licenses: `GPL-2` → `GPL-2.0-only`, `LGPL-2.1+` →
/// `LGPL-2.1-or-later`, `GFDL-NIV-1.3` → `GFDL-1.3-no-invariants-only`; a
/// bare `GPL` means any version. SPDX-style spellings pass through.
fn gnu(lower: &str) -> Option<String> {
    const FAMILIES: &[(&str, &str, &[&str])] = &[
        ("gfdl-niv", "GFDL", &["1.1", "1.2", "1.3"]),
        ("gfdl", "GFDL", &["1.1", "1.2", "1.3"]),
        ("agpl", "AGPL", &["1.0", "3.0"]),
        ("lgpl", "LGPL", &["2.0", "2.1", "3.0"]),
        ("gpl", "GPL", &["1.0", "2.0", "3.0"]),
    ];
    let (base, later) = match lower.strip_suffix('+').or_else(|| lower.strip_suffix("-or-later")) {
        Some(base) => (base, true),
        None => (lower.strip_suffix("-only").unwrap_or(lower), false),
    };
    for (prefix, spdx, versions) in FAMILIES {
        let Some(rest) = base.strip_prefix(prefix) else { continue };
        let (version, later) = match rest.strip_prefix('-') {
            None if rest.is_empty() => (versions[0].to_owned(), true),
            Some(v) if v.contains('.') => (v.to_owned(), later),
            Some(v) => (format!("{v}.0"), later),
            None => continue,
        };
        if !versions.contains(&version.as_str()) {
            continue;
        }
        let suffix = if later { "or-later" } else { "only" };
        let niv = if *prefix == "gfdl-niv" { "-no-invariants" } else { "" };
        return Some(format!("{spdx}-{version}{niv}-{suffix}"));
    }
    None
}

/// The SPDX exception a Debian exception name stands for, given the
/// license it modifies.
fn exception_id(license: &str, exception: &str) -> Option<&'static str> {
    let lower = exception.trim().to_ascii_lowercase();
    let key = lower.strip_suffix("exception").unwrap_or(&lower).trim().trim_end_matches('-');
    let v3 = license.contains("-3.0");
    Some(match key {
        "font" => "Font-exception-2.0",
        "gcc" | "gcc-3.1" | "gcc runtime library" if v3 => "GCC-exception-3.1",
        "gcc" | "gcc-2.0" => "GCC-exception-2.0",
        "autoconf" if v3 => "Autoconf-exception-3.0",
        "autoconf" => "Autoconf-exception-2.0",
        "bison" => "Bison-exception-2.2",
        "classpath" => "Classpath-exception-2.0",
        "libtool" => "Libtool-exception",
        "linux-syscall-note" | "linux syscall note" => "Linux-syscall-note",
        "llvm" => "LLVM-exception",
        _ => return None,
    })
}

/// `LicenseRef-` plus the name with what SPDX ids cannot hold replaced
/// (`+` → `plus`, anything but letters, digits and `.` → `-`).
pub fn license_ref(name: &str) -> String {
    let mut id = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        match c {
            '+' => id.push_str("plus"),
            c if c.is_ascii_alphanumeric() || c == '.' => id.push(c),
            _ if !id.is_empty() && !id.ends_with('-') => id.push('-'),
            _ => {}
        }
    }
    let id = id.trim_end_matches('-');
    format!("LicenseRef-{}", if id.is_empty() { "unknown" } else { id })
}
