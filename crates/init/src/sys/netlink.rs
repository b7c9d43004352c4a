//! rtnetlink I/O: one `NETLINK_ROUTE` socket per request, replies read
//! until the ack or the end of a dump (the messages are in `crate::rtnl`).

use alloc::vec::Vec;
use core::ptr;

use super::linux::{check, errno, Fd};
use super::{Errno, SysResult};
use crate::rtnl::{self, Reply};

/// Sends one rtnetlink request and collects the replies up to its ack
/// (or the end of a dump).
pub(super) fn exchange(seq: &mut u32, request: impl FnOnce(u32) -> Vec<u8>) -> SysResult<Vec<Reply>> {
    *seq = seq.wrapping_add(1);
    let message = request(*seq);
    // SAFETY: plain socket(2) call; the fd is owned by `Fd` below.
    let fd =
        Fd(check(unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) })?);
    let timeout = libc::timeval { tv_sec: 2, tv_usec: 0 };
    // SAFETY: `timeout` is a valid timeval and its size is passed.
    check(unsafe {
        libc::setsockopt(
            fd.0,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            ptr::from_ref(&timeout).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    })?;
    // SAFETY: an all-zero sockaddr_nl is valid (port 0 = the kernel).
    let mut kernel: libc::sockaddr_nl = unsafe { core::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: `message` and `kernel` are valid for the lengths passed.
    let sent = unsafe {
        libc::sendto(
            fd.0,
            message.as_ptr().cast(),
            message.len(),
            0,
            ptr::from_ref(&kernel).cast(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(errno());
    }
    let mut replies = Vec::new();
    let mut buf = alloc::vec![0u8; 32 * 1024];
    loop {
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::recv(fd.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            match errno() {
                Errno(libc::EINTR) => continue,
                e => return Err(e),
            }
        }
        let batch = rtnl::parse_replies(&buf[..n as usize]);
        let finished = batch.iter().any(|r| matches!(r, Reply::Ack | Reply::Error(_) | Reply::Done));
        replies.extend(batch);
        if finished || n == 0 {
            return Ok(replies);
        }
    }
}

/// Sends a request that the kernel acknowledges.
pub(super) fn request(seq: &mut u32, request: impl FnOnce(u32) -> Vec<u8>) -> SysResult<()> {
    for reply in exchange(seq, request)? {
        match reply {
            Reply::Ack => return Ok(()),
            Reply::Error(errno) => return Err(Errno(errno)),
            _ => {}
        }
    }
    Err(Errno(libc::EPROTO))
}
