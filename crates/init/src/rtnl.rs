//! The few rtnetlink messages init sends, encoded by hand.
//!
//! Each request is one `nlmsghdr` with `NLM_F_REQUEST | NLM_F_ACK`, a fixed
//! header (`ifinfomsg`, `ifaddrmsg` or `rtmsg`) and `rtattr`s, all in host
//! byte order and padded to 4 bytes. The socket I/O lives in the `sys`
//! module; this file has no unsafe code and no I/O.

use alloc::vec::Vec;
use core::net::Ipv4Addr;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;

const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const IFF_UP: u32 = 0x1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RTN_UNICAST: u8 = 1;

const HEADER_LEN: usize = 16;

/// One reply message from the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// `NLMSG_ERROR` with error 0.
    Ack,
    /// `NLMSG_ERROR` with this (positive) errno.
    Error(i32),
    /// End of a dump.
    Done,
    /// An `RTM_NEWADDR` of a dump: an address on this interface index.
    Addr {
        /// Address family (2 for IPv4).
        family: u8,
        /// Interface index.
        index: u32,
    },
    /// Anything else.
    Other(u16),
}

struct Message {
    buf: Vec<u8>,
}

impl Message {
    fn new(kind: u16, flags: u16, seq: u32) -> Message {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set in finish
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
        Message { buf }
    }

    fn bytes(mut self, bytes: &[u8]) -> Message {
        self.buf.extend_from_slice(bytes);
        self
    }

