//! The netlink client: one persistent generic-netlink socket, the IPVS family
//! resolved once over it.

use std::os::fd::AsRawFd;

use std::time::Duration;

use futures::{Stream, StreamExt};
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_generic::GenlMessage;
use netlink_proto::ConnectionHandle;
use netlink_sys::{AsyncSocket, SocketAddr, protocols::NETLINK_GENERIC};

use crate::codec::{self, Attr, GenlPayload};
use crate::consts::*;
use crate::error::{Error, Operation};
use crate::model::*;

type Msg = GenlMessage<GenlPayload>;

/// How many changes go into one netlink datagram. Each gets its own ACK; the
/// receive buffer is enlarged so the ACKs of a whole batch fit.
const BATCH: usize = 256;
/// Receive and send buffer sizes asked for (`SO_*BUFFORCE`, falling back to
/// the unprivileged `SO_*BUF`).
const SOCKET_BUFFER: libc::c_int = 8 << 20;

/// How long a request may wait for the kernel's next reply message. The
/// kernel answers while it handles the request, so silence means no answer
/// is coming: an error, not a hang.
const SILENCE: Duration = Duration::from_secs(30);

/// One reply message: its command and attribute bytes.
struct Reply {
    cmd: u8,
    body: Vec<u8>,
}

/// A connection to the kernel's IPVS table in the network namespace the
/// calling thread was in when [`Client::connect`] ran.
///
/// Cheap to clone; clones share the socket. Must be used from within a tokio
/// runtime with I/O and time enabled (the socket's I/O task is spawned on
/// it; a request the kernel leaves unanswered for 30 s fails).
///
/// In a fresh network namespace, bring `lo` up (or add any address) before
/// adding IPv4 real servers: until the namespace has a local routing table
/// the kernel refuses them with EINVAL ("address not unicast").
#[derive(Clone, Debug)]
pub struct Client {
    handle: ConnectionHandle<Msg>,
    family: u16,
}

fn io_err(op: Operation) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { op, source }
}

/// The next message of `stream`, or an error after [`SILENCE`].
async fn next_reply<S: Stream + Unpin>(
    stream: &mut S,
    op: Operation,
) -> Result<Option<S::Item>, Error> {
    tokio::time::timeout(SILENCE, stream.next())
        .await
        .map_err(|_| Error::Io {
            op,
            source: std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer from the kernel within {} s", SILENCE.as_secs()),
            ),
        })
}

fn set_buffer(fd: libc::c_int, force: libc::c_int, plain: libc::c_int) {
    let size = SOCKET_BUFFER;
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    let p = &size as *const libc::c_int as *const libc::c_void;
    // SAFETY: fd is an open socket; the option value is a valid c_int.
    unsafe {
        if libc::setsockopt(fd, libc::SOL_SOCKET, force, p, len) != 0 {
            libc::setsockopt(fd, libc::SOL_SOCKET, plain, p, len);
        }
    }
}

impl Client {
    /// Opens the socket, starts its I/O task on the current tokio runtime and
    /// resolves the IPVS family.
    ///
    /// Fails with [`Error::Unavailable`] when the kernel has no IPVS.
    pub async fn connect() -> Result<Client, Error> {
        let (mut conn, handle, _unsolicited) =
            netlink_proto::new_connection::<Msg>(NETLINK_GENERIC)
                .map_err(io_err(Operation::Connect))?;
        conn.set_forward_ack(true);
        {
            let sock = conn.socket_mut().socket_mut();
            let _ = sock.set_cap_ack(true);
            let fd = sock.as_raw_fd();
            set_buffer(fd, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF);
            set_buffer(fd, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF);
        }
        tokio::spawn(conn);
        let mut client = Client { handle, family: 0 };
        client.family = client.resolve_family().await?;
        Ok(client)
    }

    /// The generic-netlink id the kernel gave the IPVS family.
    pub fn family_id(&self) -> u16 {
        self.family
    }

    async fn resolve_family(&self) -> Result<u16, Error> {
        let payload = GenlPayload::get_family(IPVS_GENL_NAME);
        let mut msg = GenlMessage::from_payload(payload);
        msg.set_resolved_family_id(GENL_ID_CTRL);
        let replies = self
            .exchange(Operation::Connect, String::new(), msg, NLM_F_REQUEST)
            .await
            .map_err(|e| match e.errno() {
                Some(errno) if matches!(e, Error::Kernel { .. }) => Error::Unavailable { errno },
                _ => e,
            })?;
        let reply = replies.first().ok_or_else(|| Error::Decode {
            op: Operation::Connect,
            reason: "no reply to CTRL_CMD_GETFAMILY".into(),
        })?;
        codec::decode_family_id(&reply.body).map_err(|e| Error::Decode {
            op: Operation::Connect,
            reason: e.0,
        })
    }

