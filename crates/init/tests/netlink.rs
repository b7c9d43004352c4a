//! `LinuxSys`'s rtnetlink calls against the kernel, in a fresh network
//! namespace: the test re-runs itself under `unshare --user --net`.

use std::fs;
use std::net::{Ipv4Addr, UdpSocket};
use std::process::Command;

use microroot_init::sys::{Errno, LinuxSys, Sys};

const INNER: &str = "MICROROOT_INIT_NETLINK_INNER";

#[test]
fn configures_an_interface_in_a_fresh_namespace() {
    if std::env::var_os(INNER).is_some() {
        return inside_the_namespace();
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "--"])
        .arg(exe)
        .args(["--exact", "configures_an_interface_in_a_fresh_namespace", "--test-threads=1"])
        .env(INNER, "1")
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("1 passed"), "the inner test ran: {stdout}");
}

fn inside_the_namespace() {
    let mut sys = LinuxSys::new();
    let lo = sys.link_index("lo").expect("lo exists");
    assert_eq!(sys.link_index("eth9"), None);
    assert_eq!(sys.has_ipv4(lo), Ok(false), "a new namespace's lo is down and bare");

    sys.link_up(lo).unwrap();
    assert_eq!(sys.has_ipv4(lo), Ok(true), "the kernel gives lo 127.0.0.1 when it goes up");

    let addr = Ipv4Addr::new(10, 1, 2, 3);
    sys.add_ipv4(lo, addr, 24).unwrap();
    assert_eq!(sys.add_ipv4(lo, addr, 24), Err(Errno::EEXIST));
    UdpSocket::bind((addr, 0)).expect("the address is assigned");

    sys.add_default_route(lo, Ipv4Addr::new(10, 1, 2, 1)).unwrap();
    let routes = fs::read_to_string("/proc/net/route").unwrap();
    let default = routes.lines().find(|l| l.split_whitespace().nth(1) == Some("00000000")).expect("a default route");
    let gateway = u32::from_str_radix(default.split_whitespace().nth(2).unwrap(), 16).unwrap();
    assert_eq!(Ipv4Addr::from(gateway.to_le_bytes()), Ipv4Addr::new(10, 1, 2, 1), "{routes}");
    assert_eq!(sys.add_default_route(lo, Ipv4Addr::new(10, 1, 2, 1)), Err(Errno::EEXIST));
}
