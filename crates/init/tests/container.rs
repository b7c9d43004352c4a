//! The real `microroot-init` binary in container mode (not PID 1, so a
//! child subreaper), running `sh -c` scripts.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use microroot_init::config::InitConfig;
use microroot_init::sys::{LinuxSys, Sys};

const INIT: &str = env!("CARGO_BIN_EXE_microroot-init");

fn sh(script: &str) -> Command {
    let mut command = Command::new(INIT);
    command.args(["--", "sh", "-c", script]).stdin(Stdio::null());
    command
}

fn run(mut command: Command) -> Output {
    command.output().expect("run microroot-init")
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or_else(|| panic!("init itself was killed: {output:?}"))
}

/// Polls until `ready` or panics after `limit`.
fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        sleep(Duration::from_millis(10));
    }
}

/// Children of `parent` with their state letter (`Z` for zombies), from
/// `/proc/*/stat`.
fn children_of(parent: u32) -> Vec<(u32, char)> {
    let mut children = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { continue };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if fields.next().and_then(|p| p.parse().ok()) == Some(parent) {
            children.push((pid, state));
        }
    }
    children
}

fn wait_exit(child: &mut Child, limit: Duration) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or_else(|| panic!("init killed: {status:?}"));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("init did not exit within {limit:?}");
        }
        sleep(Duration::from_millis(10));
    }
}

#[test]
fn exit_codes_propagate() {
    for status in [0, 3, 255] {
        let output = run(sh(&format!("exit {status}")));
        assert_eq!(code(&output), status, "{output:?}");
        assert!(output.stderr.is_empty(), "quiet by default: {output:?}");
    }
}

#[test]
fn death_by_signal_is_128_plus_the_signal() {
    assert_eq!(code(&run(sh("kill -KILL $$"))), 137);
    assert_eq!(code(&run(sh("kill -TERM $$"))), 143);
    assert_eq!(code(&run(sh("kill -USR1 $$"))), 128 + libc::SIGUSR1);
}

#[test]
fn signals_sent_to_init_reach_the_app() {
    for (name, number) in [
        ("TERM", libc::SIGTERM),
        ("INT", libc::SIGINT),
        ("HUP", libc::SIGHUP),
        ("QUIT", libc::SIGQUIT),
        ("USR1", libc::SIGUSR1),
        ("USR2", libc::SIGUSR2),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let script =
            format!("trap 'echo {name} > {d}/got; exit 0' {name}; touch {d}/ready; while :; do sleep 0.02; done");
        let mut init = sh(&script).spawn().unwrap();
        wait_until("the trap", Duration::from_secs(10), || dir.path().join("ready").exists());
        LinuxSys::new().kill(init.id() as i32, number).unwrap();
        assert_eq!(wait_exit(&mut init, Duration::from_secs(10)), 0, "{name}");
        assert_eq!(fs::read_to_string(dir.path().join("got")).unwrap(), format!("{name}\n"));
    }
}

#[test]
fn orphans_are_adopted_and_reaped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    // The orphan's parent (a subshell) exits at once, so init adopts it.
    let script = format!(
        "(sh -c 'echo $$ > {d}/orphan; while [ ! -e {d}/go ]; do sleep 0.02; done; exit 5' &); \
         while [ ! -e {d}/stop ]; do sleep 0.02; done"
    );
    let mut init = sh(&script).spawn().unwrap();
    let init_pid = init.id();
    let orphan_file = dir.path().join("orphan");
    wait_until("the orphan", Duration::from_secs(10), || {
        fs::read_to_string(&orphan_file).is_ok_and(|s| s.ends_with('\n'))
    });
    let orphan: u32 = fs::read_to_string(&orphan_file).unwrap().trim().parse().unwrap();
    wait_until("adoption", Duration::from_secs(10), || children_of(init_pid).iter().any(|(pid, _)| *pid == orphan));
    fs::write(dir.path().join("go"), "").unwrap();
    wait_until("the orphan to be reaped", Duration::from_secs(10), || !Path::new(&format!("/proc/{orphan}")).exists());
    let children = children_of(init_pid);
    assert_eq!(children.len(), 1, "only the app is left: {children:?}");
    assert!(children.iter().all(|(_, state)| *state != 'Z'), "no zombies: {children:?}");
    fs::write(dir.path().join("stop"), "").unwrap();
    assert_eq!(wait_exit(&mut init, Duration::from_secs(10)), 0);
}

