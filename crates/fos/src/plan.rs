//! What fos does for each active failover block, computed from lvs.cf
//! (fos.md §2, §3). Pure: no I/O.

use std::net::IpAddr;

use lvscf::{Config, Protocol, Service};

/// fos's own flags that shape commands and nanny command lines.
pub use lvscf::NannyFlags as Flags;

/// One active `failover` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Block name.
    pub name: String,
    /// The service VIP.
    pub vip: IpAddr,
    /// The service port.
    pub port: u16,
    /// `start_cmd`, split into its argument vector.
    pub start: Vec<String>,
    /// `stop_cmd`, split into its argument vector.
    pub stop: Vec<String>,
    /// The nanny that watches the service through the VIP (§3).
    pub monitor: Vec<String>,
}

impl Block {
    /// `VIP:PORT`, as the log lines name the service.
    pub fn service(&self) -> String {
        format!("{}:{}", self.vip, self.port)
    }
}

/// The active failover blocks of `config`, in file order. `partner` is the
/// other node's address (nanny's `-V`).
pub fn blocks(config: &Config, partner: IpAddr, flags: Flags) -> Vec<Block> {
    config
        .failovers
        .iter()
        .filter(|s| s.active)
        .map(|s| Block {
            name: s.name.clone(),
            vip: s.vip(),
            port: s.port,
            start: split_command(s.start_cmd_arg(flags.quotes).unwrap_or_default()),
            stop: split_command(s.stop_cmd_arg(flags.quotes).unwrap_or_default()),
            monitor: nanny_argv(s, partner, flags),
        })
        .collect()
}

/// Splits a command the way fos does: at **every** single space, so two
/// consecutive spaces give an empty argument (unlike pulse's hooks). An
/// empty command gives an empty vector.
pub fn split_command(cmd: &str) -> Vec<String> {
    if cmd.is_empty() {
        return Vec::new();
    }
    cmd.split(' ').map(String::from).collect()
}

/// The partner's address: `backup` on the master, `primary` on the backup.
pub fn partner(config: &Config, master: bool) -> IpAddr {
    if master {
        config.global.backup_addr()
    } else {
        config.global.primary_addr()
    }
}

/// The nanny command line of fos.md §3, in its exact order:
///
/// ```text
/// CLIENT_MONITOR -c -h VIP -V PARTNER_IP -p PORT [-v] [-u] [-e PROG] [-s SEND]
///   [-x EXPECT] -t TIMEOUT [--nodaemon] --fos
/// ```
pub fn nanny_argv(s: &Service, partner: IpAddr, flags: Flags) -> Vec<String> {
    let mut a: Vec<String> = vec![s.client_monitor.clone(), "-c".into()];
    for (k, v) in [
        ("-h", s.vip().to_string()),
        ("-V", partner.to_string()),
        ("-p", s.port.to_string()),
    ] {
        a.push(k.into());
        a.push(v);
    }
    if flags.verbose {
        a.push("-v".into());
    }
    if s.protocol == Protocol::Udp {
        a.push("-u".into());
    }
    for (k, v) in s.check_args(flags.quotes) {
        if let Some(v) = v {
            a.push(k.into());
            a.push(v.into());
        }
    }
    a.push("-t".into());
    a.push(s.timeout.to_string());
    if flags.nodaemon {
        a.push("--nodaemon".into());
    }
    a.push("--fos".into());
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use lvscf::QuoteMode;

    fn parse(text: &str) -> Config {
        lvscf::parse_str(text, "lvs.cf").expect("parses").config
    }

    /// lvs-cf.md §14.3.
    const EXAMPLE: &str = r#"
serial_no = 1
primary = 192.0.2.10
service = fos
backup_active = 1
backup = 192.0.2.11
keepalive = 2
deadtime = 6

failover web {
     active = 1
     address = 192.0.2.100 eth0:1
     vip_nmask = 255.255.255.0
     port = 80
     send = "GET / HTTP/1.0\r\n\r\n"
     expect = "HTTP"
     timeout = 5
     start_cmd = "/etc/rc.d/init.d/httpd start"
     stop_cmd = "/etc/rc.d/init.d/httpd stop"
}

failover off {
     active = 0
     address = 192.0.2.102 eth0:3
}

failover ftp {
     active = 1
     address = 192.0.2.101 eth0:2
     port = 21
     protocol = udp
     expect = "220"
     send_program = "/usr/local/bin/check %h"
     timeout = 10
     client_monitor = /usr/local/sbin/my-nanny
     start_cmd = "/etc/rc.d/init.d/vsftpd  start"
     stop_cmd = '/etc/rc.d/init.d/vsftpd stop'
}
"#;

    #[test]
    fn active_blocks_in_file_order_with_split_commands() {
        let c = parse(EXAMPLE);
        let b = blocks(&c, partner(&c, true), Flags::default());
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].name, "web");
        assert_eq!(b[0].service(), "192.0.2.100:80");
        assert_eq!(b[0].start, ["/etc/rc.d/init.d/httpd", "start"]);
        assert_eq!(b[0].stop, ["/etc/rc.d/init.d/httpd", "stop"]);
        // two spaces: an empty argument, as the original's split
        assert_eq!(b[1].start, ["/etc/rc.d/init.d/vsftpd", "", "start"]);
        // single quotes stripped by default (B3) …
        assert_eq!(b[1].stop, ["/etc/rc.d/init.d/vsftpd", "stop"]);
        // … or kept, as the original did
        let keep = Flags {
            quotes: QuoteMode::KeepSingle,
            ..Flags::default()
        };
        let b = blocks(&c, partner(&c, true), keep);
        assert_eq!(b[1].stop, ["'/etc/rc.d/init.d/vsftpd", "stop'"]);
    }

    #[test]
    fn nanny_command_line_in_the_original_order() {
        let c = parse(EXAMPLE);
        let b = blocks(&c, partner(&c, true), Flags::default());
        assert_eq!(
            b[0].monitor,
            [
                "/usr/sbin/nanny",
                "-c",
                "-h",
                "192.0.2.100",
                "-V",
                "192.0.2.11",
                "-p",
                "80",
                "-s",
                r"GET / HTTP/1.0\r\n\r\n",
                "-x",
                "HTTP",
                "-t",
                "5",
                "--fos"
            ]
        );
        let flags = Flags {
            nodaemon: true,
            verbose: true,
            quotes: QuoteMode::default(),
        };
        let b = blocks(&c, partner(&c, false), flags);
        assert_eq!(
            b[1].monitor,
            [
                "/usr/local/sbin/my-nanny",
                "-c",
                "-h",
                "192.0.2.101",
                "-V",
                "192.0.2.10",
                "-p",
                "21",
                "-v",
                "-u",
                "-e",
                "/usr/local/bin/check %h",
                "-x",
                "220",
                "-t",
                "10",
                "--nodaemon",
                "--fos"
            ]
        );
    }

    #[test]
    fn splitting_keeps_every_empty_word() {
        assert_eq!(split_command("/a  b "), ["/a", "", "b", ""]);
        assert_eq!(split_command(" /a"), ["", "/a"]);
        assert!(split_command("").is_empty());
    }

    #[test]
    fn partner_without_backup_is_unspecified() {
        let c = parse("service = fos\nprimary = 192.0.2.1\n");
        assert_eq!(partner(&c, true), std::net::Ipv4Addr::UNSPECIFIED);
        assert_eq!(partner(&c, false), std::net::Ipv4Addr::new(192, 0, 2, 1));
    }
}
