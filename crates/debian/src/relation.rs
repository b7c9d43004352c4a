//! Relation fields (`Depends`, `Pre-Depends`, `Provides`, `Conflicts`,
//! `Breaks`, …): comma-separated groups of `|` alternatives, each
//! `name[:arch] [(op version)] [arch restrictions] [<build profiles>]`
//! (Debian policy §7.1). The solver reads every package's relations, so
//! the parser is a small hand-written scanner, and [`Display`](fmt::Display)
//! prints the canonical spelling so that parse ↔ display round-trips.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::version::{Version, VersionError};

/// Why a relation field was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelationError {
    #[error("bad relation `{text}`: {reason}")]
    Syntax { text: String, reason: &'static str },
    #[error("bad relation `{text}`: {source}")]
    Version { text: String, source: VersionError },
}

/// A version comparison. `<` and `>` are the obsolete spellings of `<=`
/// and `>=`; they are kept apart only so that they print as they were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    ObsoleteLe,
    ObsoleteGe,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">>",
            Op::ObsoleteLe => "<",
            Op::ObsoleteGe => ">",
        }
    }

    /// Whether `have.cmp(wanted) == ord` satisfies this operator.
    pub fn accepts(self, ord: Ordering) -> bool {
        match self {
            Op::Lt => ord == Ordering::Less,
            Op::Le | Op::ObsoleteLe => ord != Ordering::Greater,
            Op::Eq => ord == Ordering::Equal,
            Op::Ge | Op::ObsoleteGe => ord != Ordering::Less,
            Op::Gt => ord == Ordering::Greater,
        }
    }

    fn parse_prefix(s: &str) -> Option<(Op, &str)> {
        const OPS: [(&str, Op); 7] = [
            ("<<", Op::Lt),
            ("<=", Op::Le),
            (">=", Op::Ge),
            (">>", Op::Gt),
            ("=", Op::Eq),
            ("<", Op::ObsoleteLe),
            (">", Op::ObsoleteGe),
        ];
        OPS.iter().find_map(|(text, op)| s.strip_prefix(text).map(|rest| (*op, rest)))
    }
}

/// `(op version)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Constraint {
    pub op: Op,
    pub version: Version,
}

impl Constraint {
    pub fn satisfied_by(&self, version: &Version) -> bool {
        self.op.accepts(version.cmp(&self.version))
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op.as_str(), self.version)
    }
}

/// The `:qualifier` after a package name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ArchQualifier {
    Any,
    Native,
    Arch(String),
}

/// One `[!]name` term of an arch restriction list or a build profile.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Term {
    pub negated: bool,
    pub name: String,
}

/// One alternative: a package name with its optional qualifiers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Relation {
    pub name: String,
    pub arch_qualifier: Option<ArchQualifier>,
    pub constraint: Option<Constraint>,
    /// Arch restrictions and build profiles. Only source packages use
    /// them, so they sit behind a pointer to keep the many binary
    /// relations of an index small.
    pub restrictions: Option<Box<Restrictions>>,
}

/// `[amd64 !i386] <!nocheck> <stage1 cross>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Restrictions {
    /// The `[…]` list; empty when absent.
    pub arches: Vec<Term>,
    /// The `<…>` formulas, in order.
    pub profiles: Vec<Vec<Term>>,
}

