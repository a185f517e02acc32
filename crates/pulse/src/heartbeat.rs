//! The heartbeat wire format (pulse.md §4): one 4-byte magic number,
//! little-endian on every CPU, and the receive rules that judge a datagram.
//! With `--heartbeat-key` the magic is followed by the trailer of
//! [`crate::auth`], and [`judge_signed`] checks it before the magic.

use std::net::{IpAddr, SocketAddr};

use crate::auth::{self, Auth, AuthMode, Reject, Stamp};

/// Which block type pulse operates (`service = lvs | fos`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Virtual servers through lvsd.
    Lvs,
    /// Failover services through fos.
    Fos,
}

/// LVS running.
pub const LVS_RUNNING: u32 = 0xBDAD_DBDA;
/// LVS stopped.
pub const LVS_STOPPED: u32 = 0xADBD_DABD;
/// FOS running.
pub const FOS_RUNNING: u32 = 0xBEEF_BABE;
/// FOS stopped.
pub const FOS_STOPPED: u32 = 0xDEAD_BEEF;
/// fos "I am taking over, go inactive".
pub const STOP_ME: u32 = 0xDEAD_DADA;
/// Reserved; accepted, no action.
pub const HOLD: u32 = 0xDEAF_BABE;
/// Reserved; accepted, no action.
pub const HELD: u32 = 0xDEAF_DADA;

/// A heartbeat the receiver accepts, by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// The sender is active.
    Running,
    /// The sender is inactive.
    Stopped,
    /// fos: the sender wants us to go inactive.
    StopMe,
    /// Reserved values: only reset the dead timer.
    Hold,
}

/// The four bytes sent for `beat` in `mode`.
pub fn encode(mode: Mode, beat: Beat) -> [u8; 4] {
    let magic = match (mode, beat) {
        (Mode::Lvs, Beat::Running) => LVS_RUNNING,
        (Mode::Lvs, Beat::Stopped) => LVS_STOPPED,
        (Mode::Fos, Beat::Running) => FOS_RUNNING,
        (Mode::Fos, Beat::Stopped) => FOS_STOPPED,
        (_, Beat::StopMe) => STOP_ME,
        (_, Beat::Hold) => HOLD,
    };
    magic.to_le_bytes()
}

/// What the receive rules (§4.4, with the A1 hardening) make of a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A valid heartbeat.
    Accept(Beat),
    /// Not from a partner address, or not from the heartbeat port:
    /// ignored, logged only with `-v`.
    Unexpected(IpAddr),
    /// Fewer than 4 bytes: `bad heartbeat packet`.
    Short,
    /// A magic this mode does not know: `Incompatible heartbeat received…`.
    Incompatible,
    /// With `--heartbeat-auth=permissive`: a valid heartbeat without a
    /// signature (accepted, counted apart).
    Unsigned(Beat),
    /// With `--heartbeat-key`: failed authentication.
    Rejected(Reject),
}

/// Who may send us heartbeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    /// Partner's public address (IPv4 or IPv6).
    pub public: IpAddr,
    /// Partner's private address, when a private channel exists.
    pub private: Option<IpAddr>,
    /// `heartbeat_port`: genuine peers send from it (gaps.md A1).
    pub port: u16,
}

