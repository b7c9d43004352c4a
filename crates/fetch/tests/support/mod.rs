//! Test support: a real HTTP/1.1 server on loopback that plays scripted
//! replies per path, a recording reporter, and small helpers.
#![allow(dead_code)] // each test binary uses a different subset

pub mod lookup;

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use microroot_fetch::{Cache, FetchOptions, Fetcher, Reporter, RetryPolicy};

/// One scripted reply. The last reply of a script repeats forever.
#[derive(Clone, Debug)]
pub enum Reply {
    /// 200 with the body.
    Body(Vec<u8>),
    /// 200 with the body, after a pause.
    Delayed(Duration, Vec<u8>),
    /// A status with an empty body and optional `Retry-After` seconds.
    Status(u16, Option<u64>),
    /// Announce `declared` bytes, send `body`, hang up.
    Truncated { body: Vec<u8>, declared: usize },
    /// Announce `declared` bytes, send `body`, then go silent for `wait`.
    Stall { body: Vec<u8>, declared: usize, wait: Duration },
}

/// How the server treats connections.
#[derive(Clone, Copy, Debug)]
pub enum Conns {
    /// One request per connection (`Connection: close`), all at once.
    Close,
    /// Keep-alive, connections served at the same time.
    KeepAlive,
    /// Keep-alive, one connection at a time: the next is accepted only
    /// once the client has closed or been silent for `idle`.
    OneAtATime { idle: Duration },
}

#[derive(Default)]
struct State {
    scripts: Mutex<HashMap<String, VecDeque<Reply>>>,
    hits: Mutex<HashMap<String, usize>>,
    accepted: AtomicUsize,
}

/// A server that lives as long as this value.
pub struct Server {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
}

impl Server {
    pub fn start() -> Self {
        Self::start_with("127.0.0.1:0", Conns::Close)
    }

    /// A server on `bind` (e.g. `[::1]:0`) treating connections as `conns`.
    pub fn start_with(bind: &str, conns: Conns) -> Self {
        let listener = TcpListener::bind(bind).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                st.accepted.fetch_add(1, Ordering::SeqCst);
                let st = st.clone();
                match conns {
                    Conns::OneAtATime { .. } => handle(stream, &st, conns),
                    _ => drop(thread::spawn(move || handle(stream, &st, conns))),
                }
            }
        });
        Self { addr, state, stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The URL with `host` in place of the address, e.g. `localhost`.
    pub fn url_on(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.addr.port())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// Replies for `path`, in order; the last one repeats.
    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        let mut scripts = self.state.scripts.lock().unwrap();
        scripts.insert(path.to_string(), replies.into());
    }

    /// Always serve `body` at `path`.
    pub fn serve(&self, path: &str, body: &[u8]) {
        self.script(path, vec![Reply::Body(body.to_vec())]);
    }

    /// Requests seen for `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.state.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wake the accept loop
    }
}

fn handle(mut stream: TcpStream, state: &State, conns: Conns) {
    let idle = match conns {
        Conns::OneAtATime { idle } => idle,
        _ => Duration::from_secs(10),
    };
    let _ = stream.set_read_timeout(Some(idle));
    let keep_alive = !matches!(conns, Conns::Close);
    while let Some(path) = read_request_path(&mut stream) {
        *state.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
        let reply = {
            let mut scripts = state.scripts.lock().unwrap();
            match scripts.get_mut(&path) {
                Some(queue) if queue.len() > 1 => queue.pop_front(),
                Some(queue) => queue.front().cloned(),
                None => None,
            }
        };
        let reply = reply.unwrap_or(Reply::Status(404, None));
        // A short or stalled body leaves the connection unusable.
        let reusable = keep_alive && matches!(reply, Reply::Body(_) | Reply::Delayed(..) | Reply::Status(..));
        if send(&mut stream, reply, reusable).is_err() || !reusable {
            return;
        }
    }
}

fn read_request_path(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).ok().filter(|&n| n > 0)?;
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head).lines().next()?.to_string();
    line.split(' ').nth(1).map(str::to_string)
}

fn send(stream: &mut TcpStream, reply: Reply, keep_alive: bool) -> std::io::Result<()> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let head = |status: u16, len: usize, extra: &str| {
        format!("HTTP/1.1 {status} X\r\nContent-Length: {len}\r\nConnection: {connection}\r\n{extra}\r\n")
    };
    match reply {
        Reply::Body(body) => {
            stream.write_all(head(200, body.len(), "").as_bytes())?;
            stream.write_all(&body)
        }
        Reply::Delayed(wait, body) => {
            thread::sleep(wait);
            stream.write_all(head(200, body.len(), "").as_bytes())?;
            stream.write_all(&body)
        }
        Reply::Status(status, retry_after) => {
            let extra = retry_after.map_or(String::new(), |s| format!("Retry-After: {s}\r\n"));
            stream.write_all(head(status, 0, &extra).as_bytes())
        }
        Reply::Truncated { body, declared } => {
            stream.write_all(head(200, declared, "").as_bytes())?;
            stream.write_all(&body)
        }
        Reply::Stall { body, declared, wait } => {
            stream.write_all(head(200, declared, "").as_bytes())?;
            stream.write_all(&body)?;
            stream.flush()?;
            thread::sleep(wait);
            Ok(())
        }
    }
}

/// Records every event as a line of text.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<String>>);

impl Recorder {
    pub fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub fn count(&self, prefix: &str) -> usize {
        self.events().iter().filter(|e| e.starts_with(prefix)).count()
    }

    fn push(&self, event: String) {
        self.0.lock().unwrap().push(event);
    }
}

impl Reporter for Recorder {
    fn download_start(&self, name: &str, total: Option<u64>) {
        self.push(format!("start {name} {total:?}"));
    }
    fn download_done(&self, name: &str, from_cache: bool) {
        self.push(format!("done {name} cache={from_cache}"));
    }
    fn download_failed(&self, name: &str, _error: &microroot_fetch::Error) {
        self.push(format!("failed {name}"));
    }
    fn retry(&self, name: &str, attempt: u32, reason: &str) {
        self.push(format!("retry {name} {attempt} {reason}"));
    }
}

/// Options with short waits so retry tests run fast.
pub fn fast_options() -> FetchOptions {
    FetchOptions {
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(5),
        },
        ..FetchOptions::default()
    }
}

/// A fetcher over a fresh cache in `dir`, reporting to a [`Recorder`].
pub fn fetcher(dir: &Path, options: FetchOptions) -> (Fetcher, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let fetcher = Fetcher::new(Cache::new(dir.join("cache")), options).with_reporter(recorder.clone());
    (fetcher, recorder)
}

/// Every file under `dir` (recursively).
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Temp files left anywhere in the cache.
pub fn temp_files(dir: &Path) -> Vec<PathBuf> {
    all_files(dir).into_iter().filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(".tmp-")).collect()
}

/// Deterministic test content of `len` bytes.
pub fn blob(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}
