//! OCI outputs checked by the real tools: skopeo reads the layout and both
//! archives, umoci unpacks the layout, runc runs the runtime bundle; digests
//! are reproducible. Then a real registry (Debian's docker-registry on
//! 127.0.0.1): `microroot push`, pull back and compare digests, mount blobs
//! across repositories, and build an image on the pushed base. Docker's
//! own daemon (private to the test) loads the docker-archive, runs it, and
//! pulls what `microroot push` sent.

mod common;

#[path = "../../image/tests/schemas/validate.rs"]
mod validate;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{describe, run_ok, shared_cache, tool, TestDir};

fn build(dir: &TestDir, manifest: &Path, out: &str, extra: &[&str]) -> serde_json::Value {
    let stdout = dir
        .microroot()
        .arg("--cache-dir")
        .arg(shared_cache())
        .arg("--json")
        .args(extra)
        .arg("build")
        .arg(manifest)
        .args(["--out", out])
        .stdout();
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("--json output: {e}\n{stdout}"))
}

fn skopeo_json(args: &[&str]) -> serde_json::Value {
    let out = run_ok(tool("skopeo", "skopeo").args(args));
    serde_json::from_slice(&out.stdout).expect("skopeo prints JSON")
}

fn output<'a>(report: &'a serde_json::Value, format: &str) -> &'a serde_json::Value {
    report["outputs"].as_array().unwrap().iter().find(|o| o["format"] == format).unwrap()
}

const APP: &str = r#"
[image]
name = "ociapp"
tag = "microroot/ociapp:1.0"
[packages]
include = ["busybox", "libc6"]
[config]
entrypoint = ["/bin/sh", "-c"]
cmd = ["echo \"hello from $(cat /etc/hostname) in $PWD as $(id -u)\"; exit 3"]
env = { GREETING = "hi" }
workdir = "/srv"
ports = ["8080"]
labels = { "org.opencontainers.image.title" = "ociapp" }
[[dirs]]
path = "/srv"
[output]
formats = ["oci", "oci-archive", "docker-archive", "bundle"]
layers = "packages"
"#;