/// Judges one datagram received from `from` (only its first 4 bytes count;
/// `len` is the datagram's full length). The source is compared in its
/// family: an IPv4-mapped IPv6 source counts as the IPv4 address.
pub fn judge(mode: Mode, partner: &Partner, from: SocketAddr, data: &[u8]) -> Verdict {
    let ip = from.ip().to_canonical();
    if ip != partner.public && Some(ip) != partner.private {
        return Verdict::Unexpected(ip);
    }
    if from.port() != partner.port {
        return Verdict::Unexpected(ip);
    }
    let Some(bytes) = data.get(..4) else {
        return Verdict::Short;
    };
    magic_verdict(mode, [bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// [`judge`] with `--heartbeat-key`: after the source and the length, the
/// trailer (see [`auth`]) is checked against `last`, the last stamp
/// accepted from that address, and only then the magic. An accepted
/// signed heartbeat comes with its stamp, to remember.
pub fn judge_signed(
    mode: Mode,
    partner: &Partner,
    auth: &Auth,
    last: Option<Stamp>,
    from: SocketAddr,
    data: &[u8],
) -> (Verdict, Option<Stamp>) {
    match judge(mode, partner, from, data) {
        Verdict::Unexpected(ip) => return (Verdict::Unexpected(ip), None),
        Verdict::Short => return (Verdict::Short, None),
        _ => {}
    }
    match auth::open(data, &auth.keys, from.ip().to_canonical(), last) {
        Ok((magic, stamp)) => match magic_verdict(mode, magic) {
            Verdict::Accept(beat) => (Verdict::Accept(beat), Some(stamp)),
            other => (other, None),
        },
        Err(Reject::Unsigned) if auth.mode == AuthMode::Permissive => {
            match magic_verdict(mode, [data[0], data[1], data[2], data[3]]) {
                Verdict::Accept(beat) => (Verdict::Unsigned(beat), None),
                other => (other, None),
            }
        }
        Err(r) => (Verdict::Rejected(r), None),
    }
}

/// The magic's meaning in `mode` (§4.4 rule 4).
fn magic_verdict(mode: Mode, bytes: [u8; 4]) -> Verdict {
    let magic = u32::from_le_bytes(bytes);
    let (running, stopped) = match mode {
        Mode::Lvs => (LVS_RUNNING, LVS_STOPPED),
        Mode::Fos => (FOS_RUNNING, FOS_STOPPED),
    };
    match magic {
        m if m == running => Verdict::Accept(Beat::Running),
        m if m == stopped => Verdict::Accept(Beat::Stopped),
        STOP_ME => Verdict::Accept(Beat::StopMe),
        HOLD | HELD => Verdict::Accept(Beat::Hold),
        _ => Verdict::Incompatible,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    const PEER_PRIV: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2));

    fn partner(private: bool) -> Partner {
        Partner {
            public: PEER,
            private: private.then_some(PEER_PRIV),
            port: 539,
        }
    }

    fn from(ip: IpAddr, port: u16) -> SocketAddr {
        SocketAddr::new(ip, port)
    }

    #[test]
    fn wire_bytes_are_little_endian() {
        assert_eq!(encode(Mode::Lvs, Beat::Running), [0xDA, 0xDB, 0xAD, 0xBD]);
        assert_eq!(encode(Mode::Lvs, Beat::Stopped), [0xBD, 0xDA, 0xBD, 0xAD]);
        assert_eq!(encode(Mode::Fos, Beat::Running), [0xBE, 0xBA, 0xEF, 0xBE]);
        assert_eq!(encode(Mode::Fos, Beat::Stopped), [0xEF, 0xBE, 0xAD, 0xDE]);
        assert_eq!(encode(Mode::Lvs, Beat::StopMe), [0xDA, 0xDA, 0xAD, 0xDE]);
        assert_eq!(encode(Mode::Lvs, Beat::Hold), [0xBE, 0xBA, 0xAF, 0xDE]);
        assert_eq!(HELD.to_le_bytes(), [0xDA, 0xDA, 0xAF, 0xDE]);
    }

    #[test]
    fn lvs_mode_accepts_its_magics_and_the_shared_ones() {
        let p = partner(false);
        let f = from(PEER, 539);
        let j = |b: [u8; 4]| judge(Mode::Lvs, &p, f, &b);
        assert_eq!(j([0xDA, 0xDB, 0xAD, 0xBD]), Verdict::Accept(Beat::Running));
        assert_eq!(j([0xBD, 0xDA, 0xBD, 0xAD]), Verdict::Accept(Beat::Stopped));
        assert_eq!(j([0xDA, 0xDA, 0xAD, 0xDE]), Verdict::Accept(Beat::StopMe));
        assert_eq!(j([0xBE, 0xBA, 0xAF, 0xDE]), Verdict::Accept(Beat::Hold));
        assert_eq!(j([0xDA, 0xDA, 0xAF, 0xDE]), Verdict::Accept(Beat::Hold));
        // fos magics and big-endian LVS magics are incompatible
        assert_eq!(j([0xBE, 0xBA, 0xEF, 0xBE]), Verdict::Incompatible);
        assert_eq!(j([0xEF, 0xBE, 0xAD, 0xDE]), Verdict::Incompatible);
        assert_eq!(j([0xBD, 0xAD, 0xDB, 0xDA]), Verdict::Incompatible);
        assert_eq!(j([0, 0, 0, 0]), Verdict::Incompatible);
    }

    #[test]
    fn fos_mode_rejects_lvs_magics() {
        let p = partner(false);
        let f = from(PEER, 539);
        let j = |b: [u8; 4]| judge(Mode::Fos, &p, f, &b);
        assert_eq!(j(FOS_RUNNING.to_le_bytes()), Verdict::Accept(Beat::Running));
        assert_eq!(j(FOS_STOPPED.to_le_bytes()), Verdict::Accept(Beat::Stopped));
        assert_eq!(j(LVS_RUNNING.to_le_bytes()), Verdict::Incompatible);
        assert_eq!(j(LVS_STOPPED.to_le_bytes()), Verdict::Incompatible);
    }

    #[test]
    fn longer_datagrams_are_judged_by_their_first_four_bytes() {
        let p = partner(false);
        let mut d = LVS_RUNNING.to_le_bytes().to_vec();
        d.extend([1, 2, 3]);
        assert_eq!(
            judge(Mode::Lvs, &p, from(PEER, 539), &d),
            Verdict::Accept(Beat::Running)
        );
    }

    #[test]
    fn receive_rules_apply_in_order() {
        let p = partner(true);
        let stranger = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 66));
        // source address before length
        assert_eq!(
            judge(Mode::Lvs, &p, from(stranger, 539), &[1]),
            Verdict::Unexpected(stranger)
        );
        // source port (A1) before length
        assert_eq!(
            judge(Mode::Lvs, &p, from(PEER, 40000), &[1]),
            Verdict::Unexpected(PEER)
        );
        // length before magic
        for n in 0..4 {
            assert_eq!(
                judge(Mode::Lvs, &p, from(PEER, 539), &[0xDA; 4][..n]),
                Verdict::Short
            );
        }
        // either partner address on either socket
        assert_eq!(
            judge(
                Mode::Lvs,
                &p,
                from(PEER_PRIV, 539),
                &LVS_STOPPED.to_le_bytes()
            ),
            Verdict::Accept(Beat::Stopped)
        );
        // without a private channel the private address is a stranger
        assert_eq!(
            judge(
                Mode::Lvs,
                &partner(false),
                from(PEER_PRIV, 539),
                &LVS_STOPPED.to_le_bytes()
            ),
            Verdict::Unexpected(PEER_PRIV)
        );
    }

    #[test]
    fn signed_judging_checks_source_and_length_first_then_the_trailer_then_the_magic() {
        use crate::auth::{Key, Keys, Signer};
        let key = Key::new(vec![7; 16]).unwrap();
        let auth = |mode| Auth {
            keys: Keys::new(vec![key.clone()]).unwrap(),
            mode,
        };
        let p = partner(false);
        let j =
            |mode, from, data: &[u8]| judge_signed(Mode::Lvs, &p, &auth(mode), None, from, data).0;
        let mut s = Signer::new(key.clone(), 1);
        let signed = s.seal(LVS_RUNNING.to_le_bytes(), PEER);
        let stranger = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 66));
        assert_eq!(
            j(AuthMode::Required, from(stranger, 539), &signed),
            Verdict::Unexpected(stranger)
        );
        assert_eq!(
            j(AuthMode::Required, from(PEER, 540), &signed),
            Verdict::Unexpected(PEER)
        );
        assert_eq!(
            j(AuthMode::Required, from(PEER, 539), &[1, 2]),
            Verdict::Short
        );
        assert_eq!(
            j(AuthMode::Required, from(PEER, 539), &signed),
            Verdict::Accept(Beat::Running)
        );
        let plain = LVS_STOPPED.to_le_bytes();
        assert_eq!(
            j(AuthMode::Required, from(PEER, 539), &plain),
            Verdict::Rejected(Reject::Unsigned)
        );
        assert_eq!(
            j(AuthMode::Permissive, from(PEER, 539), &plain),
            Verdict::Unsigned(Beat::Stopped)
        );
        assert_eq!(
            j(
                AuthMode::Permissive,
                from(PEER, 539),
                &FOS_RUNNING.to_le_bytes()
            ),
            Verdict::Incompatible
        );
        // The stamp to remember comes with an accepted signed heartbeat only.
        let (_, stamp) = judge_signed(
            Mode::Lvs,
            &p,
            &auth(AuthMode::Required),
            None,
            from(PEER, 539),
            &signed,
        );
        assert_eq!(stamp, Some(Stamp { epoch: 1, seq: 1 }));
        let fos = s.seal(FOS_RUNNING.to_le_bytes(), PEER);
        assert_eq!(
            judge_signed(
                Mode::Lvs,
                &p,
                &auth(AuthMode::Required),
                None,
                from(PEER, 539),
                &fos
            ),
            (Verdict::Incompatible, None)
        );
    }

    #[test]
    fn an_ipv6_partner_is_judged_by_its_ipv6_address() {
        let peer6: IpAddr = "2001:db8::2".parse().unwrap();
        let p = Partner {
            public: peer6,
            private: Some("fd00::2".parse().unwrap()),
            port: 539,
        };
        let running = LVS_RUNNING.to_le_bytes();
        assert_eq!(
            judge(Mode::Lvs, &p, from(peer6, 539), &running),
            Verdict::Accept(Beat::Running)
        );
        assert_eq!(
            judge(
                Mode::Lvs,
                &p,
                from("fd00::2".parse().unwrap(), 539),
                &running
            ),
            Verdict::Accept(Beat::Running)
        );
        assert_eq!(
            judge(Mode::Lvs, &p, from(peer6, 540), &running),
            Verdict::Unexpected(peer6)
        );
        let other: IpAddr = "2001:db8::3".parse().unwrap();
        assert_eq!(
            judge(Mode::Lvs, &p, from(other, 539), &running),
            Verdict::Unexpected(other)
        );
        // an IPv4 partner is not matched by an IPv6 address, except its
        // IPv4-mapped form (the same host on a dual-stack socket)
        let v4 = partner(false);
        assert_eq!(
            judge(Mode::Lvs, &v4, from(peer6, 539), &running),
            Verdict::Unexpected(peer6)
        );
        let mapped = IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0202));
        assert_eq!(
            judge(Mode::Lvs, &v4, from(mapped, 539), &running),
            Verdict::Accept(Beat::Running)
        );
    }

    #[test]
    fn signed_judging_over_ipv6() {
        use crate::auth::{Key, Keys, Signer};
        let key = Key::new(vec![7; 16]).unwrap();
        let auth = Auth {
            keys: Keys::new(vec![key.clone()]).unwrap(),
            mode: AuthMode::Required,
        };
        let peer6: IpAddr = "2001:db8::2".parse().unwrap();
        let p = Partner {
            public: peer6,
            private: None,
            port: 539,
        };
        let mut s = Signer::new(key, 1);
        let signed = s.seal(LVS_RUNNING.to_le_bytes(), peer6);
        assert_eq!(
            judge_signed(Mode::Lvs, &p, &auth, None, from(peer6, 539), &signed),
            (
                Verdict::Accept(Beat::Running),
                Some(Stamp { epoch: 1, seq: 1 })
            )
        );
        // signed for the IPv4 address of the same router: wrong identity
        let v4 = s.seal(LVS_RUNNING.to_le_bytes(), PEER);
        assert_eq!(
            judge_signed(Mode::Lvs, &p, &auth, None, from(peer6, 539), &v4).0,
            Verdict::Rejected(Reject::WrongIdentity(PEER))
        );
    }
}
