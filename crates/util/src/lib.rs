//! Pieces every Piranha daemon shares: the `--version` banner, logging
//! (syslog with the program's ident, or `prog: MESSAGE` on stdout), popt's
//! wording for command-line errors, daemonizing with a pid file, the
//! master/backup role test, child-process helpers, the ICMP/ICMPv6 echo
//! (`ping`) and the C library's text for OS errors.

pub mod daemon;
pub mod inet;
pub mod log;
pub mod malloc;
pub mod netif;
pub mod ping;
pub mod popt;
pub mod process;
pub mod status_socket;
pub mod timefmt;
pub mod version;

/// The C library's text for an OS error, without Rust's `(os error N)`
/// suffix: what `perror` and Piranha's `strerror(errno)` messages show.
pub fn errtext(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            // SAFETY: strerror returns a valid NUL-terminated string that we copy at once.
            let p = unsafe { libc::strerror(code) };
            if p.is_null() {
                return e.to_string();
            }
            // SAFETY: p is non-null and NUL-terminated (see above).
            unsafe { std::ffi::CStr::from_ptr(p) }
                .to_string_lossy()
                .into_owned()
        }
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errtext_has_no_rust_suffix() {
        let e = std::io::Error::from_raw_os_error(libc::ENODEV);
        assert_eq!(errtext(&e), "No such device");
        let custom = std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command line");
        assert_eq!(errtext(&custom), "empty command line");
    }
}
