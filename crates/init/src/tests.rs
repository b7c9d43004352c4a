//! Whole runs of init against the fake system.

use std::panic::{self, AssertUnwindSafe};
use std::string::{String, ToString};
use std::sync::Once;
use std::vec::Vec;
use std::{boxed::Box, format, vec};

use crate::cli::Args;
use crate::config::{InitConfig, Module, CONFIG_PATH};
use crate::fake::{ms, Execed, Fake, Halted, Link, Program};
use crate::signals::{FORWARDED, SI_KERNEL};
use crate::sys::{Halt, WaitStatus, RAMFS_MAGIC};
use crate::{run, Mode};

const APP: &str = "/bin/app";
const SI_USER: i32 = 0;

fn argv(args: &[&str]) -> Args {
    Args { argv: Some(args.iter().map(|a| a.to_string()).collect()), ..Args::default() }
}

fn config_text(config: InitConfig) -> String {
    config.render()
}

fn app_config(stop_timeout_secs: u32) -> String {
    config_text(InitConfig {
        argv: vec![APP.into(), "--flag".into()],
        env: vec![("PATH".into(), "/bin".into())],
        stop_timeout_secs,
        ..InitConfig::default()
    })
}

/// Runs VM mode and returns how it ended; fails if `run` returns.
fn run_vm(fake: &mut Fake, args: &Args) -> Halt {
    static QUIET: Once = Once::new();
    QUIET.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !info.payload().is::<Halted>() && !info.payload().is::<Execed>() {
                default(info);
            }
        }));
    });
    match panic::catch_unwind(AssertUnwindSafe(|| run(fake, args, Vec::new()))) {
        Ok(code) => panic!("VM mode returned {code}"),
        Err(payload) => match payload.downcast::<Halted>() {
            Ok(halted) => halted.0,
            Err(payload) => panic::resume_unwind(payload),
        },
    }
}

fn last_lines(fake: &Fake, n: usize) -> Vec<&str> {
    fake.console.iter().rev().take(n).rev().map(String::as_str).collect()
}

#[test]
fn mode_detection() {
    assert_eq!(Mode::detect(&Fake::container()), Mode::Container);
    assert_eq!(Mode::detect(&Fake::vm("")), Mode::Vm);
    assert_eq!(Mode::detect(&Fake::new(7)), Mode::Container);
    let mut pid1_in_container = Fake::new(1);
    pid1_in_container.dirs.insert("/proc/self".into());
    assert_eq!(Mode::detect(&pid1_in_container), Mode::Container);
}

#[test]
fn container_exit_codes() {
    for (status, code) in [(WaitStatus::Exited(0), 0), (WaitStatus::Exited(3), 3), (WaitStatus::Signaled(9), 137)] {
        let mut fake = Fake::container();
        fake.program(APP, Program::exits(100, status));
        assert_eq!(run(&mut fake, &argv(&[APP]), Vec::new()), code);
        assert!(fake.console.is_empty(), "container mode is quiet: {:?}", fake.console);
    }
}

#[test]
fn vm_exit_codes() {
    for (status, line, code) in [
        (WaitStatus::Exited(0), "/bin/app exited with code 0", 0),
        (WaitStatus::Exited(3), "/bin/app exited with code 3", 3),
        (WaitStatus::Signaled(15), "/bin/app killed by signal 15 (SIGTERM)", 143),
    ] {
        let mut fake = Fake::vm("console=ttyS0");
        fake.file(CONFIG_PATH, &app_config(10)).program(APP, Program::exits(100, status));
        assert_eq!(run_vm(&mut fake, &Args::default()), Halt::PowerOff);
        let status_line = format!("microroot-init: exit status {code}");
        assert_eq!(fake.console, [format!("microroot-init: {line}"), status_line]);
    }
}

