//! Typed errors naming the operation and the object, with ipvsadm's plain
//! messages for the common errnos.

use std::fmt;

/// An IPVS operation, as named in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Resolving the IPVS generic-netlink family.
    Connect,
    /// NEW_SERVICE.
    AddService,
    /// SET_SERVICE.
    EditService,
    /// DEL_SERVICE.
    DelService,
    /// GET_SERVICE (one service).
    GetService,
    /// GET_SERVICE dump.
    ListServices,
    /// NEW_DEST.
    AddDest,
    /// SET_DEST.
    EditDest,
    /// DEL_DEST.
    DelDest,
    /// GET_DEST dump.
    ListDests,
    /// NEW_DAEMON.
    StartDaemon,
    /// DEL_DAEMON.
    StopDaemon,
    /// GET_DAEMON dump.
    ListDaemons,
    /// SET_CONFIG.
    SetTimeouts,
    /// GET_CONFIG.
    GetTimeouts,
    /// GET_INFO.
    GetInfo,
    /// ZERO.
    Zero,
    /// FLUSH.
    Flush,
}

impl Operation {
    /// Lower-case words, e.g. `add service`.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Connect => "connect to IPVS",
            Operation::AddService => "add service",
            Operation::EditService => "edit service",
            Operation::DelService => "delete service",
            Operation::GetService => "get service",
            Operation::ListServices => "list services",
            Operation::AddDest => "add destination",
            Operation::EditDest => "edit destination",
            Operation::DelDest => "delete destination",
            Operation::ListDests => "list destinations",
            Operation::StartDaemon => "start sync daemon",
            Operation::StopDaemon => "stop sync daemon",
            Operation::ListDaemons => "list sync daemons",
            Operation::SetTimeouts => "set timeouts",
            Operation::GetTimeouts => "get timeouts",
            Operation::GetInfo => "get info",
            Operation::Zero => "zero counters",
            Operation::Flush => "flush",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything that can go wrong talking to IPVS.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel refused an operation.
    #[error("{op}{}{object}: {}", if object.is_empty() { "" } else { " " }, strerror(*op, *errno))]
    Kernel {
        /// What was attempted.
        op: Operation,
        /// On what (`TCP 192.0.2.1:80`, `... -> 10.0.0.1:80`), or empty.
        object: String,
        /// The positive errno.
        errno: i32,
    },
    /// The kernel has no IPVS (the family cannot be resolved).
    #[error("Can't initialize ipvs: {}", strerror(Operation::Connect, *errno))]
    Unavailable {
        /// The positive errno of the family lookup.
        errno: i32,
    },
    /// The netlink socket could not be opened or failed.
    #[error("{op}: netlink socket: {source}")]
    Io {
        /// What was attempted.
        op: Operation,
        /// The socket error.
        source: std::io::Error,
    },
    /// The kernel's answer could not be decoded.
    #[error("{op}: malformed reply from the kernel: {reason}")]
    Decode {
        /// What was attempted.
        op: Operation,
        /// What was wrong.
        reason: String,
    },
    /// A request could not be encoded (e.g. a name longer than 15 bytes).
    #[error("{op}{}{object}: {reason}", if object.is_empty() { "" } else { " " })]
    Invalid {
        /// What was attempted.
        op: Operation,
        /// On what.
        object: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    /// The kernel errno, if the kernel refused the operation.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { errno, .. } | Error::Unavailable { errno } => Some(*errno),
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// The operation that failed.
    pub fn operation(&self) -> Operation {
        match self {
            Error::Kernel { op, .. }
            | Error::Io { op, .. }
            | Error::Decode { op, .. }
            | Error::Invalid { op, .. } => *op,
            Error::Unavailable { .. } => Operation::Connect,
        }
    }

    /// ipvsadm's plain message for this error (what ipvsadm prints on
    /// stderr), e.g. `Service already exists`.
    pub fn plain_message(&self) -> String {
        match self {
            Error::Kernel { op, errno, .. } => strerror(*op, *errno),
            other => other.to_string(),
        }
    }

    /// True for "already exists" (EEXIST).
    pub fn is_exists(&self) -> bool {
        self.errno() == Some(libc::EEXIST)
    }

    /// True for "no such service / destination / daemon" (ESRCH, ENOENT on
    /// destinations).
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::Kernel { op, errno, .. } => {
                *errno == libc::ESRCH
                    || (*errno == libc::ENOENT
                        && matches!(op, Operation::EditDest | Operation::DelDest))
            }
            _ => false,
        }
    }
}