impl Relation {
    pub fn parse(text: &str) -> Result<Self, RelationError> {
        let text = text.trim();
        let err = |reason| RelationError::Syntax { text: text.to_owned(), reason };
        let name_end = text
            .bytes()
            .position(|b| b.is_ascii_whitespace() || matches!(b, b'(' | b':' | b'[' | b'<'))
            .unwrap_or(text.len());
        let (name, mut rest) = text.split_at(name_end);
        if name.is_empty() {
            return Err(err("missing package name"));
        }
        if name.bytes().any(|b| matches!(b, b',' | b'|' | b')' | b']' | b'>')) {
            return Err(err("invalid character in package name"));
        }
        let mut arch_qualifier = None;
        if let Some(r) = rest.strip_prefix(':') {
            let end =
                r.bytes().position(|b| b.is_ascii_whitespace() || matches!(b, b'(' | b'[' | b'<')).unwrap_or(r.len());
            arch_qualifier = Some(match &r[..end] {
                "" => return Err(err("empty architecture qualifier")),
                "any" => ArchQualifier::Any,
                "native" => ArchQualifier::Native,
                arch => ArchQualifier::Arch(arch.to_owned()),
            });
            rest = &r[end..];
        }
        let (constraint, rest) = parse_constraint(rest.trim_start(), text)?;
        let (arches, rest) = match rest.strip_prefix('[') {
            Some(r) => {
                let (inside, after) = r.split_once(']').ok_or_else(|| err("unclosed `[`"))?;
                (parse_terms(inside).ok_or_else(|| err("empty architecture list"))?, after.trim_start())
            }
            None => (Vec::new(), rest),
        };
        let mut profiles = Vec::new();
        let mut rest = rest;
        while let Some(r) = rest.strip_prefix('<') {
            let (inside, after) = r.split_once('>').ok_or_else(|| err("unclosed `<`"))?;
            profiles.push(parse_terms(inside).ok_or_else(|| err("empty build profile"))?);
            rest = after.trim_start();
        }
        if !rest.is_empty() {
            return Err(err("unexpected text after the package name"));
        }
        let restrictions =
            (!arches.is_empty() || !profiles.is_empty()).then(|| Box::new(Restrictions { arches, profiles }));
        Ok(Relation { name: name.to_owned(), arch_qualifier, constraint, restrictions })
    }

    /// Whether `version` meets this relation's version constraint (any
    /// version does when there is none).
    pub fn satisfied_by(&self, version: &Version) -> bool {
        self.constraint.as_ref().is_none_or(|c| c.satisfied_by(version))
    }

    /// Whether the `[arch]` restriction list admits `arch`.
    pub fn applies_to_arch(&self, arch: &str) -> bool {
        let arches = self.restrictions.as_ref().map_or(&[][..], |r| &r.arches);
        if arches.is_empty() {
            return true;
        }
        let negated = arches.iter().all(|t| t.negated);
        let listed = arches.iter().any(|t| t.name == arch);
        listed != negated
    }
}

fn parse_constraint<'a>(s: &'a str, text: &str) -> Result<(Option<Constraint>, &'a str), RelationError> {
    let Some(r) = s.strip_prefix('(') else { return Ok((None, s)) };
    let err = |reason| RelationError::Syntax { text: text.to_owned(), reason };
    let (inside, after) = r.split_once(')').ok_or_else(|| err("unclosed `(`"))?;
    let (op, version) = Op::parse_prefix(inside.trim_start()).ok_or_else(|| err("unknown version operator"))?;
    let version = Version::parse(version).map_err(|source| RelationError::Version { text: text.to_owned(), source })?;
    Ok((Some(Constraint { op, version }), after.trim_start()))
}

fn parse_terms(inside: &str) -> Option<Vec<Term>> {
    let terms: Vec<Term> = inside
        .split_whitespace()
        .map(|t| match t.strip_prefix('!') {
            Some(name) => Term { negated: true, name: name.to_owned() },
            None => Term { negated: false, name: t.to_owned() },
        })
        .collect();
    (!terms.is_empty() && terms.iter().all(|t| !t.name.is_empty())).then_some(terms)
}

fn write_terms(f: &mut fmt::Formatter<'_>, open: char, terms: &[Term], close: char) -> fmt::Result {
    write!(f, " {open}")?;
    for (i, t) in terms.iter().enumerate() {
        let sep = if i == 0 { "" } else { " " };
        let bang = if t.negated { "!" } else { "" };
        write!(f, "{sep}{bang}{}", t.name)?;
    }
    write!(f, "{close}")
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        match &self.arch_qualifier {
            Some(ArchQualifier::Any) => f.write_str(":any")?,
            Some(ArchQualifier::Native) => f.write_str(":native")?,
            Some(ArchQualifier::Arch(a)) => write!(f, ":{a}")?,
            None => {}
        }
        if let Some(c) = &self.constraint {
            write!(f, " ({c})")?;
        }
        let Some(r) = &self.restrictions else { return Ok(()) };
        if !r.arches.is_empty() {
            write_terms(f, '[', &r.arches, ']')?;
        }
        r.profiles.iter().try_for_each(|p| write_terms(f, '<', p, '>'))
    }
}

