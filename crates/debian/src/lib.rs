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

/// An xz stream decoder that does not check the stream's own CRC: for
/// files already verified by their sha256 (a `.deb` against the signed
/// index, an index against the signed `Release`), where the CRC would cost
/// a tenth of the decoding and prove nothing more.
fn verified_xz_stream() -> std::io::Result<liblzma::stream::Stream> {
    liblzma::stream::Stream::new_stream_decoder(u64::MAX, liblzma::stream::IGNORE_CHECK).map_err(Into::into)
}