#[test]
fn zombies_are_reaped_at_start_while_running_and_after_the_app() {
    let mut fake = Fake::container();
    let zombie = fake.zombie();
    let late_child = Program::exits(3000, WaitStatus::Exited(0)).trap(libc::SIGTERM, None);
    fake.program(APP, Program::exits(2000, WaitStatus::Exited(0)).child(late_child));
    fake.adopt_at(500, Program::exits(500, WaitStatus::Exited(1)));
    assert_eq!(run(&mut fake, &argv(&[APP]), Vec::new()), 0);
    assert_eq!(fake.remaining(), Vec::<i32>::new(), "left: {:#?}", fake.procs);
    let reaped = fake.called("reaped");
    assert_eq!(reaped, [format!("reaped {zombie}"), "reaped 103".into(), "reaped 101".into(), "reaped 102".into()]);
    assert!(
        fake.position(&format!("reaped {zombie}"))
            < fake.position("spawn /bin/app uid=1000 gid=1000 groups=[] workdir=/home/user console=false")
    );
    assert_eq!(fake.called("prctl"), ["prctl SET_CHILD_SUBREAPER"]);
    // The adopted child (102) got SIGTERM, caught it and ended by itself.
    assert_eq!(fake.called("kill"), ["kill 102 SIGTERM"]);
    assert_eq!(fake.clock, ms(3000));
}

#[test]
fn leftover_processes_get_sigterm_then_sigkill_after_the_stop_timeout() {
    let mut fake = Fake::container();
    fake.file("/etc/init.conf", &app_config(2));
    let stubborn = Program::forever().trap(libc::SIGTERM, None);
    fake.program(APP, Program::exits(1000, WaitStatus::Exited(0)).child(stubborn).child(Program::forever()));
    let args = Args { config: Some("/etc/init.conf".into()), ..Args::default() };
    assert_eq!(run(&mut fake, &args, Vec::new()), 0);
    assert_eq!(fake.called("kill"), ["kill 101 SIGTERM", "kill 102 SIGTERM", "kill 101 SIGKILL"]);
    assert_eq!(fake.clock, ms(3000));
    assert!(fake.remaining().is_empty());
}

#[test]
fn every_forwarded_signal_reaches_the_app() {
    for signal in FORWARDED {
        let mut fake = Fake::container();
        fake.program(APP, Program::exits(2000, WaitStatus::Exited(0)).trap(signal, None));
        fake.signal_at(1000, signal, SI_USER);
        assert_eq!(run(&mut fake, &argv(&[APP]), Vec::new()), 0);
        assert_eq!(fake.called("kill"), [format!("kill 100 {}", crate::signals::name(signal))]);
    }
}

#[test]
fn in_a_vm_user_signals_are_forwarded_too() {
    for signal in FORWARDED {
        let mut fake = Fake::vm("");
        fake.file(CONFIG_PATH, &app_config(10));
        fake.program(APP, Program::exits(2000, WaitStatus::Exited(0)).trap(signal, None));
        fake.signal_at(1000, signal, SI_USER);
        run_vm(&mut fake, &Args::default());
        assert_eq!(fake.called("kill 100"), [format!("kill 100 {}", crate::signals::name(signal))]);
        assert_eq!(last_lines(&fake, 1), ["microroot-init: exit status 0"]);
    }
}

#[test]
fn ctrl_alt_del_becomes_sigterm_to_the_app() {
    let mut fake = Fake::vm("");
    fake.file(CONFIG_PATH, &app_config(10)).program(APP, Program::forever());
    fake.signal_at(1000, libc::SIGINT, SI_KERNEL);
    assert_eq!(run_vm(&mut fake, &Args::default()), Halt::PowerOff);
    assert_eq!(fake.called("kill 100"), ["kill 100 SIGTERM"]);
    assert_eq!(
        last_lines(&fake, 2),
        ["microroot-init: /bin/app killed by signal 15 (SIGTERM)", "microroot-init: exit status 143"]
    );
    assert!(
        fake.position("reboot CAD_OFF") < fake.position("spawn /bin/app uid=0 gid=0 groups=[] workdir=/ console=true")
    );
}

#[test]
fn a_kernel_sigint_in_a_container_is_just_forwarded() {
    let mut fake = Fake::container();
    fake.program(APP, Program::forever());
    fake.signal_at(1000, libc::SIGINT, SI_KERNEL);
    assert_eq!(run(&mut fake, &argv(&[APP]), Vec::new()), 130);
    assert_eq!(fake.called("kill"), ["kill 100 SIGINT"]);
}

