//! Glue between the decompressed Packages indexes and the solver.

use microroot_debian::index::Index;
use microroot_debian::solver::{self, Request};

use crate::lock::LockedPackage;
use crate::source::SourceError;

/// Solves `include` against the `(origin, text)` Packages indexes; the
/// answer is sorted by package name.
pub fn solve(indexes: &[(String, String)], arch: &str, include: &[String]) -> Result<Vec<LockedPackage>, SourceError> {
    let index = Index::parse_many(indexes.iter().map(|(o, t)| (o.as_str(), t.as_str())))
        .map_err(|e| SourceError::Index(e.to_string()))?;
    let requests: Vec<Request> = include
        .iter()
        .map(|r| r.parse())
        .collect::<Result<_, _>>()
        .map_err(|e: solver::SolveError| SourceError::Solve(e.to_string()))?;
    let solution = solver::solve(&index, arch, &requests).map_err(|e| SourceError::Solve(e.to_string()))?;
    let mut packages: Vec<LockedPackage> = solution
        .packages
        .iter()
        .map(|p| LockedPackage {
            name: p.name.clone(),
            version: p.version.to_string(),
            architecture: p.architecture.clone(),
            filename: p.filename.clone(),
            size: p.size,
            sha256: hex::encode(p.sha256),
        })
        .collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(packages)
}
