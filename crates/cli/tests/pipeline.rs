//! The fetch → unpack pipeline and bounded memory: the same bytes whatever
//! the number of jobs, the memory budget (everything in memory, or every
//! file spilled), the order downloads finish in and a mirror serving one
//! connection at a time; and a build whose content is bigger than the
//! memory its cgroup allows completes.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{describe, host_mirror, sha256sum, shared_cache, TestDir};

/// A loopback mirror in front of the host's, in one of two modes.
/// `shuffle`: each request waits a random 0–400 ms before it is passed on,
/// so downloads finish in an order of their own. `serial`: one connection
/// at a time, kept alive until it has been idle for 300 ms, while the others
/// wait to be accepted. It logs each `.deb` it served, in order, to `log`.
const LOOPBACK_MIRROR: &str = r#"
import http.server, random, socketserver, sys, time, urllib.request
upstream, log = sys.argv[1].rstrip("/"), open(sys.argv[2], "a", buffering=1)
serial = sys.argv[3] == "serial"
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1" if serial else "HTTP/1.0"
    timeout = 0.3 if serial else None
    def do_GET(self):
        if not serial:
            time.sleep(random.random() * 0.4)
        try:
            with urllib.request.urlopen(upstream + self.path, timeout=60) as r:
                body = r.read()
        except urllib.error.HTTPError as e:
            self.send_error(e.code); return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path.endswith(".deb"):
            log.write(self.path.rsplit("/", 1)[-1] + "\n")
    def log_message(self, *args): pass
