//! Turning the core's IPVS operations into concrete changes, and the ways
//! to carry them out: the report descriptor (under lvsd), log-only
//! (`--test-start`) and the kernel table (run by hand).

use std::io::Write as _;
use std::os::fd::{FromRawFd, OwnedFd};

use std::net::IpAddr;

use ipvs::{Dest, DestKey, Op, Protocol, ServiceKey};
use ipvsadm::text;

use crate::cli::address;
use crate::config::{Config, Forward};
use crate::core::IpvsOp;
use crate::report::{self, Report};

/// The virtual service and destination one nanny manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `None` when `-V` is missing or not an IPv4 address (and no fwmark):
    /// every change then fails, as ipvsadm would have.
    pub service: Option<ServiceKey>,
    /// Real server address.
    pub addr: IpAddr,
    /// Port of the destination in the table.
    pub port: u16,
    pub forward: Forward,
    /// `-t VIP:VPORT`, `-u VIP:VPORT` or `-f MARK` as ipvsadm spells it.
    vspec: String,
}

impl Target {
    /// From the configuration. For direct routing and tunnelling without a
    /// firewall mark the destination uses the virtual port for every
    /// operation (ipvsadm stores it that way; gaps.md E7).
    pub fn new(c: &Config) -> Target {
        let vip = c.vip.as_deref().and_then(|v| address(v.as_ref()));
        let service = if c.fwmark != 0 {
            // a firewall-mark service has the family of its VIP
            Some(match vip {
                Some(IpAddr::V6(_)) => ServiceKey::fwmark6(c.fwmark),
                _ => ServiceKey::fwmark(c.fwmark),
            })
        } else if c.udp {
            vip.map(|a| ServiceKey::udp(a, c.port))
        } else {
            vip.map(|a| ServiceKey::tcp(a, c.port))
        };
        // the address as given (`(null)` without -V), not as parsed
        let vspec = if c.fwmark != 0 {
            let spec = text::fwmark_spec(c.fwmark);
            match vip {
                Some(IpAddr::V6(_)) => format!("{spec} -6"),
                _ => spec,
            }
        } else {
            let proto = if c.udp { Protocol::Udp } else { Protocol::Tcp };
            format!("{} {}", text::service_flag(proto), c.vip_endpoint())
        };
        let port = if c.forward != Forward::Masq && c.fwmark == 0 {
            c.port
        } else {
            c.rport
        };
        Target {
            service,
            addr: c.host,
            port,
            forward: c.forward,
            vspec,
        }
    }

    /// The concrete change for `op`. Fails without a usable virtual
    /// service, or for a negative weight (IPVS rejects both, as ipvsadm did).
    pub fn change(&self, op: IpvsOp) -> Result<Op, String> {
        let key = self
            .service
            .ok_or("no usable virtual service address (-V)")?;
        let dest = |w: i32| -> Result<Dest, String> {
            let w = u32::try_from(w).map_err(|_| format!("weight {w} out of range"))?;
            Ok(Dest::new(self.addr, self.port, self.forward).weight(w))
        };
        Ok(match op {
            IpvsOp::Add(w) => Op::AddDest(key, dest(w)?),
            IpvsOp::Edit(w) => Op::EditDest(key, dest(w)?),
            IpvsOp::Delete => Op::DelDest(
                key,
                DestKey {
                    addr: self.addr,
                    port: self.port,
                },
            ),
        })
    }

    /// The equivalent ipvsadm command (nanny.md §5), for `--test-start`.
    pub fn ipvsadm_form(&self, ipvsadm: &str, op: IpvsOp) -> String {
        let (vs, f) = (&self.vspec, self.forward);
        let d = crate::config::endpoint(&self.addr.to_string(), self.port);
        let args = match op {
            IpvsOp::Add(w) => text::add_dest_args(vs, &d, f, w),
            IpvsOp::Edit(w) => text::edit_dest_args(vs, &d, f, w),
            IpvsOp::Delete => text::del_dest_args(vs, &d),
        };
        format!("{ipvsadm} {args}")
    }
}