    fn message(&self, cmd: u8, attrs: &[Attr], flags: u16) -> NetlinkMessage<Msg> {
        let mut genl = GenlMessage::from_payload(GenlPayload::ipvs(cmd, attrs));
        genl.set_resolved_family_id(self.family);
        let mut nl = NetlinkMessage::from(genl);
        nl.header.flags = flags;
        nl.finalize();
        nl
    }

    /// Sends one message and collects its replies until the ACK, the end of
    /// the dump, or an error.
    async fn exchange(
        &self,
        op: Operation,
        object: String,
        genl: Msg,
        flags: u16,
    ) -> Result<Vec<Reply>, Error> {
        let mut nl = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(genl));
        nl.header.flags = flags;
        nl.finalize();
        let mut stream = self
            .handle
            .request(nl, SocketAddr::new(0, 0))
            .map_err(|e| Error::Io {
                op,
                source: std::io::Error::other(e.to_string()),
            })?;
        let mut out = Vec::new();
        while let Some(m) = next_reply(&mut stream, op).await? {
            match m.payload {
                NetlinkPayload::InnerMessage(g) => out.push(Reply {
                    cmd: g.payload.cmd,
                    body: g.payload.body,
                }),
                NetlinkPayload::Error(e) => match e.code {
                    None => break,
                    Some(code) => {
                        return Err(Error::Kernel {
                            op,
                            object,
                            errno: -code.get(),
                        });
                    }
                },
                NetlinkPayload::Overrun(_) => {
                    return Err(Error::Io {
                        op,
                        source: std::io::Error::from_raw_os_error(libc::ENOBUFS),
                    });
                }
                _ => {}
            }
        }
        Ok(out)
    }

    async fn ipvs(
        &self,
        op: Operation,
        object: String,
        cmd: u8,
        attrs: &[Attr],
        flags: u16,
    ) -> Result<Vec<Reply>, Error> {
        let mut genl = GenlMessage::from_payload(GenlPayload::ipvs(cmd, attrs));
        genl.set_resolved_family_id(self.family);
        self.exchange(op, object, genl, flags).await
    }

    async fn change(
        &self,
        op: Operation,
        object: String,
        cmd: u8,
        attrs: &[Attr],
    ) -> Result<(), Error> {
        self.ipvs(op, object, cmd, attrs, NLM_F_REQUEST | NLM_F_ACK)
            .await
            .map(drop)
    }

    fn first(op: Operation, replies: &[Reply]) -> Result<&Reply, Error> {
        replies.first().ok_or_else(|| Error::Decode {
            op,
            reason: "no reply".into(),
        })
    }

    fn decoded<T>(op: Operation, r: Result<T, codec::DecodeError>) -> Result<T, Error> {
        r.map_err(|e| Error::Decode { op, reason: e.0 })
    }

    /// Version and connection-table size.
    pub async fn info(&self) -> Result<Info, Error> {
        let op = Operation::GetInfo;
        let r = self
            .ipvs(op, String::new(), CMD_GET_INFO, &[], NLM_F_REQUEST)
            .await?;
        let r = Self::first(op, &r)?;
        Self::decoded(op, codec::decode_info_msg(r.cmd, &r.body))
    }

    /// Every service, in one dump.
    ///
    /// The kernel keeps the services of all network namespaces in shared
    /// hash tables and resumes a multi-part dump by position, so a dump
    /// spanning several datagrams can repeat or miss entries while another
    /// namespace adds or deletes services. Repeats are dropped here.
    pub async fn services(&self) -> Result<Vec<ServiceEntry>, Error> {
        let op = Operation::ListServices;
        let r = self
            .ipvs(
                op,
                String::new(),
                CMD_GET_SERVICE,
                &[],
                NLM_F_REQUEST | NLM_F_DUMP,
            )
            .await?;
        let mut seen = std::collections::HashSet::with_capacity(r.len());
        let mut out = Vec::with_capacity(r.len());
        for m in &r {
            let e = Self::decoded(op, codec::decode_service_msg(m.cmd, &m.body))?;
            if seen.insert(e.service.key) {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// One service.
    pub async fn service(&self, key: &ServiceKey) -> Result<ServiceEntry, Error> {
        let op = Operation::GetService;
        let r = self
            .ipvs(
                op,
                key.to_string(),
                CMD_GET_SERVICE,
                &[codec::service_key_nest(key)],
                NLM_F_REQUEST,
            )
            .await?;
        let r = Self::first(op, &r)?;
        Self::decoded(op, codec::decode_service_msg(r.cmd, &r.body))
    }

    /// The destinations of one service, in one dump (empty for an unknown
    /// service, as the kernel answers).
    pub async fn dests(&self, key: &ServiceKey) -> Result<Vec<DestEntry>, Error> {
        let op = Operation::ListDests;
        let r = self
            .ipvs(
                op,
                key.to_string(),
                CMD_GET_DEST,
                &[codec::service_key_nest(key)],
                NLM_F_REQUEST | NLM_F_DUMP,
            )
            .await?;
        let fam = key.family();
        r.iter()
            .map(|m| Self::decoded(op, codec::decode_dest_msg(m.cmd, &m.body, fam)))
            .collect()
    }

    /// Every service with its destinations (one dump for the services, one
    /// per service for its destinations).
    pub async fn dump(&self) -> Result<Vec<ServiceDump>, Error> {
        let mut out = Vec::new();
        for entry in self.services().await? {
            let dests = self.dests(&entry.service.key).await?;
            out.push(ServiceDump { entry, dests });
        }
        Ok(out)
    }

    /// Adds a service.
    pub async fn add_service(&self, s: &Service) -> Result<(), Error> {
        self.apply(std::slice::from_ref(&Op::AddService(s.clone())))
            .await
    }

    /// Changes a service's settings.
    pub async fn edit_service(&self, s: &Service) -> Result<(), Error> {
        self.apply(std::slice::from_ref(&Op::EditService(s.clone())))
            .await
    }

    /// Deletes a service and its destinations.
    pub async fn del_service(&self, key: &ServiceKey) -> Result<(), Error> {
        self.apply(&[Op::DelService(*key)]).await
    }

    /// Adds a destination to a service.
    pub async fn add_dest(&self, key: &ServiceKey, d: &Dest) -> Result<(), Error> {
        self.apply(&[Op::AddDest(*key, *d)]).await
    }

    /// Changes a destination (weight, method, thresholds, tunnel).
    pub async fn edit_dest(&self, key: &ServiceKey, d: &Dest) -> Result<(), Error> {
        self.apply(&[Op::EditDest(*key, *d)]).await
    }

    /// Removes a destination from a service.
    pub async fn del_dest(&self, key: &ServiceKey, d: &DestKey) -> Result<(), Error> {
        self.apply(&[Op::DelDest(*key, *d)]).await
    }

    /// Applies `ops` in order, pipelined (many per datagram). Every op is
    /// attempted, as the kernel goes on after a failure; the result of each
    /// op is returned in order.
    pub async fn apply_each(&self, ops: &[Op]) -> Result<Vec<Result<(), Error>>, Error> {
        let mut results = Vec::with_capacity(ops.len());
        for chunk in ops.chunks(BATCH) {
            let mut msgs = Vec::with_capacity(chunk.len());
            let mut invalid = Vec::with_capacity(chunk.len());
            for op in chunk {
                match codec::op_request(op) {
                    Ok((cmd, attrs)) => {
                        msgs.push(self.message(cmd, &attrs, NLM_F_REQUEST | NLM_F_ACK));
                        invalid.push(None);
                    }
                    Err(reason) => invalid.push(Some(reason)),
                }
            }
            let n = msgs.len();
            let mut acks: Vec<Option<i32>> = Vec::with_capacity(n);
            if n > 0 {
                let mut stream = self
                    .handle
                    .request_batch(msgs, SocketAddr::new(0, 0))
                    .map_err(|e| Error::Io {
                        op: chunk[0].operation(),
                        source: std::io::Error::other(e.to_string()),
                    })?;
                while let Some(m) = next_reply(&mut stream, chunk[0].operation()).await? {
                    match m.payload {
                        NetlinkPayload::Error(e) => acks.push(e.code.map(|c| -c.get())),
                        NetlinkPayload::Overrun(_) => break,
                        _ => {}
                    }
                }
                if acks.len() != n {
                    return Err(Error::Io {
                        op: chunk[0].operation(),
                        source: std::io::Error::other(format!(
                            "{} acknowledgements for {n} requests",
                            acks.len()
                        )),
                    });
                }
            }
            let mut acks = acks.into_iter();
            for (op, inv) in chunk.iter().zip(invalid) {
                let r = match inv {
                    Some(reason) => Err(Error::Invalid {
                        op: op.operation(),
                        object: op.object(),
                        reason,
                    }),
                    None => match acks.next().flatten() {
                        None => Ok(()),
                        Some(errno) => Err(Error::Kernel {
                            op: op.operation(),
                            object: op.object(),
                            errno,
                        }),
                    },
                };
                results.push(r);
            }
        }
        Ok(results)
    }

    /// Applies `ops` in order, pipelined; every op is attempted and the first
    /// failure is returned.
    pub async fn apply(&self, ops: &[Op]) -> Result<(), Error> {
        for r in self.apply_each(ops).await? {
            r?;
        }
        Ok(())
    }

    /// Zeroes the counters of one service, or of all with `None`.
    pub async fn zero(&self, key: Option<&ServiceKey>) -> Result<(), Error> {
        let attrs: Vec<Attr> = key.map(codec::service_key_nest).into_iter().collect();
        let object = key.map(|k| k.to_string()).unwrap_or_default();
        self.change(Operation::Zero, object, CMD_ZERO, &attrs).await
    }

    /// Deletes every service and destination.
    pub async fn flush(&self) -> Result<(), Error> {
        self.change(Operation::Flush, String::new(), CMD_FLUSH, &[])
            .await
    }

    /// The connection timeouts.
    pub async fn timeouts(&self) -> Result<Timeouts, Error> {
        let op = Operation::GetTimeouts;
        let r = self
            .ipvs(op, String::new(), CMD_GET_CONFIG, &[], NLM_F_REQUEST)
            .await?;
        let r = Self::first(op, &r)?;
        Self::decoded(op, codec::decode_timeouts_msg(r.cmd, &r.body))
    }

    /// Sets the connection timeouts (0 leaves one unchanged).
    pub async fn set_timeouts(&self, t: &Timeouts) -> Result<(), Error> {
        self.change(
            Operation::SetTimeouts,
            String::new(),
            CMD_SET_CONFIG,
            &codec::timeout_attrs(t),
        )
        .await
    }

    /// Starts a connection-sync daemon.
    pub async fn start_daemon(&self, d: &SyncDaemon) -> Result<(), Error> {
        let op = Operation::StartDaemon;
        let object = format!("{} on {}", d.state.name(), d.mcast_ifn);
        let nest = codec::daemon_nest(d).map_err(|reason| Error::Invalid {
            op,
            object: object.clone(),
            reason,
        })?;
        self.change(op, object, CMD_NEW_DAEMON, &[nest]).await
    }

    /// Stops the master or backup sync daemon.
    ///
    /// The kernel sends no answer at all when the daemon's thread had not
    /// run yet (its stop returns -EINTR, which netlink never acknowledges),
    /// though the daemon is then stopped. So the stop goes out with a
    /// GET_INFO in the same datagram: the kernel handles them in order, and
    /// an info reply with no answer to the stop before it is that case.
    /// (Two requests, not one after the other: netlink-proto sends one
    /// queued request per wake-up, and an unanswered one wakes nothing.)
    pub async fn stop_daemon(&self, state: DaemonState) -> Result<(), Error> {
        let op = Operation::StopDaemon;
        let del = self.message(
            CMD_DEL_DAEMON,
            &[codec::daemon_state_nest(state)],
            NLM_F_REQUEST | NLM_F_ACK,
        );
        let info = self.message(CMD_GET_INFO, &[], NLM_F_REQUEST);
        let mut stream = self
            .handle
            .request_batch(vec![del, info], SocketAddr::new(0, 0))
            .map_err(|e| Error::Io {
                op,
                source: std::io::Error::other(e.to_string()),
            })?;
        let mut answer = Ok(());
        while let Some(m) = next_reply(&mut stream, op).await? {
            match m.payload {
                // the stop's answer (the info request asks for none)
                NetlinkPayload::Error(e) => {
                    if let Some(code) = e.code {
                        answer = Err(Error::Kernel {
                            op,
                            object: state.name().to_string(),
                            errno: -code.get(),
                        });
                    }
                }
                NetlinkPayload::InnerMessage(_) => return answer,
                _ => {}
            }
        }
        answer?;
        Err(Error::Decode {
            op,
            reason: "no reply to the GET_INFO sent with the stop".into(),
        })
    }

    /// The running sync daemons (0 to 2).
    pub async fn daemons(&self) -> Result<Vec<SyncDaemon>, Error> {
        let op = Operation::ListDaemons;
        let r = self
            .ipvs(
                op,
                String::new(),
                CMD_GET_DAEMON,
                &[],
                NLM_F_REQUEST | NLM_F_DUMP,
            )
            .await?;
        r.iter()
            .map(|m| Self::decoded(op, codec::decode_daemon_msg(m.cmd, &m.body)))
            .collect()
    }
}
