//! A token server for docker-registry's `auth: token` mode: it issues real
//! RS256 JWTs (signed by `openssl`, with the self-signed certificate in
//! `x5c`) that the registry verifies against its `rootcertbundle`.
//! Anonymous callers get `pull` only; [`super::USER`]/[`super::PASSWORD`]
//! get every action they ask for; other logins get 401.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;

pub const SERVICE: &str = "microroot-test-registry";
pub const ISSUER: &str = "microroot-test-issuer";

/// What one token request asked for and who asked.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub user: Option<String>,
    pub service: Option<String>,
    pub scopes: Vec<String>,
}

struct Keys {
    dir: tempfile::TempDir,
    cert_der: Vec<u8>,
}

pub struct TokenServer {
    addr: SocketAddr,
    keys: Arc<Keys>,
    seen: Arc<Mutex<Vec<TokenRequest>>>,
    stop: Arc<AtomicBool>,
}

impl TokenServer {
    pub fn start() -> Self {
        let keys = Arc::new(make_keys());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (k, s, st) = (keys.clone(), seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let (k, s) = (k.clone(), s.clone());
                    std::thread::spawn(move || handle(stream, &k, &s));
                }
            }
        });
        Self { addr, keys, seen, stop }
    }

    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    pub fn cert_path(&self) -> PathBuf {
        self.keys.dir.path().join("cert.pem")
    }

    pub fn requests(&self) -> Vec<TokenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn openssl(args: &[&str], dir: &Path, input: Option<&[u8]>) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl not found: install the Debian package openssl");
    child.stdin.take().unwrap().write_all(input.unwrap_or_default()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn make_keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let args = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem"];
    let mut all = args.to_vec();
    all.extend(["-days", "2", "-subj", "/CN=microroot-test-token-issuer"]);
    openssl(&all, dir.path(), None);
    let cert_der = openssl(&["x509", "-in", "cert.pem", "-outform", "DER"], dir.path(), None);
    Keys { dir, cert_der }
}

fn handle(stream: TcpStream, keys: &Keys, seen: &Mutex<Vec<TokenRequest>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let target = line.split(' ').nth(1).unwrap_or_default().to_string();
    let mut authorization = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_string());
            }
        }
    }
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let params: Vec<(String, String)> =
        query.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), percent_decode(v))).collect();
    let login = authorization
        .and_then(|a| a.strip_prefix("Basic ").map(str::to_string))
        .and_then(|b| STANDARD.decode(b).ok())
        .map(|raw| String::from_utf8(raw).unwrap());
    let request = TokenRequest {
        user: login.as_ref().map(|l| l.split(':').next().unwrap().to_string()),
        service: params.iter().find(|(k, _)| k == "service").map(|(_, v)| v.clone()),
        scopes: params.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.clone()).collect(),
    };
    seen.lock().unwrap().push(request.clone());
    let mut stream = stream;
    let full_rights = match login {
        None => false,
        Some(l) if l == format!("{}:{}", super::USER, super::PASSWORD) => true,
        Some(_) => {
            let body = r#"{"details":"invalid username or password"}"#;
            let reply = format!(
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
            return;
        }
    };
    let token = sign(keys, &request, full_rights);
    let body = format!(r#"{{"token":"{token}","expires_in":300}}"#);
    let reply = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes());
}

static JTI: AtomicU64 = AtomicU64::new(0);

fn sign(keys: &Keys, request: &TokenRequest, full_rights: bool) -> String {
    let access: Vec<_> = request
        .scopes
        .iter()
        .filter_map(|s| {
            let mut parts = s.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            let actions: Vec<&str> = actions.split(',').filter(|a| full_rights || *a == "pull").collect();
            Some(serde_json::json!({"type": kind, "name": name, "actions": actions}))
        })
        .collect();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [STANDARD.encode(&keys.cert_der)]});
    let claims = serde_json::json!({
        "iss": ISSUER,
        "sub": request.user.clone().unwrap_or_default(),
        "aud": SERVICE,
        "exp": now + 300,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("t{}", JTI.fetch_add(1, Ordering::SeqCst)),
        "access": access,
    });
    let encode = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let input = format!("{}.{}", encode(&header), encode(&claims));
    let signature = openssl(&["dgst", "-sha256", "-sign", "key.pem"], keys.dir.path(), Some(input.as_bytes()));
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8(out).unwrap()
}