/// Carries out IPVS operations and health reports.
pub trait Apply {
    /// Applies one operation; `Err` makes nanny log `IPVSADM command failed!`.
    fn apply(&mut self, op: IpvsOp) -> Result<(), String>;
    /// Notes a health verdict (only the report descriptor uses it).
    fn health(&mut self, _up: bool) -> Result<(), String> {
        Ok(())
    }
    /// Notes a change of the raw check result (only the report descriptor
    /// uses it).
    fn result(&mut self, _pass: bool) -> Result<(), String> {
        Ok(())
    }
    /// Notes a failed check (only the report descriptor uses it).
    fn failed(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// Under lvsd: one protocol line per operation, verdict, result change and
/// failed check (see
/// [`crate::report`]).
pub struct ReportFd {
    file: std::fs::File,
    target: Target,
}

impl ReportFd {
    /// Takes ownership of descriptor `fd`.
    ///
    /// # Safety
    /// `fd` must be an open descriptor not owned by anything else.
    pub unsafe fn from_raw(fd: i32, target: Target) -> ReportFd {
        // SAFETY: the caller hands over ownership.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        ReportFd {
            file: owned.into(),
            target,
        }
    }

    fn send(&mut self, r: Report) -> Result<(), String> {
        let line = format!("{r}\n");
        loop {
            match self.file.write(line.as_bytes()) {
                Ok(n) if n == line.len() => return Ok(()),
                Ok(_) => return Err("short write on report descriptor".into()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // A non-blocking pipe that is full: wait until writable.
                    let fd = std::os::fd::AsRawFd::as_raw_fd(&self.file);
                    let mut p = libc::pollfd {
                        fd,
                        events: libc::POLLOUT,
                        revents: 0,
                    };
                    // SAFETY: one valid pollfd.
                    unsafe { libc::poll(&mut p, 1, 1000) };
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

impl Apply for ReportFd {
    fn apply(&mut self, op: IpvsOp) -> Result<(), String> {
        let change = self.target.change(op)?;
        let r = report::of_change(&change).ok_or("not a destination change")?;
        self.send(r)
    }

    fn health(&mut self, up: bool) -> Result<(), String> {
        self.send(Report::State { up })
    }

    fn result(&mut self, pass: bool) -> Result<(), String> {
        self.send(Report::Result { pass })
    }

    fn failed(&mut self) -> Result<(), String> {
        self.send(Report::Failed)
    }
}

/// `--test-start`: logs the ipvsadm equivalent and succeeds.
pub struct TestStart<F: FnMut(String)> {
    pub target: Target,
    pub ipvsadm: String,
    pub log: F,
}

impl<F: FnMut(String)> Apply for TestStart<F> {
    fn apply(&mut self, op: IpvsOp) -> Result<(), String> {
        let line = format!(
            "test-start: {}",
            self.target.ipvsadm_form(&self.ipvsadm, op)
        );
        (self.log)(line);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::test_config;

    fn config(extra: &[&str]) -> Config {
        test_config(extra)
    }

    #[test]
    fn nat_uses_rport() {
        let t = Target::new(&config(&["-V", "10.0.0.1"]));
        assert_eq!(
            t.ipvsadm_form("/sbin/ipvsadm", IpvsOp::Add(3)),
            "/sbin/ipvsadm -a -t 10.0.0.1:80 -r 192.168.1.2:8080 -m -w 3"
        );
        assert_eq!(
            t.ipvsadm_form("/sbin/ipvsadm", IpvsOp::Delete),
            "/sbin/ipvsadm -d -t 10.0.0.1:80 -r 192.168.1.2:8080"
        );
        assert_eq!(
            report::of_change(&t.change(IpvsOp::Edit(0)).unwrap())
                .unwrap()
                .to_string(),
            "nanny1 edit tcp 10.0.0.1:80 192.168.1.2:8080 masq 0"
        );
        assert!(t.change(IpvsOp::Edit(-1)).is_err());
    }

    #[test]
    fn e7_direct_routing_and_tunnel_use_vport() {
        for (m, flag) in [("g", "-g"), ("i", "-i")] {
            let t = Target::new(&config(&["-V", "10.0.0.1", "-M", m]));
            assert_eq!(
                t.ipvsadm_form("ipvsadm", IpvsOp::Edit(5)),
                format!("ipvsadm -e -t 10.0.0.1:80 -r 192.168.1.2:80 {flag} -w 5")
            );
            assert_eq!(
                t.ipvsadm_form("ipvsadm", IpvsOp::Delete),
                "ipvsadm -d -t 10.0.0.1:80 -r 192.168.1.2:80"
            );
        }
        // with a firewall mark the real port stays
        let t = Target::new(&config(&["-V", "10.0.0.1", "-M", "g", "-f", "7"]));
        assert_eq!(
            t.ipvsadm_form("ipvsadm", IpvsOp::Add(1)),
            "ipvsadm -a -f 7 -r 192.168.1.2:8080 -g -w 1"
        );
        assert_eq!(t.service, Some(ServiceKey::fwmark(7)));
    }

    #[test]
    fn ipv6_services_and_destinations() {
        let mut c = config(&["-V", "2001:db8::10", "-M", "g"]);
        c.host = "2001:db8::5".parse().unwrap();
        let t = Target::new(&c);
        assert_eq!(
            t.service,
            Some(ServiceKey::tcp(
                "2001:db8::10".parse::<std::net::Ipv6Addr>().unwrap(),
                80
            ))
        );
        assert_eq!(
            t.ipvsadm_form("ipvsadm", IpvsOp::Add(2)),
            "ipvsadm -a -t [2001:db8::10]:80 -r [2001:db8::5]:80 -g -w 2"
        );
        // a firewall mark takes the VIP's family
        let t = Target::new(&config(&["-V", "2001:db8::10", "-f", "7"]));
        assert_eq!(t.service, Some(ServiceKey::fwmark6(7)));
        assert_eq!(
            t.ipvsadm_form("ipvsadm", IpvsOp::Delete),
            "ipvsadm -d -f 7 -6 -r 192.168.1.2:8080"
        );
    }

    #[test]
    fn udp_and_missing_vip() {
        let t = Target::new(&config(&["-u", "-V", "10.0.0.1"]));
        assert_eq!(
            t.service,
            Some(ServiceKey::udp(
                "10.0.0.1".parse::<std::net::Ipv4Addr>().unwrap(),
                80
            ))
        );
        let t = Target::new(&config(&[]));
        assert_eq!(t.service, None);
        assert!(t.change(IpvsOp::Delete).is_err());
        assert_eq!(
            t.ipvsadm_form("/sbin/ipvsadm", IpvsOp::Add(1)),
            "/sbin/ipvsadm -a -t (null):80 -r 192.168.1.2:8080 -m -w 1"
        );
    }
}
