//! A client for the OCI distribution spec v1.1: it moves bytes named by
//! digests and media types between this machine and a registry, and knows
//! nothing about what an image contains.
//!
//! Data flow: a [`Reference`] (`[registry/]repo[:tag][@digest]`, parsed
//! like docker does) or a [`Repository`] names where; a [`Client`] built
//! from [`ClientOptions`] does the HTTP. Pulls: [`Client::manifest`]
//! returns a [`Manifest`] (media type, bytes, [`Digest`]);
//! [`Client::blob`] / [`Client::blob_to_writer`] stream a blob, checking
//! its size and SHA-256 as it arrives. Pushes: [`Client::push_blob`] (or
//! [`Client::push_blob_mounting`]) skips blobs the repository has, mounts
//! from a sibling repository when asked, else uploads in one `PUT` or in
//! `PATCH` chunks; [`Client::push_manifest`] stores a manifest by tag or
//! digest.
//!
//! Every request may meet a 401: the `WWW-Authenticate` challenge is
//! answered with a Bearer token from the realm (anonymous, or with the
//! registry's [`Credentials`]) or with Basic auth, and the token is cached
//! per scope. Transient failures (connection errors, 408, 429, 5xx gateway
//! errors) are retried under a [`RetryPolicy`], honouring `Retry-After`.
//!
//! Fail closed: registries are HTTPS only unless named in
//! [`ClientOptions::insecure`]; no manifest or blob is returned unless its
//! digest matched, and nothing is pushed under a digest it does not have.

mod auth;
mod challenge;
mod client;
mod credentials;
mod digest;
mod error;
mod http;
pub mod media;
mod pull;
mod push;
mod reference;
mod reporter;
mod retry;

pub use challenge::{parse_www_authenticate, Challenge};
pub use client::{Client, ClientOptions, DEFAULT_CHUNK_SIZE};
pub use credentials::{Credentials, Login, REGISTRY_AUTH_FILE_ENV};
pub use digest::Digest;
pub use error::{Error, Result};
pub use pull::{Manifest, MAX_MANIFEST_BYTES};
pub use push::PushOutcome;
pub use reference::{api_host, Reference, Repository, DEFAULT_REGISTRY, DEFAULT_TAG, DOCKER_HUB_API_HOST};
pub use reporter::{NoopReporter, Reporter};
pub use retry::{is_transient_status, parse_retry_after, RetryPolicy};
