//! Debian archives for microroot.
//!
//! Data flow: a suite's `InRelease` is verified against a keyring
//! ([`signature`]) and its signed payload parsed ([`release`]); the
//! `Packages` index it lists is checked by hash and parsed ([`index`]) into
//! package records with [`version`]s and [`relation`]s; the [`solver`]
//! picks the closure apt would install; each `.deb` is read ([`deb`]) into
//! a [`microroot_tree::Tree`]. [`sources`] reads the host's apt sources for
//! the default mirror. Nothing here does HTTP.

pub mod deb;
pub mod deb822;
pub mod index;
pub mod relation;
pub mod release;
pub mod signature;
pub mod solver;
pub mod sources;
pub mod version;