#[test]
fn a_shutdown_request_escalates_to_sigkill() {
    let mut fake = Fake::vm("");
    fake.file(CONFIG_PATH, &app_config(3)).program(APP, Program::forever().trap(libc::SIGTERM, None));
    fake.signal_at(1000, libc::SIGPWR, SI_USER);
    run_vm(&mut fake, &Args::default());
    assert_eq!(fake.called("kill 100"), ["kill 100 SIGTERM", "kill 100 SIGKILL"]);
    assert_eq!(fake.clock, ms(4000));
    assert_eq!(last_lines(&fake, 1), ["microroot-init: exit status 137"]);
}

#[test]
fn vm_sets_up_the_machine_in_order_and_powers_off() {
    let mut fake = Fake::vm("console=ttyS0");
    fake.file(CONFIG_PATH, &app_config(10)).program(APP, Program::exits(10, WaitStatus::Exited(0)));
    fake.links.insert("lo".into(), Link { index: 1, appears_at: ms(0), has_ipv4: true });
    assert_eq!(run_vm(&mut fake, &Args::default()), Halt::PowerOff);
    let expected = [
        "block signals",
        "mkdir /proc 755",
        "mount proc /proc proc 0xe",
        "mkdir /sys 755",
        "mount sysfs /sys sysfs 0xe",
        "mkdir /dev 755",
        "mount devtmpfs /dev devtmpfs 0x2 mode=0755",
        "mkdir /dev/pts 755",
        "mount devpts /dev/pts devpts 0xa mode=620,ptmxmode=666",
        "mkdir /dev/shm 755",
        "mount tmpfs /dev/shm tmpfs 0x6 mode=1777",
        "mkdir /run 755",
        "mount tmpfs /run tmpfs 0x6 mode=0755",
        "mkdir /tmp 755",
        "mount tmpfs /tmp tmpfs 0x6 mode=1777",
        "attach console",
        "reboot CAD_OFF",
        "link 1 up",
        "spawn /bin/app uid=0 gid=0 groups=[] workdir=/ console=true",
        "reaped 100",
        "sync",
        "mount  / (none) 0x21",
        "halt PowerOff",
    ];
    let calls: Vec<String> = fake.calls.iter().map(|c| c.replace("  0x21", " (none) 0x21")).collect();
    assert_eq!(calls, expected);
    assert_eq!(fake.console, ["microroot-init: /bin/app exited with code 0", "microroot-init: exit status 0"]);
}

#[test]
fn without_acpi_the_vm_ends_by_reboot() {
    let mut fake = Fake::vm("");
    fake.dirs.remove("/sys/firmware/acpi");
    fake.file(CONFIG_PATH, &app_config(10)).program(APP, Program::exits(10, WaitStatus::Exited(0)));
    assert_eq!(run_vm(&mut fake, &Args::default()), Halt::Reboot);
}

#[test]
fn a_read_only_root_costs_only_the_missing_mount_points() {
    let mut fake = Fake::vm("");
    fake.read_only = true;
    fake.dirs.extend(["/proc", "/sys", "/dev", "/tmp"].map(String::from));
    fake.file(CONFIG_PATH, &app_config(10)).program(APP, Program::exits(10, WaitStatus::Exited(0)));
    run_vm(&mut fake, &Args::default());
    assert_eq!(fake.called("mount tmpfs /run"), Vec::<&str>::new());
    assert_eq!(fake.called("mount tmpfs /tmp"), ["mount tmpfs /tmp tmpfs 0x6 mode=1777"]);
    assert_eq!(
        fake.console,
        [
            "microroot-init: cannot create /run: Read-only file system",
            "microroot-init: /bin/app exited with code 0",
            "microroot-init: exit status 0"
        ]
    );
}

#[test]
fn a_missing_entrypoint_is_status_127_and_still_powers_off() {
    let mut fake = Fake::vm("");
    fake.file(CONFIG_PATH, &config_text(InitConfig { argv: vec!["/bin/nope".into()], ..InitConfig::default() }));
    assert_eq!(run_vm(&mut fake, &Args::default()), Halt::PowerOff);
    assert_eq!(
        fake.console,
        ["microroot-init: cannot run /bin/nope: execve: No such file or directory", "microroot-init: exit status 127"]
    );

    let mut fake = Fake::vm("");
    let config =
        InitConfig { argv: vec!["nope".into()], env: vec![("PATH".into(), "/a:/b".into())], ..InitConfig::default() };
    fake.file(CONFIG_PATH, &config_text(config));
    run_vm(&mut fake, &Args::default());
    assert_eq!(fake.console[0], "microroot-init: cannot run nope: not found in PATH /a:/b");

    let mut fake = Fake::vm("");
    assert_eq!(run_vm(&mut fake, &Args::default()), Halt::PowerOff);
    assert!(fake.console[0].contains("no command to run"), "{:?}", fake.console);
    assert!(fake.console[1].starts_with("microroot-init: hint:"), "{:?}", fake.console);
    assert_eq!(last_lines(&fake, 1), ["microroot-init: exit status 127"]);
}

