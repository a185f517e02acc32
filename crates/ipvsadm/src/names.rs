//! Address and port names as ipvsadm looks them up: `inet_aton` (the
//! shared one of `lvs_util::inet`), host names through the resolver, and
//! service names and reverse lookups through the C library.

use std::ffi::{CStr, CString};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::command::{IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP};

/// `inet_aton` (accepts `10.1`, hex and octal forms, as ipvsadm does).
/// A string with a NUL byte is no address (C would stop at the NUL).
pub fn parse_inet_aton(s: &str) -> Option<Ipv4Addr> {
    if s.contains('\0') {
        return None;
    }
    lvs_util::inet::inet_aton(s.as_bytes())
}

/// The first IPv4 address of host `name` (ipvsadm's `host_to_addr`).
pub fn host_to_addr(name: &str) -> Option<Ipv4Addr> {
    use std::net::ToSocketAddrs;
    (name, 0u16).to_socket_addrs().ok()?.find_map(|a| match a {
        SocketAddr::V4(a) => Some(*a.ip()),
        SocketAddr::V6(_) => None,
    })
}

fn proto_name(proto: u16) -> Option<&'static CStr> {
    match proto {
        IPPROTO_TCP => Some(c"tcp"),
        IPPROTO_UDP => Some(c"udp"),
        IPPROTO_SCTP => Some(c"sctp"),
        _ => None,
    }
}

/// Port of service `name` for `proto` (`/etc/services`).
pub fn service_to_port(name: &str, proto: u16) -> Option<u16> {
    let p = proto_name(proto)?;
    let n = CString::new(name).ok()?;
    // SAFETY: valid C strings; the result points into libc's static storage
    // and is read at once.
    unsafe {
        let s = libc::getservbyname(n.as_ptr(), p.as_ptr());
        if s.is_null() {
            None
        } else {
            Some(u16::from_be((*s).s_port as u16))
        }
    }
}

/// The service name of `port` for `proto`, or the number.
pub fn port_to_anyname(port: u16, proto: u16) -> String {
    if let Some(p) = proto_name(proto) {
        // SAFETY: as above.
        unsafe {
            let s = libc::getservbyport(i32::from(port.to_be()), p.as_ptr());
            if !s.is_null() && !(*s).s_name.is_null() {
                return CStr::from_ptr((*s).s_name).to_string_lossy().into_owned();
            }
        }
    }
    port.to_string()
}

/// The host name of `addr`, or the address.
pub fn addr_to_anyname(addr: &IpAddr) -> String {
    let sa = SocketAddr::new(*addr, 0);
    let (storage, len) = sockaddr(&sa);
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: valid sockaddr of length len; host buffer of the given size.
    let rc = unsafe {
        libc::getnameinfo(
            &storage as *const libc::sockaddr_storage as *const libc::sockaddr,
            len,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc == 0 {
        // SAFETY: getnameinfo wrote a NUL-terminated string.
        unsafe { CStr::from_ptr(host.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    } else {
        addr.to_string()
    }
}

fn sockaddr(sa: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut st: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match sa {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            unsafe { std::ptr::write(&mut st as *mut _ as *mut libc::sockaddr_in, sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: all-zero is a valid sockaddr_in6.
            let mut sin6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr.s6_addr = a.ip().octets();
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe { std::ptr::write(&mut st as *mut _ as *mut libc::sockaddr_in6, sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (st, len as libc::socklen_t)
}