#[test]
fn oci_outputs_are_read_by_skopeo_and_umoci_and_run_by_runc() {
    let dir = TestDir::new();
    let manifest = dir.write("app.toml", APP);
    let report = build(&dir, &manifest, "out", &[]);
    let layout = dir.join("out/image.oci");
    let digest = output(&report, "oci")["sha256"].as_str().unwrap().to_owned();

    // The layout, by its tag: skopeo reports the config microroot wrote.
    let inspect = skopeo_json(&["inspect", &format!("oci:{}:1.0", layout.display())]);
    assert_eq!(inspect["Digest"], format!("sha256:{digest}"), "{inspect}");
    assert_eq!(inspect["Architecture"], "amd64");
    assert_eq!(inspect["Labels"]["org.opencontainers.image.title"], "ociapp");
    let env: Vec<&str> = inspect["Env"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(env.contains(&"GREETING=hi") && env.iter().any(|e| e.starts_with("PATH=")), "{env:?}");
    // A layer per package (busybox, libc6, libgcc-s1; gcc-14-base has no
    // files left) plus microroot's own files.
    let layers = inspect["Layers"].as_array().unwrap().len();
    assert_eq!(layers, 4, "{inspect}");
    let config = skopeo_json(&["inspect", "--config", &format!("oci:{}:1.0", layout.display())]);
    assert_eq!(config["config"]["WorkingDir"], "/srv");
    assert!(config["config"]["ExposedPorts"]["8080/tcp"].is_object(), "{config}");

    // Both archives hold the same image.
    let archive = skopeo_json(&["inspect", &format!("oci-archive:{}", dir.join("out/image.oci.tar").display())]);
    assert_eq!(archive["Digest"], inspect["Digest"]);
    let docker = skopeo_json(&[
        "inspect",
        "--config",
        &format!("docker-archive:{}", dir.join("out/image.docker.tar").display()),
    ]);
    assert_eq!(docker["rootfs"]["diff_ids"], config["rootfs"]["diff_ids"]);
    // skopeo copies the layout without changing a byte of the manifest.
    let copy = dir.join("copy");
    run_ok(tool("skopeo", "skopeo").args([
        "copy",
        &format!("oci:{}:1.0", layout.display()),
        &format!("oci:{}:copied", copy.display()),
    ]));
    let copied = skopeo_json(&["inspect", &format!("oci:{}:copied", copy.display())]);
    assert_eq!(copied["Digest"], inspect["Digest"]);

    // umoci unpacks it into a bundle with the image's files.
    let unpacked = dir.join("umoci");
    run_ok(
        tool("umoci", "umoci")
            .args(["unpack", "--rootless", "--image"])
            .arg(format!("{}:1.0", layout.display()))
            .arg(&unpacked),
    );
    let sh = std::fs::symlink_metadata(unpacked.join("rootfs/usr/bin/busybox")).unwrap();
    assert!(sh.is_file() && sh.len() > 500_000);
    assert_eq!(std::fs::read_to_string(unpacked.join("rootfs/etc/hostname")).unwrap(), "microroot\n");

    // runc runs microroot's own bundle: output, cwd, user and exit code.
    let id = format!("microroot-test-{}", std::process::id());
    let run = tool("runc", "runc").args(["run", "--bundle"]).arg(dir.join("out/bundle")).arg(&id).output().unwrap();
    let _ = Command::new("runc").args(["delete", "--force", &id]).output();
    assert_eq!(run.status.code(), Some(3), "{}", describe(&run));
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), "hello from microroot in /srv as 0", "{}", describe(&run));

    // inspect and diff read the images back: the same tree in all three.
    let inspected: serde_json::Value =
        serde_json::from_str(&dir.microroot().args(["--json", "inspect"]).arg(&layout).stdout()).unwrap();
    assert_eq!(inspected["format"], "oci");
    assert_eq!(inspected["total_bytes"], report["content_bytes"], "{inspected}");
    let diff: serde_json::Value = serde_json::from_str(
        &dir.microroot()
            .args(["--json", "diff"])
            .arg(dir.join("out/image.oci.tar"))
            .arg(dir.join("out/image.docker.tar"))
            .stdout(),
    )
    .unwrap();
    assert_eq!(diff["same"], true, "{diff}");

    // The same manifest builds the same digests elsewhere.
    let again = build(&dir, &manifest, "out2", &[]);
    assert_eq!(output(&again, "oci")["sha256"], output(&report, "oci")["sha256"]);
    assert_eq!(output(&again, "oci-archive")["sha256"], output(&report, "oci-archive")["sha256"]);
    assert_eq!(output(&again, "docker-archive")["sha256"], output(&report, "docker-archive")["sha256"]);
}

/// Debian's docker-registry serving a temp dir on a free 127.0.0.1 port.
struct Registry {
    child: Child,
    host: String,
    _dir: TestDir,
}

impl Registry {
    fn start() -> Registry {
        let dir = TestDir::new();
        let port = TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
        let host = format!("127.0.0.1:{port}");
        let config = dir.write(
            "config.yml",
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {host}\n",
                dir.join("data").display()
            ),
        );
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = tool("docker-registry", "docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start docker-registry");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not listen on {host}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Registry { child, host, _dir: dir }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn push(dir: &TestDir, registry: &Registry, image: &Path, reference: &str, extra: &[&str]) -> serde_json::Value {
    let stdout = dir
        .microroot()
        .args(["--json", "--insecure", &registry.host, "push"])
        .args(extra)
        .arg(image)
        .arg(reference)
        .stdout();
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("push --json: {e}\n{stdout}"))
}

