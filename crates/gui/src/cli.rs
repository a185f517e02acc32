//! `piranha_gui`'s command line.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use clap::Parser;

use crate::access::{Cidr, DEFAULT_HTACCESS};
use crate::passwd;

/// The original's port.
pub const PORT: u16 = 3636;

/// The Piranha Configuration Tool: configure and monitor an LVS router
/// from a browser. Every page needs the password of user piranha (set it
/// with piranha-passwd).
#[derive(Debug, Clone, Parser)]
#[command(name = "piranha_gui", version, about, long_about = None)]
pub struct Options {
    /// Stay in the foreground and log to standard error.
    #[arg(long)]
    pub nodaemon: bool,

    /// Address to listen on (default: all addresses).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<IpAddr>,

    /// Port to listen on.
    #[arg(long, value_name = "PORT", default_value_t = PORT)]
    pub port: u16,

    /// The LVS configuration file.
    #[arg(short = 'c', long = "configfile", value_name = "FILE", default_value = lvscf::DEFAULT_CONFIG_FILE)]
    pub configfile: PathBuf,

    /// The password file (htpasswd format, user piranha).
    #[arg(long, value_name = "PATH", default_value = passwd::DEFAULT_FILE)]
    pub passwd_file: PathBuf,

    /// Accept connections only from this network (ADDR or ADDR/BITS);
    /// repeatable. Default: any address.
    #[arg(long, value_name = "CIDR", value_parser = Cidr::parse)]
    pub allow: Vec<Cidr>,

    /// Apache access file whose Order/Allow from/Deny from lines are
    /// honoured when it exists (re-read when it changes).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_HTACCESS)]
    pub htaccess: PathBuf,

    /// Serve HTTPS with this certificate chain (PEM); needs --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,

    /// The private key of --cert (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,

    /// pulse's status socket.
    #[arg(long, value_name = "PATH", default_value = "/run/pulse.sock")]
    pub pulse_socket: String,

    /// lvsd's status socket.
    #[arg(long, value_name = "PATH", default_value = "/run/lvsd.sock")]
    pub lvsd_socket: String,

    /// Where procfs is mounted (DIR/net/ip_vs is read).
    #[arg(long, value_name = "DIR", default_value = "/proc")]
    pub procfs: PathBuf,

    /// Where a save that this user may not write itself leaves the new
    /// text (DIR/pending.cf) for the save command.
    #[arg(long, value_name = "DIR", default_value = crate::server::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,

    /// The command (program and arguments, split at blanks, run without a
    /// shell) that saves DIR/pending.cf as lvs.cf when this user cannot
    /// write lvs.cf; given, it is used for every save. Default:
    /// systemctl start piranha-gui-save.service
    #[arg(long, value_name = "COMMAND")]
    pub save_command: Option<String>,
    /// The command (program and arguments, split at blanks, run without a
    /// shell) that copies lvs.cf to the backup router as root and leaves
    /// its result in DIR/sync.result (see piranha_gui(8)). Default:
    /// systemctl start piranha-gui-sync.service
    #[arg(long, value_name = "COMMAND")]
    pub sync_command: Option<String>,
    /// Internal: do one save (JSON on standard input) and exit; the server
    /// runs itself so for each save.
    #[arg(long, hide = true)]
    pub save_worker: bool,
}

impl Options {
    /// The save path of these options.
    pub fn saver(&self) -> crate::server::Saver {
        let mut s = crate::server::Saver {
            state_dir: self.state_dir.clone(),
            ..crate::server::Saver::default()
        };
        if let Some(c) = &self.save_command {
            s.command = c.split_whitespace().map(str::to_string).collect();
            s.forced = true;
        }
        s
    }

    /// The Synchronize path of these options.
    pub fn syncer(&self) -> crate::server::Syncer {
        let mut s = crate::server::Syncer {
            result: self.state_dir.join("sync.result"),
            ..crate::server::Syncer::default()
        };
        if let Some(c) = &self.sync_command {
            s.command = c.split_whitespace().map(str::to_string).collect();
        }
        s
    }

    /// The addresses to try, in order.
    pub fn listen_addrs(&self) -> Vec<SocketAddr> {
        match self.listen {
            Some(a) => vec![SocketAddr::new(a, self.port)],
            None => vec![
                SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), self.port),
                SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), self.port),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_options() {
        let o = Options::try_parse_from(["piranha_gui"]).unwrap();
        assert_eq!(o.port, 3636);
        assert_eq!(o.configfile, PathBuf::from("/etc/sysconfig/ha/lvs.cf"));
        assert_eq!(o.listen_addrs().len(), 2);
        let o = Options::try_parse_from([
            "piranha_gui",
            "--nodaemon",
            "--listen",
            "127.0.0.1",
            "--port",
            "0",
            "-c",
            "/x.cf",
            "--allow",
            "10.0.0.0/8",
            "--allow",
            "127.0.0.1",
        ])
        .unwrap();
        assert_eq!(o.allow.len(), 2);
        assert_eq!(o.listen_addrs(), ["127.0.0.1:0".parse().unwrap()]);
        assert!(Options::try_parse_from(["piranha_gui", "--allow", "10.0.0.0/99"]).is_err());
        assert!(Options::try_parse_from(["piranha_gui", "--cert", "a"]).is_err());
    }
}