#[test]
fn a_missing_workdir_is_reported() {
    let mut fake = Fake::container();
    let config = InitConfig { argv: vec![APP.into()], workdir: "/srv".into(), ..InitConfig::default() };
    fake.file(CONFIG_PATH, &config_text(config)).program(APP, Program::exits(10, WaitStatus::Exited(0)));
    assert_eq!(run(&mut fake, &Args::default(), Vec::new()), 127);
    assert_eq!(fake.console, ["microroot-init: cannot run /bin/app: working directory /srv does not exist"]);
}

#[test]
fn the_app_gets_exactly_the_config() {
    let mut fake = Fake::container();
    let config = InitConfig {
        argv: vec!["app".into(), "a b".into()],
        env: vec![("PATH".into(), "/opt/bin:/usr/bin".into()), ("X".into(), "1".into())],
        uid: 33,
        gid: 34,
        groups: vec![4, 5],
        workdir: "/srv".into(),
        ..InitConfig::default()
    };
    fake.dirs.insert("/srv".into());
    fake.file(CONFIG_PATH, &config_text(config.clone()))
        .program("/usr/bin/app", Program::exits(10, WaitStatus::Exited(0)));
    assert_eq!(run(&mut fake, &Args::default(), vec![("HOME".into(), "/root".into())]), 0);
    assert_eq!(fake.called("spawn"), ["spawn /usr/bin/app uid=33 gid=34 groups=[4, 5] workdir=/srv console=false"]);
    assert_eq!(fake.spawned, [(config.argv.clone(), config.env.clone())]);

    // argv after -- replaces the config's.
    let mut fake = Fake::container();
    fake.dirs.insert("/srv".into());
    fake.file(CONFIG_PATH, &config_text(config)).program(APP, Program::exits(10, WaitStatus::Exited(4)));
    assert_eq!(run(&mut fake, &argv(&[APP, "x"]), Vec::new()), 4);
    assert_eq!(fake.called("spawn"), ["spawn /bin/app uid=33 gid=34 groups=[4, 5] workdir=/srv console=false"]);
}

#[test]
fn without_a_config_the_app_inherits_env_ids_and_directory() {
    let mut fake = Fake::container();
    fake.program("/usr/bin/env", Program::exits(10, WaitStatus::Exited(0)));
    let env = vec![("PATH".to_string(), "/usr/bin".to_string())];
    assert_eq!(run(&mut fake, &argv(&["env"]), env.clone()), 0);
    assert_eq!(
        fake.called("spawn"),
        ["spawn /usr/bin/env uid=1000 gid=1000 groups=[] workdir=/home/user console=false"]
    );
    assert_eq!(fake.spawned, [(vec!["env".to_string()], env)]);
}

#[test]
fn config_errors_in_a_container() {
    let mut fake = Fake::container();
    let args = Args { config: Some("/missing.conf".into()), ..argv(&[APP]) };
    assert_eq!(run(&mut fake, &args, Vec::new()), 1);
    assert_eq!(fake.console, ["microroot-init: cannot read config /missing.conf: No such file or directory"]);

    let mut fake = Fake::container();
    fake.file(CONFIG_PATH, "arg /bin/app\nbogus 1\n");
    assert_eq!(run(&mut fake, &Args::default(), Vec::new()), 1);
    assert!(fake.console[0].starts_with("microroot-init: config /etc/microroot/init.conf: line 2: unknown key"));
}