    fn attr(mut self, kind: u16, data: &[u8]) -> Message {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(self.buf.len().next_multiple_of(4), 0);
        self
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// `RTM_NEWLINK` setting `IFF_UP` on an interface.
pub fn link_up(seq: u32, index: u32) -> Vec<u8> {
    let mut info = [0u8; 16]; // ifinfomsg: family, pad, type, index, flags, change
    info[0] = AF_UNSPEC;
    info[4..8].copy_from_slice(&index.to_ne_bytes());
    info[8..12].copy_from_slice(&IFF_UP.to_ne_bytes());
    info[12..16].copy_from_slice(&IFF_UP.to_ne_bytes());
    Message::new(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq).bytes(&info).finish()
}

/// `RTM_NEWADDR` adding `addr/prefix` to an interface.
pub fn add_addr(seq: u32, index: u32, addr: Ipv4Addr, prefix: u8) -> Vec<u8> {
    let mut info = [0u8; 8]; // ifaddrmsg: family, prefixlen, flags, scope, index
    info[0] = AF_INET;
    info[1] = prefix;
    info[3] = RT_SCOPE_UNIVERSE;
    info[4..8].copy_from_slice(&index.to_ne_bytes());
    Message::new(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq)
        .bytes(&info)
        .attr(IFA_LOCAL, &addr.octets())
        .attr(IFA_ADDRESS, &addr.octets())
        .finish()
}

/// `RTM_NEWROUTE` adding a default route via `gateway` on an interface.
pub fn add_default_route(seq: u32, index: u32, gateway: Ipv4Addr) -> Vec<u8> {
    // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
    let rtmsg = [AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0, 0, 0, 0];
    Message::new(RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq)
        .bytes(&rtmsg)
        .attr(RTA_GATEWAY, &gateway.octets())
        .attr(RTA_OIF, &index.to_ne_bytes())
        .finish()
}

/// `RTM_GETADDR` dump of all IPv4 addresses.
pub fn dump_ipv4_addrs(seq: u32) -> Vec<u8> {
    let info = [AF_INET, 0, 0, 0, 0, 0, 0, 0];
    Message::new(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq).bytes(&info).finish()
}

/// Splits one datagram from the kernel into replies; a truncated message
/// ends the list.
pub fn parse_replies(buf: &[u8]) -> Vec<Reply> {
    let mut replies = Vec::new();
    let mut rest = buf;
    while rest.len() >= HEADER_LEN {
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len < HEADER_LEN || len > rest.len() {
            break;
        }
        let kind = u16::from_ne_bytes([rest[4], rest[5]]);
        let body = &rest[HEADER_LEN..len];
        replies.push(match kind {
            NLMSG_ERROR if body.len() >= 4 => match i32::from_ne_bytes([body[0], body[1], body[2], body[3]]) {
                0 => Reply::Ack,
                err => Reply::Error(-err),
            },
            NLMSG_DONE => Reply::Done,
            RTM_NEWADDR if body.len() >= 8 => {
                Reply::Addr { family: body[0], index: u32::from_ne_bytes([body[4], body[5], body[6], body[7]]) }
            }
            other => Reply::Other(other),
        });
        rest = &rest[len.next_multiple_of(4).min(rest.len())..];
    }
    replies
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(buf: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes(buf[at..at + 4].try_into().unwrap())
    }

    fn u16_at(buf: &[u8], at: usize) -> u16 {
        u16::from_ne_bytes(buf[at..at + 2].try_into().unwrap())
    }

    #[test]
    fn link_up_layout() {
        let msg = link_up(7, 3);
        assert_eq!(msg.len(), 32);
        assert_eq!(u32_at(&msg, 0), 32);
        assert_eq!(u16_at(&msg, 4), RTM_NEWLINK);
        assert_eq!(u16_at(&msg, 6), NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(u32_at(&msg, 8), 7);
        assert_eq!(u32_at(&msg, 20), 3);
        assert_eq!((u32_at(&msg, 24), u32_at(&msg, 28)), (IFF_UP, IFF_UP));
    }

    #[test]
    fn add_addr_layout() {
        let msg = add_addr(1, 2, Ipv4Addr::new(10, 0, 0, 2), 24);
        assert_eq!(msg.len(), 16 + 8 + 8 + 8);
        assert_eq!(u32_at(&msg, 0) as usize, msg.len());
        assert_eq!(u16_at(&msg, 4), RTM_NEWADDR);
        assert_eq!(&msg[16..20], &[AF_INET, 24, 0, 0]);
        assert_eq!(u32_at(&msg, 20), 2);
        assert_eq!((u16_at(&msg, 24), u16_at(&msg, 26)), (8, IFA_LOCAL));
        assert_eq!(&msg[28..32], &[10, 0, 0, 2]);
        assert_eq!((u16_at(&msg, 32), u16_at(&msg, 34)), (8, IFA_ADDRESS));
    }

    #[test]
    fn default_route_layout() {
        let msg = add_default_route(1, 5, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(msg.len(), 16 + 12 + 8 + 8);
        assert_eq!(u16_at(&msg, 4), RTM_NEWROUTE);
        assert_eq!(&msg[16..24], &[AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, 0, RTN_UNICAST]);
        assert_eq!((u16_at(&msg, 28), u16_at(&msg, 30)), (8, RTA_GATEWAY));
        assert_eq!(&msg[32..36], &[10, 0, 0, 1]);
        assert_eq!((u16_at(&msg, 36), u16_at(&msg, 38), u32_at(&msg, 40)), (8, RTA_OIF, 5));
    }

    #[test]
    fn parses_acks_errors_and_dumps() {
        let mut buf = Vec::new();
        for (kind, body) in [
            (NLMSG_ERROR, (-17i32).to_ne_bytes().to_vec()),
            (NLMSG_ERROR, 0i32.to_ne_bytes().to_vec()),
            (RTM_NEWADDR, [AF_INET, 24, 0, 0, 4, 0, 0, 0, 9].to_vec()),
            (NLMSG_DONE, 0i32.to_ne_bytes().to_vec()),
        ] {
            let start = buf.len();
            buf.extend_from_slice(&Message::new(kind, 0, 1).bytes(&body).finish());
            buf.resize(start + (buf.len() - start).next_multiple_of(4), 0);
        }
        buf.extend_from_slice(&[1, 2, 3]);
        let replies = parse_replies(&buf);
        let expected = [Reply::Error(17), Reply::Ack, Reply::Addr { family: AF_INET, index: 4 }, Reply::Done];
        assert_eq!(replies, expected);
    }
}