class Threading(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
server = (http.server.HTTPServer if serial else Threading)(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

struct Mirror {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Mirror {
    /// Starts the mirror in `mode` (`shuffle` or `serial`); its URL names
    /// `localhost`, so each build looks the name up.
    fn start(dir: &TestDir, mode: &str) -> Mirror {
        let log = dir.join(format!("served-{mode}.log"));
        let mut child = common::tool("python3", "python3")
            .arg("-c")
            .arg(LOOPBACK_MIRROR)
            .arg(host_mirror())
            .arg(&log)
            .arg(mode)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the loopback mirror");
        let mut port = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut port).expect("the mirror's port");
        let url = format!("http://localhost:{}", port.trim());
        Mirror { child, url, log }
    }

    fn served(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_owned).collect()
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn manifest(dir: &TestDir, name: &str, mirror: Option<&str>, include: &str, formats: &str) -> PathBuf {
    let source = mirror.map(|m| format!("[source]\nmirrors = [\"{m}\"]\n")).unwrap_or_default();
    dir.write(
        name,
        format!(
            "[image]\nname = \"pipeline\"\n{source}[packages]\ninclude = [{include}]\n[init]\nmode = \"none\"\n[output]\nformats = [{formats}]\n"
        ),
    )
}

const BOTH: &str = r#""tar", "tar.zst""#;

fn build(dir: &TestDir, manifest: &Path, out: &str, cache: &Path, extra: &[&str]) -> (String, String) {
    let mut mr = dir.microroot();
    mr.arg("build").arg(manifest).args(["--out", out]).arg("--cache-dir").arg(cache).args(extra);
    let output = mr.output();
    assert!(output.status.success(), "build {out} {extra:?} failed:\n{}", describe(&output));
    (sha256sum(&dir.join(out).join("rootfs.tar")), sha256sum(&dir.join(out).join("rootfs.tar.zst")))
}

#[test]
fn same_bytes_for_any_jobs_memory_budget_and_download_order() {
    let dir = TestDir::new();
    let include = r#""busybox", "python3-minimal", "zlib1g", "libsqlite3-0""#;
    let direct = manifest(&dir, "direct.toml", None, include, BOTH);
    let reference = build(&dir, &direct, "reference", &shared_cache(), &[]);

    let mirror = Mirror::start(&dir, "shuffle");
    let shuffled = manifest(&dir, "shuffled.toml", Some(&mirror.url), include, BOTH);
    // Fresh caches: every .deb comes through the shuffling mirror.
    let one_job_all_spilled =
        build(&dir, &shuffled, "a", &dir.join("cache-a"), &["--jobs", "1", "--memory-budget", "0"]);
    let served_a = mirror.served();
    let three_jobs_small_budget =
        build(&dir, &shuffled, "b", &dir.join("cache-b"), &["-j", "3", "--memory-budget", "1"]);
    assert_eq!(one_job_all_spilled, reference, "one job, every file spilled, shuffled downloads");
    assert_eq!(three_jobs_small_budget, reference, "three jobs, 1 MiB in memory, shuffled downloads");

    // The downloads did come through the mirror, and not in plan order.
    assert!(served_a.len() >= 8, "only {} .debs came through the mirror: {served_a:?}", served_a.len());
    let mut sorted = served_a.clone();
    sorted.sort();
    let served_b = &mirror.served()[served_a.len()..];
    assert!(
        served_a != sorted || served_b != sorted.as_slice(),
        "both builds' downloads finished in name order; the test proves nothing"
    );

    // A mirror that serves one connection at a time, and drops idle ones.
    let serial = Mirror::start(&dir, "serial");
    let one_at_a_time = manifest(&dir, "serial.toml", Some(&serial.url), include, BOTH);
    let four_jobs_one_connection = build(&dir, &one_at_a_time, "c", &dir.join("cache-c"), &["-j", "4"]);
    assert_eq!(four_jobs_one_connection, reference, "four jobs, a mirror serving one connection at a time");
    assert_eq!(serial.served().len(), served_a.len(), "every .deb came through the serial mirror");

    // The first build kept each .deb's decoded data in its cache; a rebuild
    // reads packages from there, and a corrupt copy is noticed and made
    // again, all with the same bytes out.
    let cache_a = dir.join("cache-a");
    let records: Vec<PathBuf> = std::fs::read_dir(cache_a.join("derived/deb-data-tar"))
        .expect("decoded data kept in the cache")
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(records.len(), served_a.len(), "one decoded copy per .deb");
    assert_eq!(build(&dir, &shuffled, "warm", &cache_a, &["-j", "2"]), reference, "from the decoded copies");
    let biggest = records
        .iter()
        .map(|r| {
            let sha = std::fs::read_to_string(r).unwrap().split(' ').next().unwrap().to_owned();
            cache_a.join("sha256").join(&sha[..2]).join(sha)
        })
        .max_by_key(|blob| std::fs::metadata(blob).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&biggest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&biggest, &bytes).unwrap();
    assert_eq!(build(&dir, &shuffled, "corrupt", &cache_a, &[]), reference, "a corrupt decoded copy");
    bytes[middle] ^= 0xff;
    assert_eq!(std::fs::read(&biggest).unwrap(), bytes, "the copy was made again");
}

/// A memory cgroup of `limit` bytes (v2 `memory.max`, or v1's
/// `memory.limit_in_bytes`), removed on drop.
struct Cgroup(PathBuf);

impl Cgroup {
    fn new(limit: u64) -> Cgroup {
        let name = format!("microroot-test-{}", std::process::id());
        let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
        let (path, file) = if v2 {
            (Path::new("/sys/fs/cgroup").join(&name), "memory.max")
        } else {
            (Path::new("/sys/fs/cgroup/memory").join(&name), "memory.limit_in_bytes")
        };
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("create {} (this test needs root): {e}", path.display()));
        let cgroup = Cgroup(path);
        std::fs::write(cgroup.0.join(file), limit.to_string()).expect("set the memory limit");
        if !v2 {
            // No swap to escape to: past the limit is the OOM killer.
            let _ = std::fs::write(cgroup.0.join("memory.memsw.limit_in_bytes"), limit.to_string());
        }
        cgroup
    }

    /// `command` started inside the cgroup.
    fn wrap(&self, command: &Command) -> Command {
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg("echo $$ > \"$1/cgroup.procs\" && shift && exec \"$@\"")
            .arg("sh")
            .arg(&self.0)
            .arg(command.get_program())
            .args(command.get_args());
        if let Some(dir) = command.get_current_dir() {
            sh.current_dir(dir);
        }
        for (key, value) in command.get_envs() {
            match value {
                Some(v) => sh.env(key, v),
                None => sh.env_remove(key),
            };
        }
        sh
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn a_build_bigger_than_its_memory_cgroup_completes() {
    const LIMIT: u64 = 160 << 20;
    let dir = TestDir::new();
    // libllvm19 alone is about 130 MB of files; with gcc's back end, more.
    // Only the tarball: a compressor's own memory (per thread, whatever the
    // image's size) is not what this test is about.
    let m = manifest(&dir, "big.toml", None, r#""libllvm19", "cpp-14""#, r#""tar""#);
    // The plan is made outside the cgroup: resolving reads the whole
    // Packages index, which is not what this test is about.
    dir.microroot().arg("lock").arg(&m).arg("--cache-dir").arg(shared_cache()).stdout();
    let cgroup = Cgroup::new(LIMIT);
    let run = |out: &str, extra: &[&str]| {
        let mut mr = dir.microroot();
        mr.args(["build", "--locked", "--out", out]).args(extra).arg(&m).arg("--cache-dir").arg(shared_cache());
        cgroup.wrap(mr.command()).output().expect("run microroot in the cgroup")
    };
    // Contents spilled past a 32 MiB budget; then, in whatever cache state
    // that left, contents left in the cache's decoded copies.
    for (out, extra) in [("spilled", &["--memory-budget", "32", "--no-decoded-cache"][..]), ("kept", &[][..])] {
        let bounded = run(out, extra);
        assert!(bounded.status.success(), "the build {extra:?} failed in {LIMIT} bytes:\n{}", describe(&bounded));
        let size = std::fs::metadata(dir.join(out).join("rootfs.tar")).unwrap().len();
        assert!(size > LIMIT, "the image ({size} bytes) should be bigger than the cgroup's limit");
    }
    // The same build holding every file in memory does not fit: the
    // limit is real, and the budget is what kept the first one inside it.
    let unbounded = run("unbounded", &["--memory-budget", "100000", "--no-decoded-cache"]);
    assert!(!unbounded.status.success(), "everything in memory fit in {LIMIT} bytes; the limit proves nothing");
    assert!(!dir.join("unbounded/rootfs.tar").exists(), "a killed build left an output");
}