#[test]
fn leftover_processes_are_terminated_then_killed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    // The config's env is the app's whole environment: give sh a PATH.
    let env = vec![("PATH".into(), "/usr/bin:/bin".into())];
    let config = InitConfig { env, stop_timeout_secs: 1, ..InitConfig::default() };
    let config_path = dir.path().join("init.conf");
    fs::write(&config_path, config.render()).unwrap();
    let script = format!(
        "sh -c 'trap \"\" TERM; echo $$ > {d}/stubborn; while :; do sleep 0.02; done' & \
         sleep 100 & echo $! > {d}/sleeper; \
         while [ ! -s {d}/stubborn ]; do sleep 0.02; done; exit 7"
    );
    let mut command = Command::new(INIT);
    command.arg("--config").arg(&config_path).args(["--", "sh", "-c", &script]);
    let start = Instant::now();
    let output = run(command);
    let elapsed = start.elapsed();
    assert_eq!(code(&output), 7, "{output:?}");
    assert!(elapsed >= Duration::from_secs(1), "SIGKILL comes after the stop timeout: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
    for name in ["stubborn", "sleeper"] {
        let pid = fs::read_to_string(dir.path().join(name)).unwrap();
        assert!(!Path::new(&format!("/proc/{}", pid.trim())).exists(), "{name} (pid {}) survived", pid.trim());
    }
}

#[test]
fn the_config_sets_argv_env_and_workdir() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let config = InitConfig {
        argv: vec!["sh".into(), "-c".into(), format!("echo \"$FOO|$(pwd)|${{HOME-unset}}|$0\" > {}", out.display())],
        env: vec![("PATH".into(), "/usr/bin:/bin".into()), ("FOO".into(), "a b\nc".into())],
        workdir: dir.path().display().to_string(),
        ..InitConfig::default()
    };
    let config_path = dir.path().join("init.conf");
    fs::write(&config_path, config.render()).unwrap();
    let output = run({
        let mut command = Command::new(INIT);
        command.arg("--config").arg(&config_path).env("HOME", "/root");
        command
    });
    assert_eq!(code(&output), 0, "{output:?}");
    let expected = format!("a b\nc|{}|unset|sh\n", dir.path().display());
    assert_eq!(fs::read_to_string(&out).unwrap(), expected);

    // argv after -- replaces the config's.
    let output = run({
        let mut command = Command::new(INIT);
        command.arg("--config").arg(&config_path).args(["--", "sh", "-c", "exit 9"]);
        command
    });
    assert_eq!(code(&output), 9);
}

#[test]
fn without_a_config_the_app_inherits_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = sh("echo \"$MARKER|$(pwd)\" > out");
    command.env("MARKER", "inherited").current_dir(dir.path());
    assert_eq!(code(&run(command)), 0);
    let got = fs::read_to_string(dir.path().join("out")).unwrap();
    assert_eq!(got, format!("inherited|{}\n", dir.path().canonicalize().unwrap().display()));
}

#[test]
fn the_app_starts_with_default_signal_handling() {
    // With SIGPIPE ignored, `yes` would report "Broken pipe" instead of dying quietly.
    let output = run(sh("yes | head -c1 >/dev/null; echo done"));
    assert_eq!(code(&output), 0);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "done\n");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    // A signal init itself blocks is unblocked and at its default in the app.
    assert_eq!(code(&run(sh("kill -HUP $$; sleep 5"))), 128 + libc::SIGHUP);
}

#[test]
fn a_command_that_cannot_run_is_127() {
    let output = run({
        let mut command = Command::new(INIT);
        command.args(["--", "/nonexistent/app"]);
        command
    });
    assert_eq!(code(&output), 127);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr, "microroot-init: cannot run /nonexistent/app: execve: No such file or directory\n");

    let output = run({
        let mut command = Command::new(INIT);
        command.args(["--", "no-such-command-anywhere"]).env("PATH", "/usr/bin:/bin");
        command
    });
    assert_eq!(code(&output), 127);
    assert!(String::from_utf8_lossy(&output.stderr).contains("not found in PATH /usr/bin:/bin"), "{output:?}");
}

#[test]
fn verbose_prints_the_status_lines() {
    let output = run({
        let mut command = Command::new(INIT);
        command.args(["-v", "--", "sh", "-c", "exit 3"]);
        command
    });
    assert_eq!(code(&output), 3);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let sh = sh_path();
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.iter().any(|l| l.starts_with(&format!("microroot-init: started {sh} (pid "))), "{stderr}");
    let expected = [format!("microroot-init: {sh} exited with code 3"), "microroot-init: exit status 3".to_string()];
    assert_eq!(lines[lines.len() - 2..], expected);
}

/// Where init finds `sh` in this process's PATH.
fn sh_path() -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':').map(|d| format!("{d}/sh")).find(|p| Path::new(p).exists()).expect("sh in PATH")
}

#[test]
fn usage() {
    let output = run({
        let mut command = Command::new(INIT);
        command.arg("stray");
        command
    });
    assert_eq!(code(&output), 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("microroot-init: unexpected argument \"stray\""), "{stderr}");
    assert!(stderr.contains("usage: microroot-init"), "{stderr}");

    let help = run({
        let mut command = Command::new(INIT);
        command.arg("--help");
        command
    });
    assert_eq!(code(&help), 0);
    assert_eq!(String::from_utf8_lossy(&help.stdout), microroot_init::USAGE);

    let version = run({
        let mut command = Command::new(INIT);
        command.arg("--version");
        command
    });
    assert_eq!(String::from_utf8_lossy(&version.stdout), format!("microroot-init {}\n", env!("CARGO_PKG_VERSION")));
}