/// `a | b | c`: satisfied by any one of its members, tried in order.
/// Dereferences to the slice of members. A lone member (nearly every group
/// in a real index) is stored inline, saving an allocation per dependency.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Alternatives(Members);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Members {
    One(Relation),
    Many(Vec<Relation>),
}

impl Alternatives {
    pub fn new(mut members: Vec<Relation>) -> Self {
        match members.len() {
            1 => Alternatives(Members::One(members.pop().expect("one member"))),
            _ => Alternatives(Members::Many(members)),
        }
    }

    pub fn as_slice(&self) -> &[Relation] {
        match &self.0 {
            Members::One(r) => std::slice::from_ref(r),
            Members::Many(v) => v,
        }
    }

    fn parse(group: &str) -> Result<Self, RelationError> {
        if !group.contains('|') {
            return Relation::parse(group).map(|r| Alternatives(Members::One(r)));
        }
        group.split('|').map(Relation::parse).collect::<Result<_, _>>().map(Alternatives::new)
    }
}

impl std::ops::Deref for Alternatives {
    type Target = [Relation];
    fn deref(&self) -> &[Relation] {
        self.as_slice()
    }
}

impl fmt::Debug for Alternatives {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// A whole relation field: every group must be satisfied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Relations(pub Vec<Alternatives>);

impl Relations {
    /// Parses a field value; an empty value gives no groups.
    pub fn parse(field: &str) -> Result<Self, RelationError> {
        if field.trim().is_empty() {
            return Ok(Relations::default());
        }
        // A trailing comma is tolerated, as dpkg does.
        let field = field.trim_end().strip_suffix(',').unwrap_or(field);
        let mut groups = Vec::with_capacity(memchr::memchr_iter(b',', field.as_bytes()).count() + 1);
        for group in field.split(',') {
            groups.push(Alternatives::parse(group)?);
        }
        Ok(Relations(groups))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Alternatives> {
        self.0.iter()
    }
}

impl fmt::Display for Alternatives {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.iter().enumerate() {
            let sep = if i == 0 { "" } else { " | " };
            write!(f, "{sep}{r}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Relations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{g}")?;
        }
        Ok(())
    }
}

impl FromStr for Relation {
    type Err = RelationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Relation::parse(s)
    }
}

impl FromStr for Relations {
    type Err = RelationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Relations::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_every_part() {
        let r = Relation::parse("libc6:any (>= 2.36) [amd64 !i386] <!nocheck> <stage1 cross>").unwrap();
        assert_eq!(r.name, "libc6");
        assert_eq!(r.arch_qualifier, Some(ArchQualifier::Any));
        let c = r.constraint.as_ref().unwrap();
        assert_eq!((c.op, c.version.as_str()), (Op::Ge, "2.36"));
        let restrictions = r.restrictions.as_ref().unwrap();
        assert_eq!(restrictions.arches.len(), 2);
        assert!(restrictions.arches[1].negated);
        assert_eq!(restrictions.profiles.len(), 2);
        assert_eq!(r.to_string(), "libc6:any (>= 2.36) [amd64 !i386] <!nocheck> <stage1 cross>");
    }

    #[test]
    fn tolerates_tight_spacing_and_obsolete_ops() {
        let r = Relation::parse("foo(>=1.0)").unwrap();
        assert_eq!(r.to_string(), "foo (>= 1.0)");
        let r = Relation::parse("foo (< 2)").unwrap();
        assert_eq!(r.constraint.as_ref().unwrap().op, Op::ObsoleteLe);
        assert!(r.satisfied_by(&"2".parse().unwrap()));
        assert_eq!(r.to_string(), "foo (< 2)");
    }

    #[test]
    fn parses_groups_and_alternatives() {
        let field = "libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0,\n zlib1g";
        let rels = Relations::parse(field).unwrap();
        assert_eq!(rels.0.len(), 3);
        assert_eq!(rels.0[1].len(), 2);
        assert_eq!(rels.to_string(), "libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, zlib1g");
        assert!(Relations::parse("  ").unwrap().is_empty());
    }