#[test]
fn container_mode_sets_up_nothing() {
    let mut fake = Fake::container();
    fake.file("/proc/cmdline", "root=/dev/vda ip=10.0.0.2::10.0.0.1:255.255.255.0:h:eth0:off");
    let config = InitConfig {
        argv: vec![APP.into()],
        hostname: Some("h".into()),
        modules: vec![Module { path: "/m.ko".into(), name: "m".into() }],
        ..InitConfig::default()
    };
    fake.file(CONFIG_PATH, &config_text(config)).program(APP, Program::exits(10, WaitStatus::Exited(0)));
    assert_eq!(run(&mut fake, &Args::default(), Vec::new()), 0);
    for call in ["mount", "mkdir", "finit_module", "sethostname", "link", "addr", "halt", "reboot", "attach"] {
        assert_eq!(fake.called(call), Vec::<&str>::new(), "{call}");
    }
}

#[test]
fn pid1_in_a_container_signals_everyone_with_kill_minus_one() {
    let mut fake = Fake::new(1);
    fake.dirs.insert("/proc/self".into());
    fake.program(APP, Program::exits(1000, WaitStatus::Exited(0)).child(Program::forever()));
    assert_eq!(run(&mut fake, &argv(&[APP]), Vec::new()), 0);
    assert_eq!(fake.called("prctl"), Vec::<&str>::new());
    assert_eq!(fake.called("kill"), ["kill -1 SIGTERM"]);
    assert!(fake.remaining().is_empty());
}

#[test]
fn modules_get_their_parameters_from_the_kernel_command_line() {
    let mut fake = Fake::vm("console=ttyS0 virtio-net.napi_tx=1 loop.max_loop=4 virtio_net.name=\"a b\"");
    let modules = [("virtio_net", "/lib/m/virtio_net.ko"), ("loop", "/lib/m/loop.ko"), ("gone", "/lib/m/gone.ko")];
    let config = InitConfig {
        argv: vec![APP.into()],
        modules: modules.iter().map(|(name, path)| Module { name: name.to_string(), path: path.to_string() }).collect(),
        ..InitConfig::default()
    };
    fake.file(CONFIG_PATH, &config_text(config)).program(APP, Program::exits(10, WaitStatus::Exited(0)));
    fake.file("/lib/m/virtio_net.ko", "").file("/lib/m/loop.ko", "");
    fake.failing_modules.insert("/lib/m/loop.ko".into(), crate::sys::Errno::EEXIST);
    run_vm(&mut fake, &Args::default());
    assert_eq!(
        fake.called("finit_module"),
        [
            "finit_module /lib/m/virtio_net.ko napi_tx=1 name=\"a b\"",
            "finit_module /lib/m/loop.ko max_loop=4",
            "finit_module /lib/m/gone.ko"
        ]
    );
    assert_eq!(fake.console[0], "microroot-init: cannot load module gone (/lib/m/gone.ko): No such file or directory");
    assert_eq!(fake.console.len(), 3, "EEXIST is not an error: {:?}", fake.console);
}

fn initramfs(cmdline: &str) -> Fake {
    let mut fake = Fake::vm(cmdline);
    fake.root_fs_type = RAMFS_MAGIC;
    let stage1 = InitConfig {
        modules: vec![Module { name: "virtio_blk".into(), path: "/lib/virtio_blk.ko".into() }],
        ..InitConfig::default()
    };
    fake.file(CONFIG_PATH, &config_text(stage1)).file("/lib/virtio_blk.ko", "");
    let real = InitConfig {
        argv: vec![APP.into()],
        modules: vec![Module { name: "ext4".into(), path: "/lib/ext4.ko".into() }],
        ..InitConfig::default()
    };
    let files = [(CONFIG_PATH.to_string(), real.render().into_bytes()), ("/lib/ext4.ko".into(), Vec::new())];
    let dirs = ["/", "/sys/firmware/acpi"].map(String::from);
    fake.new_root = Some((files.into(), dirs.into()));
    fake.dirs.extend(["/newroot/dev", "/newroot/proc", "/newroot/sys", "/newroot/run"].map(String::from));
    fake.program(APP, Program::exits(10, WaitStatus::Exited(0)));
    fake
}

