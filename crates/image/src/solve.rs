//! Glue between the parsed Packages index and the solver.

use microroot_debian::index::{Index, Package};
use microroot_debian::solver::{self, Request};

use crate::lock::LockedPackage;
use crate::source::SourceError;

/// Solves `include` against the suite's Packages `index`, on top
/// of what a base image has `installed` (nothing, without a base); the
/// answer is sorted by package name and holds only what is to be unpacked.
/// `kernel` names a kernel package to look up on its own (see
/// [`find_kernel`]).
pub fn solve(
    index: &Index,
    arch: &str,
    include: &[String],
    kernel: Option<&str>,
    installed: &[Package],
) -> Result<(Vec<LockedPackage>, Option<LockedPackage>), SourceError> {
    let kernel = kernel.map(|name| find_kernel(index, arch, name)).transpose()?;
    let requests: Vec<Request> = include
        .iter()
        .map(|r| r.parse())
        .collect::<Result<_, _>>()
        .map_err(|e: solver::SolveError| SourceError::Solve(e.to_string()))?;
    let solution =
        solver::solve_installed(index, arch, &requests, installed).map_err(|e| SourceError::Solve(e.to_string()))?;
    let mut packages: Vec<LockedPackage> = solution.packages.iter().map(|p| locked(p)).collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((packages, kernel))
}

fn locked(p: &Package) -> LockedPackage {
    LockedPackage {
        name: p.name.clone(),
        version: p.version.to_string(),
        architecture: p.architecture.clone(),
        filename: p.filename.clone(),
        size: p.size,
        sha256: hex::encode(p.sha256),
    }
}

/// The package that holds the kernel named `name`: the package itself, or
/// the `linux-image-*` package a metapackage such as
/// `linux-image-cloud-amd64` depends on. Only the kernel package is
/// fetched, never its dependencies (kmod, initramfs-tools): the kernel is
/// an input of the VM outputs, not part of the image.
pub fn find_kernel(index: &Index, arch: &str, name: &str) -> Result<LockedPackage, SourceError> {
    let newest = |name: &str| index.get(name).max_by(|a, b| a.version.cmp(&b.version));
    let mut package = match newest(name) {
        Some(p) => p,
        None => {
            // The solver's message names close matches.
            let request: Request = name.parse().map_err(|e: solver::SolveError| SourceError::Solve(e.to_string()))?;
            let err = solver::solve(index, arch, &[request]).err().map(|e| e.to_string());
            return Err(SourceError::Solve(format!(
                "kernel: {}",
                err.unwrap_or_else(|| format!("`{name}` is not a kernel package"))
            )));
        }
    };
    for _ in 0..4 {
        let next = package
            .depends
            .iter()
            .filter_map(|alt| alt.as_slice().first())
            .find(|r| r.name.starts_with("linux-image-") && r.name != package.name);
        match next.and_then(|r| newest(&r.name)) {
            Some(p) => package = p,
            None => return Ok(locked(package)),
        }
    }
    Err(SourceError::Solve(format!("kernel: `{name}` does not lead to a kernel package")))
}