    #[test]
    fn satisfied_by_each_operator() {
        let v = |s: &str| s.parse::<Version>().unwrap();
        let check = |rel: &str, ver: &str| Relation::parse(rel).unwrap().satisfied_by(&v(ver));
        assert!(check("a (<< 2)", "1.9") && !check("a (<< 2)", "2"));
        assert!(check("a (<= 2)", "2") && !check("a (<= 2)", "2.0.1"));
        assert!(check("a (= 1:2)", "1:2-0") && !check("a (= 2)", "2-1"));
        assert!(check("a (>= 3.4)", "3.5.1-1") && !check("a (>= 3.4)", "3.0.11-1"));
        assert!(check("a (>> 1.0~rc1)", "1.0") && !check("a (>> 1.0)", "1.0~rc1"));
        assert!(check("a", "0"));
    }

    #[test]
    fn arch_restrictions() {
        let r = Relation::parse("a [amd64 arm64]").unwrap();
        assert!(r.applies_to_arch("amd64") && !r.applies_to_arch("i386"));
        let r = Relation::parse("a [!i386]").unwrap();
        assert!(r.applies_to_arch("amd64") && !r.applies_to_arch("i386"));
    }

    #[test]
    fn errors_name_the_relation() {
        for (bad, msg) in [
            ("(>= 1)", "bad relation `(>= 1)`: missing package name"),
            ("a (>= 1", "bad relation `a (>= 1`: unclosed `(`"),
            ("a (~ 1)", "bad relation `a (~ 1)`: unknown version operator"),
            ("a (>= )", "bad relation `a (>= )`: version is empty"),
            ("a [amd64", "bad relation `a [amd64`: unclosed `[`"),
            ("a b", "bad relation `a b`: unexpected text after the package name"),
            ("a:", "bad relation `a:`: empty architecture qualifier"),
        ] {
            assert_eq!(Relation::parse(bad).unwrap_err().to_string(), msg);
        }
        assert!(Relations::parse("a, , b").is_err());
        assert_eq!(Relations::parse("a, b,\n").unwrap().0.len(), 2);
    }

    fn term() -> impl Strategy<Value = Term> {
        (any::<bool>(), "[a-z0-9][a-z0-9-]{0,6}").prop_map(|(negated, name)| Term { negated, name })
    }

    fn relation() -> impl Strategy<Value = Relation> {
        let qual = prop_oneof![
            Just(None),
            Just(Some(ArchQualifier::Any)),
            Just(Some(ArchQualifier::Native)),
            "[a-z0-9]{2,6}".prop_map(|a| Some(ArchQualifier::Arch(a))),
        ];
        let op = prop_oneof![Just(Op::Lt), Just(Op::Le), Just(Op::Eq), Just(Op::Ge), Just(Op::Gt)];
        let constraint = prop::option::of((op, "[0-9]{1,2}:?[0-9][a-z0-9.+~]{0,5}(-[a-z0-9.+~]{1,3})?"))
            .prop_map(|c| c.map(|(op, v)| Constraint { op, version: v.parse().unwrap() }));
        let arches = prop::collection::vec(term(), 0..3);
        let profiles = prop::collection::vec(prop::collection::vec(term(), 1..3), 0..3);
        ("[a-z0-9][a-z0-9+.-]{0,12}", qual, constraint, arches, profiles).prop_map(
            |(name, arch_qualifier, constraint, arches, profiles)| {
                let restrictions =
                    (!arches.is_empty() || !profiles.is_empty()).then(|| Box::new(Restrictions { arches, profiles }));
                Relation { name, arch_qualifier, constraint, restrictions }
            },
        )
    }

    proptest! {
        #[test]
        fn display_round_trips(groups in prop::collection::vec(prop::collection::vec(relation(), 1..4), 0..5)) {
            let rels = Relations(groups.into_iter().map(Alternatives::new).collect());
            let text = rels.to_string();
            let parsed = Relations::parse(&text).unwrap();
            prop_assert_eq!(&parsed, &rels);
            prop_assert_eq!(parsed.to_string(), text);
        }
    }
}
