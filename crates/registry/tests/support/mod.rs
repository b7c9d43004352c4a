//! A real `docker-registry` (docker/distribution 2.8, Debian package
//! `docker-registry`) on 127.0.0.1 with filesystem storage in a temp dir,
//! killed when the guard drops.
#![allow(dead_code)] // each test binary uses a different subset

pub mod token;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use microroot_registry::{Client, ClientOptions, Credentials, Repository, RetryPolicy};

/// Overrides where the registry binary is looked for.
pub const BINARY_ENV: &str = "MICROROOT_DOCKER_REGISTRY";

/// The htpasswd line for user `tester`, password `s3cret`: bcrypt cost 4,
/// made with python3 `crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))`.
pub const HTPASSWD: &str = "tester:$2b$04$CCB.AiioG1M99PF736PAp.nq57kQV2ziIBB6XZdh1M/cjIRUOeItG\n";
pub const USER: &str = "tester";
pub const PASSWORD: &str = "s3cret";

pub struct Registry {
    child: Child,
    host: String,
    dir: tempfile::TempDir,
}

impl Registry {
    /// An open registry (no auth).
    pub fn start() -> Self {
        Self::start_with(&Auth::None)
    }

    /// A registry requiring Basic auth as [`USER`]/[`PASSWORD`] (htpasswd).
    pub fn start_with_auth() -> Self {
        Self::start_with(&Auth::Htpasswd)
    }

    /// A registry trusting Bearer tokens from `server`.
    pub fn start_with_tokens(server: &token::TokenServer) -> Self {
        Self::start_with(&Auth::Token { realm: server.realm(), cert: server.cert_path() })
    }

    fn start_with(auth: &Auth) -> Self {
        let binary = find_binary();
        let dir = tempfile::tempdir().unwrap();
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            let config = write_config(dir.path(), port, auth);
            let log = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap();
            let mut child = Command::new(&binary)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log("stdout.log"))
                .stderr(log("stderr.log"))
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
            let host = format!("127.0.0.1:{port}");
            if wait_ready(&mut child, &host) {
                return Self { child, host, dir };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
        }
        panic!("docker-registry did not come up; its log:\n{last_log}");
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// A repository on this registry.
    pub fn repo(&self, name: &str) -> Repository {
        Repository::parse(&format!("{}/{name}", self.host)).unwrap()
    }

    /// Options trusting this registry over plain HTTP, with quick retries.
    pub fn options(&self) -> ClientOptions {
        ClientOptions {
            insecure: vec![self.host.clone()],
            retry: RetryPolicy { base_delay: Duration::from_millis(50), ..RetryPolicy::default() },
            ..ClientOptions::default()
        }
    }

    pub fn client(&self) -> Client {
        Client::new(self.options())
    }

    pub fn client_with_login(&self, user: &str, password: &str) -> Client {
        let mut credentials = Credentials::new();
        credentials.insert(&self.host, user, password);
        Client::new(ClientOptions { credentials, ..self.options() })
    }

    /// The filesystem driver's root.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data/docker/registry/v2")
    }

    /// The access log so far (one Apache-style line per request).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    /// Access-log lines of `method` requests whose path contains `needle`.
    pub fn requests(&self, method: &str, needle: &str) -> Vec<String> {
        let prefix = format!("\"{method} ");
        self.access_log().lines().filter(|l| l.contains(&prefix) && l.contains(needle)).map(str::to_string).collect()
    }

    /// The registry's process id, for signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_binary() -> PathBuf {
    const MISSING: &str = "these tests need a real registry: install the Debian package docker-registry \
                           (apt-get install docker-registry)";
    if let Some(path) = std::env::var_os(BINARY_ENV) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{BINARY_ENV}={} is not a file; {MISSING} or fix {BINARY_ENV}", path.display());
        return path;
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("docker-registry"))
        .chain([PathBuf::from("/usr/bin/docker-registry")]);
    for candidate in on_path {
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("docker-registry not found on PATH or at /usr/bin/docker-registry; {MISSING} or set {BINARY_ENV}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

enum Auth {
    None,
    Htpasswd,
    Token { realm: String, cert: PathBuf },
}

fn write_config(dir: &Path, port: u16, auth: &Auth) -> PathBuf {
    let data = dir.join("data");
    let mut yaml = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  \
         delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: microroot-test-secret\n",
        data.display()
    );
    match auth {
        Auth::None => {}
        Auth::Htpasswd => {
            let htpasswd = dir.join("htpasswd");
            std::fs::write(&htpasswd, HTPASSWD).unwrap();
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: microroot-test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        Auth::Token { realm, cert } => yaml.push_str(&format!(
            "auth:\n  token:\n    realm: {realm}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
            token::SERVICE,
            token::ISSUER,
            cert.display()
        )),
    }
    let path = dir.join("config.yml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Waits until `GET /v2/` answers 200 or 401; false if the process died.
fn wait_ready(child: &mut Child, host: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(mut stream) = TcpStream::connect(host) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let request = format!("GET /v2/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            let mut reply = String::new();
            let answered = stream.write_all(request.as_bytes()).is_ok() && stream.read_to_string(&mut reply).is_ok();
            if answered && (reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.1 401")) {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// `n` bytes of deterministic, incompressible-looking data.
pub fn data(n: usize, seed: u8) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(seed);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A front for a real registry that answers the first requests itself
/// with the statuses it was given (a rate limit, an overloaded server, a
/// redirect to storage), then passes everything through to the registry
/// behind it. It records when each request arrived and what it was
/// answered.
pub struct Throttle {
    host: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<(Instant, u16)>>>,
}

impl Throttle {
    /// `refusals`: one `(status, header lines)` per request to answer
    /// itself; in the headers `$UPSTREAM` is the registry behind and
    /// `$PATH` the request's path.
    pub fn start(upstream: &str, refusals: Vec<(u16, &'static str)>) -> Throttle {
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let log: Arc<Mutex<Vec<(Instant, u16)>>> = Arc::default();
        let refusals = Arc::new(Mutex::new(std::collections::VecDeque::from(refusals)));
        let (upstream, shared_log) = (upstream.to_owned(), log.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut client) = conn else { continue };
                let (upstream, log, refusals) = (upstream.clone(), shared_log.clone(), refusals.clone());
                std::thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if client.read(&mut byte).unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let refusal = refusals.lock().unwrap().pop_front();
                    if let Some((status, headers)) = refusal {
                        log.lock().unwrap().push((Instant::now(), status));
                        let text = String::from_utf8_lossy(&head);
                        let path = text.split(' ').nth(1).unwrap_or("/");
                        let header = headers.replace("$UPSTREAM", &upstream).replace("$PATH", path);
                        let body = "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"slow down\"}]}";
                        let _ = write!(
                            client,
                            "HTTP/1.1 {status} Refused\r\n{header}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        return;
                    }
                    log.lock().unwrap().push((Instant::now(), 0));
                    let Ok(mut server) = TcpStream::connect(&upstream) else { return };
                    if server.write_all(&head).is_err() {
                        return;
                    }
                    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                    let up = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut c2, &mut s2);
                        let _ = s2.shutdown(std::net::Shutdown::Write);
                    });
                    let _ = std::io::copy(&mut server, &mut client);
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    let _ = up.join();
                });
            }
        });
        Throttle { host, log }
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Each request so far: when it came, and the status given (0: passed through).
    pub fn requests(&self) -> Vec<(Instant, u16)> {
        self.log.lock().unwrap().clone()
    }
}