/// ipvsadm's message (`ipvs_strerror`) for `errno` returned by `op`; the C
/// library's `strerror` text for anything it does not special-case.
pub fn strerror(op: Operation, errno: i32) -> String {
    use Operation as O;
    let special = match (op, errno) {
        (O::AddService, libc::EEXIST) => Some("Service already exists"),
        (O::AddService | O::EditService, libc::ENOENT) => {
            Some("Scheduler or persistence engine not found")
        }
        (O::EditService | O::DelService | O::Zero, libc::ESRCH) => Some("No such service"),
        (O::AddDest | O::EditDest | O::DelDest, libc::ESRCH) => Some("Service not defined"),
        (O::AddDest, libc::EEXIST) => Some("Destination already exists"),
        (O::EditDest | O::DelDest, libc::ENOENT) => Some("No such destination"),
        (O::StartDaemon, libc::EEXIST) => Some("Daemon has already run"),
        (O::StopDaemon, libc::ESRCH) => Some("No daemon is running"),
        (O::ListServices | O::ListDests | O::GetService, libc::ESRCH) => Some("No such service"),
        (_, libc::EPERM) => Some("Permission denied (you must be root)"),
        (_, libc::EINVAL) => {
            Some("Invalid operation.  Possibly wrong module version, address not unicast, ...")
        }
        (_, libc::ENOPROTOOPT) => Some("Protocol not available"),
        (_, libc::ENOMEM) => Some("Memory allocation problem"),
        (_, libc::EOPNOTSUPP) => Some("Operation not supported with IPv6"),
        (_, libc::EAFNOSUPPORT) => Some("Operation not supported with specified address family"),
        (_, libc::EMSGSIZE) => Some("Module is wrong version"),
        _ => None,
    };
    match special {
        Some(s) => s.to_string(),
        None => libc_strerror(errno),
    }
}

/// The C library's message for `errno` (`No such file or directory`).
fn libc_strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_ipvsadm() {
        assert_eq!(
            strerror(Operation::AddService, libc::EEXIST),
            "Service already exists"
        );
        assert_eq!(
            strerror(Operation::DelDest, libc::ENOENT),
            "No such destination"
        );
        assert_eq!(
            strerror(Operation::AddDest, libc::ESRCH),
            "Service not defined"
        );
        assert_eq!(
            strerror(Operation::StopDaemon, libc::ESRCH),
            "No daemon is running"
        );
        assert_eq!(
            strerror(Operation::Flush, libc::EPERM),
            "Permission denied (you must be root)"
        );
        // not special-cased: the C library's text
        assert_eq!(strerror(Operation::DelDest, libc::EEXIST), "File exists");
        assert_eq!(
            strerror(Operation::AddService, libc::ENOENT),
            "Scheduler or persistence engine not found"
        );
    }

    #[test]
    fn display_names_operation_and_object() {
        let e = Error::Kernel {
            op: Operation::AddDest,
            object: "TCP 192.0.2.1:80 -> 10.0.0.1:80".into(),
            errno: libc::EEXIST,
        };
        assert_eq!(
            e.to_string(),
            "add destination TCP 192.0.2.1:80 -> 10.0.0.1:80: Destination already exists"
        );
        assert_eq!(e.plain_message(), "Destination already exists");
        assert!(e.is_exists());
        let e = Error::Kernel {
            op: Operation::Flush,
            object: String::new(),
            errno: libc::EPERM,
        };
        assert_eq!(e.to_string(), "flush: Permission denied (you must be root)");
        let e = Error::Unavailable {
            errno: libc::ENOPROTOOPT,
        };
        assert_eq!(
            e.to_string(),
            "Can't initialize ipvs: Protocol not available"
        );
    }
}
