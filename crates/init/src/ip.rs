//! The kernel's `ip=` parameter
//! (`<client>:<server>:<gw>:<netmask>:<hostname>:<device>:<autoconf>:<dns0>:<dns1>`).
//!
//! Init configures only the static part; `dhcp` and friends are left to the
//! kernel's own IP autoconfiguration, if it has one.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::Ipv4Addr;

/// The device used when `ip=` names none.
pub const DEFAULT_DEVICE: &str = "eth0";

/// What `ip=` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpConfig {
    /// `ip=off` or `ip=none`.
    Off,
    /// `ip=dhcp`, `on`, `any`, `bootp`, `rarp`, `both`, `dhcp6`: done by
    /// the kernel or not at all.
    Dynamic(String),
    /// The colon-separated form.
    Manual(IpParams),
}

/// The fields of the colon-separated form; empty fields are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpParams {
    /// Address of this machine.
    pub client: Option<Ipv4Addr>,
    /// NFS server (unused by init).
    pub server: Option<Ipv4Addr>,
    /// Default gateway.
    pub gateway: Option<Ipv4Addr>,
    /// Prefix length from the netmask, or from the client's address class
    /// when the netmask is empty (as the kernel does).
    pub prefix: u8,
    /// Host name.
    pub hostname: Option<String>,
    /// Interface; [`DEFAULT_DEVICE`] when empty.
    pub device: String,
    /// The autoconf field (`off`, `none`, `dhcp`, ...; empty means off).
    pub autoconf: String,
    /// Name servers (`dns0`, `dns1`).
    pub dns: Vec<Ipv4Addr>,
}

impl IpParams {
    /// Whether the autoconf field leaves the address to us.
    pub fn is_static(&self) -> bool {
        matches!(self.autoconf.as_str(), "" | "off" | "none")
    }
}

const DYNAMIC: [&str; 7] = ["dhcp", "on", "any", "bootp", "rarp", "both", "dhcp6"];

/// Parses the value of `ip=`.
pub fn parse(value: &str) -> Result<IpConfig, String> {
    if value == "off" || value == "none" {
        return Ok(IpConfig::Off);
    }
    if DYNAMIC.contains(&value) {
        return Ok(IpConfig::Dynamic(value.to_string()));
    }
    let fields: Vec<&str> = value.split(':').collect();
    let field = |i: usize| fields.get(i).copied().unwrap_or("");
    let addr = |i: usize, what: &str| -> Result<Option<Ipv4Addr>, String> {
        match field(i) {
            "" => Ok(None),
            text => text.parse().map(Some).map_err(|_| format!("ip=: {what} {text:?} is not an IPv4 address")),
        }
    };
    let client = addr(0, "client address")?;
    let netmask = addr(3, "netmask")?;
    let prefix = match (netmask, client) {
        (Some(mask), _) => prefix_of(mask).ok_or_else(|| format!("ip=: netmask {mask} is not contiguous"))?,
        (None, Some(client)) => class_prefix(client),
        (None, None) => 0,
    };
    let dns = [addr(7, "dns0")?, addr(8, "dns1")?].into_iter().flatten().filter(|a| !a.is_unspecified()).collect();
    Ok(IpConfig::Manual(IpParams {
        client,
        server: addr(1, "server address")?,
        gateway: addr(2, "gateway")?.filter(|gw| !gw.is_unspecified()),
        prefix,
        hostname: Some(field(4)).filter(|h| !h.is_empty()).map(str::to_string),
        device: Some(field(5)).filter(|d| !d.is_empty()).unwrap_or(DEFAULT_DEVICE).to_string(),
        autoconf: field(6).to_string(),
        dns,
    }))
}

fn prefix_of(mask: Ipv4Addr) -> Option<u8> {
    let bits = u32::from(mask);
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

fn class_prefix(addr: Ipv4Addr) -> u8 {
    match addr.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        _ => 24,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_static_form() {
        let IpConfig::Manual(p) = parse("172.16.0.2::172.16.0.1:255.255.255.252:vm1:eth1:off:1.1.1.1:8.8.8.8").unwrap()
        else {
            panic!("not manual")
        };
        assert_eq!(p.client, Some(Ipv4Addr::new(172, 16, 0, 2)));
        assert_eq!(p.server, None);
        assert_eq!(p.gateway, Some(Ipv4Addr::new(172, 16, 0, 1)));
        assert_eq!(p.prefix, 30);
        assert_eq!(p.hostname.as_deref(), Some("vm1"));
        assert_eq!(p.device, "eth1");
        assert!(p.is_static());
        assert_eq!(p.dns, [Ipv4Addr::new(1, 1, 1, 1), Ipv4Addr::new(8, 8, 8, 8)]);
    }

    #[test]
    fn short_forms_and_defaults() {
        let IpConfig::Manual(p) = parse("10.1.2.3").unwrap() else { panic!("not manual") };
        assert_eq!((p.prefix, p.device.as_str(), p.gateway, p.hostname), (8, "eth0", None, None));
        let IpConfig::Manual(p) = parse("192.168.7.9::0.0.0.0::::").unwrap() else { panic!("not manual") };
        assert_eq!((p.prefix, p.gateway), (24, None));
        let IpConfig::Manual(p) = parse(":::::eth0:dhcp").unwrap() else { panic!("not manual") };
        assert_eq!(p.client, None);
        assert!(!p.is_static());
        let IpConfig::Manual(p) = parse("::::only-name::none").unwrap() else { panic!("not manual") };
        assert_eq!((p.client, p.hostname.as_deref()), (None, Some("only-name")));
        let IpConfig::Manual(p) = parse("10.0.0.2::10.0.0.1:255.255.255.0::::0.0.0.0").unwrap() else {
            panic!("not manual")
        };
        assert!(p.dns.is_empty());
        assert_eq!(p.prefix, 24);
    }

    #[test]
    fn keywords() {
        assert_eq!(parse("off"), Ok(IpConfig::Off));
        assert_eq!(parse("none"), Ok(IpConfig::Off));
        assert_eq!(parse("dhcp"), Ok(IpConfig::Dynamic("dhcp".into())));
        assert_eq!(parse("on"), Ok(IpConfig::Dynamic("on".into())));
    }

    #[test]
    fn bad_values() {
        assert!(parse("10.0.0.300").unwrap_err().contains("client address"));
        assert!(parse("10.0.0.2::10.0.0.1:255.0.255.0").unwrap_err().contains("not contiguous"));
        assert!(parse("10.0.0.2::gw").unwrap_err().contains("gateway"));
        assert!(parse("10.0.0.2::::::::x").unwrap_err().contains("dns1"));
    }

    #[test]
    fn prefixes() {
        assert_eq!(prefix_of(Ipv4Addr::new(255, 255, 255, 255)), Some(32));
        assert_eq!(prefix_of(Ipv4Addr::new(0, 0, 0, 0)), Some(0));
        assert_eq!(prefix_of(Ipv4Addr::new(255, 255, 240, 0)), Some(20));
        assert_eq!(prefix_of(Ipv4Addr::new(255, 255, 0, 255)), None);
        assert_eq!(class_prefix(Ipv4Addr::new(172, 16, 0, 1)), 16);
        assert_eq!(class_prefix(Ipv4Addr::new(200, 1, 1, 1)), 24);
    }
}
