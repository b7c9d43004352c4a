//! Host name and network from the config and the `ip=` parameter.

use alloc::format;
use alloc::string::String;
use core::time::Duration;

use crate::config::InitConfig;
use crate::ip::{IpConfig, IpParams};
use crate::run::Init;
use crate::sys::{Errno, Sys};

/// How long to wait for the `ip=` device.
pub const LINK_WAIT: Duration = Duration::from_secs(5);

impl<S: Sys> Init<'_, S> {
    pub(crate) fn set_hostname(&mut self, config: &InitConfig, ip: Option<&IpConfig>) {
        let from_ip = match ip {
            Some(IpConfig::Manual(params)) => params.hostname.as_deref(),
            _ => None,
        };
        let Some(name) = config.hostname.as_deref().or(from_ip).filter(|n| !n.is_empty()) else { return };
        if let Err(e) = self.sys.set_hostname(name) {
            self.log(format_args!("cannot set host name {name:?}: {e}"));
        }
    }

    pub(crate) fn setup_network(&mut self, ip: Option<&IpConfig>) {
        match self.sys.link_index("lo") {
            Some(lo) => {
                if let Err(e) = self.sys.link_up(lo) {
                    self.log(format_args!("cannot set lo up: {e}"));
                }
            }
            None => self.debug(format_args!("no loopback interface")),
        }
        match ip {
            None => {}
            Some(IpConfig::Off) => self.debug(format_args!("ip=off: no network setup")),
            Some(IpConfig::Dynamic(kind)) => self.debug(format_args!("ip={kind}: left to the kernel")),
            Some(IpConfig::Manual(params)) => {
                self.configure_interface(params);
                self.write_resolv_conf(params);
            }
        }
    }

    fn configure_interface(&mut self, params: &IpParams) {
        let Some(client) = params.client else { return };
        if !params.is_static() {
            self.debug(format_args!("ip=: autoconf {} is left to the kernel", params.autoconf));
            return;
        }
        let device = params.device.as_str();
        let mut index = None;
        self.wait_for(
            |sys| {
                index = sys.link_index(device);
                index.is_some()
            },
            LINK_WAIT,
        );
        let Some(index) = index else {
            self.log(format_args!("network device {device} did not appear within {}s", LINK_WAIT.as_secs()));
            return;
        };
        match self.sys.has_ipv4(index) {
            Ok(true) => {
                self.debug(format_args!("{device} already has an IPv4 address"));
                return;
            }
            Ok(false) => {}
            Err(e) => self.log(format_args!("cannot list the addresses of {device}: {e}")),
        }
        let prefix = params.prefix;
        let steps = [
            ("set up", self.sys.link_up(index)),
            ("add address to", self.sys.add_ipv4(index, client, prefix)),
            (
                "add default route via",
                match params.gateway {
                    Some(gateway) => self.sys.add_default_route(index, gateway),
                    None => Ok(()),
                },
            ),
        ];
        for (what, result) in steps {
            match result {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => self.log(format_args!("cannot {what} {device}: {e}")),
            }
        }
        self.debug(format_args!("{device}: {client}/{prefix} gateway {:?}", params.gateway));
    }

    fn write_resolv_conf(&mut self, params: &IpParams) {
        if params.dns.is_empty() {
            return;
        }
        let text: String = params.dns.iter().map(|dns| format!("nameserver {dns}\n")).collect();
        if let Err(e) = self.sys.write_file("/etc/resolv.conf", text.as_bytes()) {
            self.debug(format_args!("cannot write /etc/resolv.conf: {e}"));
        }
    }
}