#[test]
fn root_switch_happens_in_order() {
    let mut fake = initramfs("root=/dev/vda rootfstype=btrfs,ext4 ro rootflags=noatime");
    fake.file_at(300, "/dev/vda");
    assert_eq!(run_vm(&mut fake, &Args::default()), Halt::PowerOff);
    let order = [
        "finit_module /lib/virtio_blk.ko",
        "mkdir /newroot 755",
        "mount /dev/vda /newroot btrfs 0x1 noatime",
        "mount /dev/vda /newroot ext4 0x1 noatime",
        "mount /dev /newroot/dev (none) 0x2000",
        "mount /proc /newroot/proc (none) 0x2000",
        "mount /sys /newroot/sys (none) 0x2000",
        "mount /run /newroot/run (none) 0x2000",
        "mkdir /newroot/tmp 755",
        "mount /tmp /newroot/tmp (none) 0x2000",
        "chdir /newroot",
        "mount . / (none) 0x2000",
        "chroot .",
        "chdir /",
        "finit_module /lib/ext4.ko",
        "spawn /bin/app uid=0 gid=0 groups=[] workdir=/ console=true",
    ];
    let calls: Vec<String> = fake.calls.iter().map(|c| c.replace("  0x", " (none) 0x")).collect();
    let positions: Vec<usize> = order
        .iter()
        .map(|call| calls.iter().position(|c| c == call).unwrap_or_else(|| panic!("no {call:?} in {calls:#?}")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{calls:#?}");
    assert!(fake.clock >= ms(300));
    assert_eq!(fake.console, ["microroot-init: /bin/app exited with code 0", "microroot-init: exit status 0"]);
}

#[test]
fn a_root_without_a_config_gets_its_own_init_as_pid_1() {
    let mut fake = initramfs("root=/dev/vda");
    fake.file_at(0, "/dev/vda");
    let dirs = ["/", "/sys/firmware/acpi"].map(String::from);
    fake.new_root = Some(([("/sbin/init".to_string(), Vec::new())].into(), dirs.into()));
    fake.program("/sbin/init", Program::exits(10, WaitStatus::Exited(0)));
    run_vm_quietly(&mut fake);
    let payload = panic::catch_unwind(AssertUnwindSafe(|| run(&mut fake, &Args::default(), Vec::new())));
    let payload = payload.expect_err("exec does not return");
    assert_eq!(payload.downcast_ref::<Execed>(), Some(&Execed("/sbin/init".into())));
    assert!(fake.called("spawn").is_empty(), "the handed-over root's init runs, not an app");

    // init= names another one; a missing one keeps the initramfs config.
    let mut fake = initramfs("root=/dev/vda init=/bin/nope");
    fake.file_at(0, "/dev/vda");
    let dirs = ["/", "/sys/firmware/acpi"].map(String::from);
    fake.new_root = Some(([("/etc/x".to_string(), Vec::new())].into(), dirs.into()));
    assert_eq!(run_vm(&mut fake, &Args::default()), Halt::PowerOff);
    assert!(fake.called("exec").is_empty());
}

/// Installs the panic hook that keeps expected halts and execs quiet.
fn run_vm_quietly(fake: &mut Fake) {
    let _ = fake;
    let mut probe = Fake::vm("");
    let _ = run_vm(&mut probe, &Args::default());
}

#[test]
fn root_switch_failures_end_with_status_1() {
    let mut fake = initramfs("root=UUID=1234");
    assert_eq!(run_vm(&mut fake, &Args::default()), Halt::PowerOff);
    assert_eq!(
        fake.console,
        [
            "microroot-init: root=UUID=1234: UUID is not supported by microroot-init",
            "microroot-init: hint: name the device node, e.g. root=/dev/vda",
            "microroot-init: exit status 1"
        ]
    );

    let mut fake = initramfs("root=/dev/vdb");
    run_vm(&mut fake, &Args::default());
    assert_eq!(fake.console[0], "microroot-init: root device /dev/vdb did not appear within 15s");
    assert!(fake.clock >= ms(15_000) && fake.clock < ms(15_100));

    let mut fake = initramfs("root=/dev/vda rootfstype=vfat");
    fake.file("/dev/vda", "");
    run_vm(&mut fake, &Args::default());
    assert!(fake.console[0].starts_with("microroot-init: cannot mount root /dev/vda (vfat) on /newroot:"));
}

#[test]
fn no_root_switch_when_the_kernel_mounted_the_root() {
    let mut fake = initramfs("root=/dev/vda");
    fake.root_fs_type = 0xef53;
    fake.file(CONFIG_PATH, &app_config(10));
    run_vm(&mut fake, &Args::default());
    assert_eq!(fake.called("mount /dev/vda"), Vec::<&str>::new());
    assert_eq!(fake.called("chroot"), Vec::<&str>::new());
    assert_eq!(last_lines(&fake, 1), ["microroot-init: exit status 0"]);
}

fn networked(cmdline: &str, eth0_at_ms: u64, has_ipv4: bool) -> Fake {
    let mut fake = Fake::vm(cmdline);
    fake.file(CONFIG_PATH, &app_config(10)).program(APP, Program::exits(10, WaitStatus::Exited(0)));
    fake.links.insert("lo".into(), Link { index: 1, appears_at: ms(0), has_ipv4: true });
    fake.links.insert("eth0".into(), Link { index: 2, appears_at: ms(eth0_at_ms), has_ipv4 });
    fake
}

#[test]
fn static_ip_from_the_kernel_command_line() {
    let mut fake = networked("ip=10.0.0.2::10.0.0.1:255.255.255.0:vm1:eth0:off:1.1.1.1:9.9.9.9", 1000, false);
    run_vm(&mut fake, &Args::default());
    let expected = [
        "sethostname vm1",
        "link 1 up",
        "link 2 up",
        "addr add 10.0.0.2/24 dev 2",
        "route add default via 10.0.0.1 dev 2",
        "write /etc/resolv.conf nameserver 1.1.1.1; nameserver 9.9.9.9",
        "spawn /bin/app uid=0 gid=0 groups=[] workdir=/ console=true",
    ];
    let start = fake.position(expected[0]);
    assert_eq!(&fake.calls[start..start + expected.len()], expected);
    assert!(fake.clock >= ms(1000));
    assert_eq!(fake.console.len(), 2, "{:?}", fake.console);
}

#[test]
fn network_edge_cases() {
    // The kernel already configured eth0 (IP_PNP): leave it alone.
    let mut fake = networked("ip=10.0.0.2::10.0.0.1:255.255.255.0::eth0:off", 0, true);
    run_vm(&mut fake, &Args::default());
    assert_eq!(fake.called("addr"), Vec::<&str>::new());
    assert_eq!(fake.called("link"), ["link 1 up"]);

    // The device never shows up.
    let mut fake = networked("ip=10.0.0.2:::::eth1:off", 0, false);
    run_vm(&mut fake, &Args::default());
    assert_eq!(fake.console[0], "microroot-init: network device eth1 did not appear within 5s");

    // dhcp and off: only lo; the config's host name wins over ip='s.
    for cmdline in ["ip=dhcp", "ip=off", "ip=:::::eth0:dhcp"] {
        let mut fake = networked(cmdline, 0, false);
        run_vm(&mut fake, &Args::default());
        assert_eq!(fake.called("link"), ["link 1 up"], "{cmdline}");
        assert_eq!(fake.called("addr"), Vec::<&str>::new(), "{cmdline}");
    }
    let mut fake = networked("ip=10.0.0.2::::fromip:eth0:none", 0, false);
    let config = InitConfig { argv: vec![APP.into()], hostname: Some("fromconfig".into()), ..InitConfig::default() };
    fake.file(CONFIG_PATH, &config_text(config));
    run_vm(&mut fake, &Args::default());
    assert_eq!(fake.called("sethostname"), ["sethostname fromconfig"]);
    assert_eq!(fake.called("addr"), ["addr add 10.0.0.2/8 dev 2"]);
    assert_eq!(fake.called("route"), Vec::<&str>::new());

    // A bad ip= is reported and ignored.
    let mut fake = networked("ip=10.0.0.2::gw", 0, false);
    run_vm(&mut fake, &Args::default());
    assert_eq!(fake.console[0], "microroot-init: ip=: gateway \"gw\" is not an IPv4 address");
    assert_eq!(last_lines(&fake, 1), ["microroot-init: exit status 0"]);
}

#[test]
fn microroot_debug_makes_init_verbose() {
    let mut fake = Fake::vm("microroot.debug");
    fake.file(CONFIG_PATH, &app_config(10)).program(APP, Program::exits(10, WaitStatus::Exited(0)));
    run_vm(&mut fake, &Args::default());
    assert!(fake.console.iter().any(|l| l == "microroot-init: started /bin/app (pid 100)"), "{:?}", fake.console);
    assert_eq!(last_lines(&fake, 2), ["microroot-init: /bin/app exited with code 0", "microroot-init: exit status 0"]);
}
