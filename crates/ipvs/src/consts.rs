//! Numbers of the IPVS generic-netlink family (`include/uapi/linux/ip_vs.h`).
//!
//! See `docs/spec/ipvs-genl.md` for what each one means on the wire.

/// Generic-netlink family name.
pub const IPVS_GENL_NAME: &str = "IPVS";
/// Generic-netlink family version.
pub const IPVS_GENL_VERSION: u8 = 1;

/// The generic-netlink controller's fixed id.
pub const GENL_ID_CTRL: u16 = 0x10;
/// `CTRL_CMD_GETFAMILY`.
pub const CTRL_CMD_GETFAMILY: u8 = 3;
/// `CTRL_ATTR_FAMILY_ID` (u16).
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;

// Commands.
pub const CMD_NEW_SERVICE: u8 = 1;
pub const CMD_SET_SERVICE: u8 = 2;
pub const CMD_DEL_SERVICE: u8 = 3;
pub const CMD_GET_SERVICE: u8 = 4;
pub const CMD_NEW_DEST: u8 = 5;
pub const CMD_SET_DEST: u8 = 6;
pub const CMD_DEL_DEST: u8 = 7;
pub const CMD_GET_DEST: u8 = 8;
pub const CMD_NEW_DAEMON: u8 = 9;
pub const CMD_DEL_DAEMON: u8 = 10;
pub const CMD_GET_DAEMON: u8 = 11;
pub const CMD_SET_CONFIG: u8 = 12;
pub const CMD_GET_CONFIG: u8 = 13;
pub const CMD_SET_INFO: u8 = 14;
pub const CMD_GET_INFO: u8 = 15;
pub const CMD_ZERO: u8 = 16;
pub const CMD_FLUSH: u8 = 17;

// Top-level attributes.
pub const CMD_ATTR_SERVICE: u16 = 1;
pub const CMD_ATTR_DEST: u16 = 2;
pub const CMD_ATTR_DAEMON: u16 = 3;
pub const CMD_ATTR_TIMEOUT_TCP: u16 = 4;
pub const CMD_ATTR_TIMEOUT_TCP_FIN: u16 = 5;
pub const CMD_ATTR_TIMEOUT_UDP: u16 = 6;
// Top-level attributes of a SET_INFO reply (same numbers, other meaning).
pub const INFO_ATTR_VERSION: u16 = 1;
pub const INFO_ATTR_CONN_TAB_SIZE: u16 = 2;

// Service attributes.
pub const SVC_ATTR_AF: u16 = 1;
pub const SVC_ATTR_PROTOCOL: u16 = 2;
pub const SVC_ATTR_ADDR: u16 = 3;
pub const SVC_ATTR_PORT: u16 = 4;
pub const SVC_ATTR_FWMARK: u16 = 5;
pub const SVC_ATTR_SCHED_NAME: u16 = 6;
pub const SVC_ATTR_FLAGS: u16 = 7;
pub const SVC_ATTR_TIMEOUT: u16 = 8;
pub const SVC_ATTR_NETMASK: u16 = 9;
pub const SVC_ATTR_STATS: u16 = 10;
pub const SVC_ATTR_PE_NAME: u16 = 11;
pub const SVC_ATTR_STATS64: u16 = 12;

// Destination attributes.
pub const DEST_ATTR_ADDR: u16 = 1;
pub const DEST_ATTR_PORT: u16 = 2;
pub const DEST_ATTR_FWD_METHOD: u16 = 3;
pub const DEST_ATTR_WEIGHT: u16 = 4;
pub const DEST_ATTR_U_THRESH: u16 = 5;
pub const DEST_ATTR_L_THRESH: u16 = 6;
pub const DEST_ATTR_ACTIVE_CONNS: u16 = 7;
pub const DEST_ATTR_INACT_CONNS: u16 = 8;
pub const DEST_ATTR_PERSIST_CONNS: u16 = 9;
pub const DEST_ATTR_STATS: u16 = 10;
pub const DEST_ATTR_ADDR_FAMILY: u16 = 11;
pub const DEST_ATTR_STATS64: u16 = 12;
pub const DEST_ATTR_TUN_TYPE: u16 = 13;
pub const DEST_ATTR_TUN_PORT: u16 = 14;
pub const DEST_ATTR_TUN_FLAGS: u16 = 15;

// Sync daemon attributes.
pub const DAEMON_ATTR_STATE: u16 = 1;
pub const DAEMON_ATTR_MCAST_IFN: u16 = 2;
pub const DAEMON_ATTR_SYNC_ID: u16 = 3;
pub const DAEMON_ATTR_SYNC_MAXLEN: u16 = 4;
pub const DAEMON_ATTR_MCAST_GROUP: u16 = 5;
pub const DAEMON_ATTR_MCAST_GROUP6: u16 = 6;
pub const DAEMON_ATTR_MCAST_PORT: u16 = 7;
pub const DAEMON_ATTR_MCAST_TTL: u16 = 8;

// Statistics attributes.
pub const STATS_ATTR_CONNS: u16 = 1;
pub const STATS_ATTR_INPKTS: u16 = 2;
pub const STATS_ATTR_OUTPKTS: u16 = 3;
pub const STATS_ATTR_INBYTES: u16 = 4;
pub const STATS_ATTR_OUTBYTES: u16 = 5;
pub const STATS_ATTR_CPS: u16 = 6;
pub const STATS_ATTR_INPPS: u16 = 7;
pub const STATS_ATTR_OUTPPS: u16 = 8;
pub const STATS_ATTR_INBPS: u16 = 9;
pub const STATS_ATTR_OUTBPS: u16 = 10;

/// `IP_VS_CONN_F_FWD_MASK`.
pub const CONN_F_FWD_MASK: u32 = 0x7;

/// Address families.
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;
/// IP protocol numbers.
pub const IPPROTO_TCP: u16 = 6;
pub const IPPROTO_UDP: u16 = 17;
pub const IPPROTO_SCTP: u16 = 132;

/// Longest scheduler / persistence engine / interface name, without the NUL.
pub const NAME_MAXLEN: usize = 15;