#[test]
fn push_pull_back_and_build_on_the_pushed_base() {
    let registry = Registry::start();
    let dir = TestDir::new();
    let manifest = dir.write("app.toml", APP);
    let report = build(&dir, &manifest, "out", &[]);
    let digest = format!("sha256:{}", output(&report, "oci")["sha256"].as_str().unwrap());

    // Push the layout; skopeo pulls it back by tag with the same digest.
    let reference = format!("{}/team/app:1.0", registry.host);
    let pushed = push(&dir, &registry, &dir.join("out/image.oci"), &reference, &[]);
    assert_eq!(pushed["digest"], digest.as_str(), "{pushed}");
    assert!(pushed["blobs"].as_array().unwrap().iter().all(|b| b["outcome"] == "uploaded"), "{pushed}");
    let remote = skopeo_json(&["inspect", "--tls-verify=false", &format!("docker://{reference}")]);
    assert_eq!(remote["Digest"], digest.as_str());
    let pulled = dir.join("pulled");
    run_ok(tool("skopeo", "skopeo").args([
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{reference}"),
        &format!("oci:{}:pulled", pulled.display()),
    ]));
    let back = skopeo_json(&["inspect", &format!("oci:{}:pulled", pulled.display())]);
    assert_eq!(back["Digest"], digest.as_str());

    // Pushed again: every blob is already there. Into another repository
    // with --from: every blob is mounted, none uploaded.
    let again = push(&dir, &registry, &dir.join("out/image.oci.tar"), &reference, &[]);
    assert!(again["blobs"].as_array().unwrap().iter().all(|b| b["outcome"] == "existed"), "{again}");
    let mounted = push(
        &dir,
        &registry,
        &dir.join("out/image.oci"),
        &format!("{}/other/app:1.0", registry.host),
        &["--from", "team/app"],
    );
    assert!(mounted["blobs"].as_array().unwrap().iter().all(|b| b["outcome"] == "mounted"), "{mounted}");
    // A docker-archive is pushed as an OCI manifest with its own layers.
    let docker =
        push(&dir, &registry, &dir.join("out/image.docker.tar"), &format!("{}/team/docker:1", registry.host), &[]);
    let remote = skopeo_json(&[
        "inspect",
        "--config",
        "--tls-verify=false",
        &format!("docker://{}/team/docker:1", registry.host),
    ]);
    assert_eq!(remote["config"]["WorkingDir"], "/srv", "{docker}");

    // An image on the pushed base: the base's files, the new package and
    // file on top, both packages in the dpkg database; the tag is pinned
    // by digest in the lockfile.
    let child = dir.write(
        "child.toml",
        format!(
            r#"base = "{reference}"
[image]
name = "child"
[packages]
include = ["zlib1g"]
[[files]]
path = "/etc/motd"
content = "built on a base\n"
[config]
cmd = ["/bin/sh", "-c", "cat /etc/motd; ls /usr/lib/x86_64-linux-gnu/libz.so.1; grep -c '^Package: busybox$' /var/lib/dpkg/status"]
[output]
formats = ["oci", "bundle"]
"#
        ),
    );
    dir.microroot()
        .arg("--cache-dir")
        .arg(shared_cache())
        .args(["--insecure", &registry.host, "lock"])
        .arg(&child)
        .stdout();
    let lock = std::fs::read_to_string(dir.join("child.lock"))
        .or_else(|_| std::fs::read_to_string(dir.join("microroot.lock")));
    let lock = lock.unwrap_or_else(|_| {
        let found: Vec<PathBuf> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        panic!("no lockfile beside child.toml: {found:?}")
    });
    assert!(lock.contains(&digest), "the base is pinned by digest:\n{lock}");
    // zlib1g needs libc6, which the base has: only zlib1g is planned.
    let planned: Vec<&str> = lock.lines().filter_map(|l| l.strip_prefix("name = \"")).collect();
    assert_eq!(planned, ["zlib1g\""], "only what the base lacks is planned:\n{lock}");
    build(&dir, &child, "child-out", &["--insecure", &registry.host]);
    let id = format!("microroot-child-{}", std::process::id());
    let run =
        tool("runc", "runc").args(["run", "--bundle"]).arg(dir.join("child-out/bundle")).arg(&id).output().unwrap();
    let _ = Command::new("runc").args(["delete", "--force", &id]).output();
    assert!(run.status.success(), "{}", describe(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(stdout, "built on a base\n/usr/lib/x86_64-linux-gnu/libz.so.1\n1\n", "{}", describe(&run));

    // The SBOMs list the base's packages too (without a .deb checksum),
    // and stay valid.
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join("child-out").join(name)).unwrap()).unwrap()
    };
    let (spdx, cdx) = (read("sbom.spdx.json"), read("sbom.cdx.json"));
    validate::assert_valid(&validate::spdx(), &spdx, "sbom.spdx.json of an image on a base");
    validate::assert_valid(&validate::cyclonedx(), &cdx, "sbom.cdx.json of an image on a base");
    let busybox = spdx["packages"].as_array().unwrap().iter().find(|p| p["name"] == "busybox").expect("busybox");
    assert_eq!(busybox["comment"], "installed in the base image", "{busybox}");
    let zlib = cdx["components"].as_array().unwrap().iter().find(|c| c["name"] == "zlib1g").expect("zlib1g");
    assert!(zlib["hashes"][0]["content"].as_str().is_some_and(|h| h.len() == 64), "{zlib}");
    // zlib1g depends on the base's libc6.
    let id = |name: &str| {
        let p = spdx["packages"].as_array().unwrap().iter().find(|p| p["name"] == name).expect(name);
        p["SPDXID"].as_str().unwrap().to_owned()
    };
    let (zlib, libc6) = (id("zlib1g"), id("libc6"));
    assert!(
        spdx["relationships"].as_array().unwrap().iter().any(|r| r["spdxElementId"] == zlib.as_str()
            && r["relationshipType"] == "DEPENDS_ON"
            && r["relatedSpdxElement"] == libc6.as_str()),
        "{}",
        spdx["relationships"]
    );
}

