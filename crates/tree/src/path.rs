use std::fmt;

/// A normalized path inside a tree: no leading or trailing `/`, no empty,
/// `.` or `..` components. The root is the empty path.
///
/// Ordering is bytewise, so a directory always sorts before everything
/// below it and iteration yields parents first.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TreePath(String);

/// A path that cannot name anything inside a tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path `{0}` climbs above the root with `..`")]
    Escapes(String),
    #[error("path `{0}` contains a NUL byte")]
    Nul(String),
}

impl TreePath {
    /// The root directory.
    pub fn root() -> Self {
        TreePath(String::new())
    }

    /// Normalizes `raw` lexically: `/`, `./` prefixes and `.` components are
    /// dropped, `..` pops a component. Fails when `..` would leave the root,
    /// which is how hostile archive members are caught.
    pub fn new(raw: &str) -> Result<Self, PathError> {
        if raw.contains('\0') {
            return Err(PathError::Nul(raw.to_owned()));
        }
        let mut parts: Vec<&str> = Vec::new();
        for comp in raw.split('/') {
            match comp {
                "" | "." => {}
                ".." => {
                    if parts.pop().is_none() {
                        return Err(PathError::Escapes(raw.to_owned()));
                    }
                }
                c => parts.push(c),
            }
        }
        Ok(TreePath(parts.join("/")))
    }

    /// An already-normalized string, or a range bound such as `usr/bin/`
    /// that is deliberately not a valid path.
    pub(crate) fn raw(s: String) -> Self {
        TreePath(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path's components, root-first.
    pub fn components(&self) -> impl DoubleEndedIterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }

    /// The parent directory; `None` for the root.
    pub fn parent(&self) -> Option<TreePath> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.rfind('/') {
            Some(i) => TreePath(self.0[..i].to_owned()),
            None => TreePath::root(),
        })
    }

    /// The last component; empty for the root.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }

    /// Appends one or more components (`name` may contain `/`).
    pub fn join(&self, name: &str) -> Result<TreePath, PathError> {
        if self.is_root() {
            TreePath::new(name)
        } else {
            TreePath::new(&format!("{}/{}", self.0, name))
        }
    }

    /// Whether `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &TreePath) -> bool {
        other.is_root()
            || self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'/'))
    }

    /// Depth below the root (the root is 0).
    pub fn depth(&self) -> usize {
        self.components().count()
    }
}

impl fmt::Display for TreePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.0)
    }
}

impl fmt::Debug for TreePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl TryFrom<&str> for TreePath {
    type Error = PathError;
    fn try_from(s: &str) -> Result<Self, PathError> {
        TreePath::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(TreePath::new("./usr//bin/").unwrap().as_str(), "usr/bin");
        assert_eq!(TreePath::new("/a/./b/../c").unwrap().as_str(), "a/c");
        assert!(TreePath::new("/").unwrap().is_root());
        assert!(TreePath::new("a/../../etc").is_err());
    }

    #[test]
    fn parent_and_name() {
        let p = TreePath::new("usr/bin/sh").unwrap();
        assert_eq!(p.parent().unwrap().as_str(), "usr/bin");
        assert_eq!(p.file_name(), "sh");
        assert!(TreePath::new("x").unwrap().parent().unwrap().is_root());
        assert!(p.starts_with(&TreePath::new("usr").unwrap()));
        assert!(!TreePath::new("usr2").unwrap().starts_with(&TreePath::new("usr").unwrap()));
    }
}