#[test]
fn registry_and_base_errors_name_the_thing_and_the_fix() {
    let registry = Registry::start();
    let dir = TestDir::new();
    // Plain HTTP to a registry not named by --insecure is refused.
    let image = dir.join("nothing");
    std::fs::create_dir_all(&image).unwrap();
    let m = dir.write("m.toml", format!("base = \"{}/no/such:tag\"\n[output]\nformats = [\"oci\"]\n", registry.host));
    let err =
        dir.microroot().arg("--cache-dir").arg(shared_cache()).arg("build").arg(&m).args(["--out", "out"]).fails();
    assert!(err.contains("--insecure"), "{err}");
    // Over HTTP, an unknown tag is named as not found.
    let err = dir
        .microroot()
        .arg("--cache-dir")
        .arg(shared_cache())
        .args(["--insecure", &registry.host, "build"])
        .arg(&m)
        .args(["--out", "out"])
        .fails();
    assert!(err.contains("no/such") && err.contains("not found"), "{err}");
    assert!(!dir.join("out").exists(), "no partial output");
    // A base file that is not an image.
    dir.write("bad.tar", b"not a tar at all");
    let m = dir.write("bad.toml", "base = \"bad.tar\"\n[output]\nformats = [\"oci\"]\n");
    let err =
        dir.microroot().arg("--cache-dir").arg(shared_cache()).arg("build").arg(&m).args(["--out", "out"]).fails();
    assert!(err.contains("bad.tar"), "{err}");
    // push of something that is not an image.
    let err = dir
        .microroot()
        .args(["--insecure", &registry.host, "push"])
        .arg(&image)
        .arg(format!("{}/x:1", registry.host))
        .fails();
    assert!(err.contains("nothing"), "{err}");
}

#[test]
fn the_oci_example_runs_as_its_user_in_runc() {
    let dir = TestDir::new();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/oci.toml");
    build(&dir, &example, "out", &[]);
    let id = format!("microroot-example-{}", std::process::id());
    let run = tool("runc", "runc").args(["run", "--bundle"]).arg(dir.join("out/bundle")).arg(&id).output().unwrap();
    let _ = Command::new("runc").args(["delete", "--force", &id]).output();
    assert!(run.status.success(), "{}", describe(&run));
    assert_eq!(String::from_utf8_lossy(&run.stdout), "hello from microroot as app in /srv\n", "{}", describe(&run));
}

/// Docker's own daemon (Debian's docker.io), private to one test: its own
/// socket, data and exec roots and config; no iptables, no bridge, vfs
/// storage, so it needs nothing from the host but root.
struct Dockerd {
    child: Child,
    socket: String,
    dir: TestDir,
}

impl Dockerd {
    fn start() -> Dockerd {
        let dir = TestDir::new();
        let socket = format!("unix://{}", dir.join("docker.sock").display());
        let config = dir.write("daemon.json", "{}");
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = tool("dockerd", "docker.io")
            .args(["--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs"])
            .arg("--config-file")
            .arg(&config)
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("dockerd.pid"))
            .args(["-H", &socket])
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start dockerd");
        let mut daemon = Dockerd { child, socket, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if daemon
                .docker()
                .args(["version", "--format", "{{.Server.Version}}"])
                .output()
                .is_ok_and(|o| o.status.success())
            {
                return daemon;
            }
            let exited = daemon.child.try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(daemon.dir.join("dockerd.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
                panic!("dockerd did not come up ({exited:?}); it needs root:\n{}", tail.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn docker(&self) -> Command {
        let mut cmd = tool("docker", "docker.io");
        cmd.env("DOCKER_CONFIG", self.dir.join("client")).args(["-H", &self.socket]);
        cmd
    }

    fn inspect(&self, image: &str) -> serde_json::Value {
        let out = run_ok(self.docker().args(["image", "inspect", image]));
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("docker image inspect prints JSON");
        list[0].clone()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // SIGTERM lets dockerd stop its containerd and unmount what it mounted.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The config digest the OCI layout's manifest names.
fn config_digest(layout: &Path) -> String {
    let read = |p: PathBuf| -> serde_json::Value { serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap() };
    let index = read(layout.join("index.json"));
    let manifest = index["manifests"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_owned();
    let manifest = read(layout.join("blobs/sha256").join(manifest));
    manifest["config"]["digest"].as_str().unwrap().to_owned()
}

#[test]
fn docker_loads_the_archive_and_pulls_the_pushed_image() {
    let dockerd = Dockerd::start();
    let registry = Registry::start();
    let dir = TestDir::new();
    let manifest = dir.write("app.toml", APP);
    build(&dir, &manifest, "out", &[]);
    let config = config_digest(&dir.join("out/image.oci"));

    // `docker load` takes the docker-archive: the image ID is the config
    // digest, the tag and the config are the manifest's.
    let load = run_ok(dockerd.docker().arg("load").arg("-i").arg(dir.join("out/image.docker.tar")));
    assert_eq!(
        String::from_utf8_lossy(&load.stdout).trim(),
        "Loaded image: microroot/ociapp:1.0",
        "{}",
        describe(&load)
    );
    let image = dockerd.inspect("microroot/ociapp:1.0");
    assert_eq!(image["Id"], config.as_str(), "{image}");
    assert_eq!(image["Architecture"], "amd64");
    assert_eq!(image["Config"]["WorkingDir"], "/srv");
    assert!(image["Config"]["ExposedPorts"]["8080/tcp"].is_object(), "{image}");
    assert_eq!(image["Config"]["Labels"]["org.opencontainers.image.title"], "ociapp");
    let env: Vec<&str> = image["Config"]["Env"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(env.contains(&"GREETING=hi"), "{env:?}");
    assert_eq!(image["RootFS"]["Layers"].as_array().unwrap().len(), 4, "{image}");

    // `docker run` runs it: output, working directory and exit code.
    let run = dockerd.docker().args(["run", "--rm", "--network=none", "microroot/ociapp:1.0"]).output().unwrap();
    assert_eq!(run.status.code(), Some(3), "{}", describe(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.starts_with("hello from ") && stdout.ends_with(" in /srv as 0\n"), "{}", describe(&run));

    // `docker pull` of what `microroot push` sent: the same manifest digest
    // and the same image ID.
    let reference = format!("{}/team/app:1.0", registry.host);
    let pushed = push(&dir, &registry, &dir.join("out/image.oci"), &reference, &[]);
    run_ok(dockerd.docker().args(["pull", "-q", &reference]));
    let pulled = dockerd.inspect(&reference);
    assert_eq!(pulled["Id"], config.as_str(), "{pulled}");
    let digest = pushed["digest"].as_str().unwrap();
    let repo_digest = format!("{}/team/app@{digest}", registry.host);
    assert!(pulled["RepoDigests"].as_array().unwrap().iter().any(|d| d == repo_digest.as_str()), "{pulled}");
    let run = dockerd.docker().args(["run", "--rm", "--network=none", &reference]).output().unwrap();
    assert_eq!(run.status.code(), Some(3), "{}", describe(&run));
}
