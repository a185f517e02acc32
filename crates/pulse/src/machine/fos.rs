//! The state machine for `service = fos` (fos.md §5, §5.1): the same
//! timers, heartbeat rules and link monitoring as lvs mode, but pulse runs
//! `fos --active` on the active node and `fos --monitor` on the standby,
//! speaks the fos magics, sends STOP-ME while it has taken over from a
//! partner whose service failed, and checks the gateway before taking over.
//!
//! Deliberate differences (documented in docs/pulse.md):
//! * VIPs come up before `fos --active` starts (gaps.md F4); the ARPs stay
//!   in the background.
//! * Shared SCSI reservation is refused at start-up (gaps.md F6), so no
//!   reservation state exists here.
//! * SIGHUP restarts fos in its current role (services, or monitors)
//!   instead of letting the standby read fos's exit as a failed partner.
//! * A gateway answer that arrives after the node became active by other
//!   means is ignored.
//! * Going standby ends a fail-partner episode: a standby never sends
//!   STOP-ME.

use std::net::SocketAddr;
use std::time::Duration;

use super::{Action, Event, FosRole, Machine, log};
use crate::heartbeat::Beat;

impl Machine {
    pub(super) fn fos_step(&mut self, event: Event, now: Duration, out: &mut Vec<Action>) {
        match event {
            Event::Start { forced } => self.fos_start(forced, out),
            Event::Timer => self.timer(now, out),
            Event::Datagram { from, data } => self.fos_datagram(from, &data, now, out),
            Event::Links {
                primary_up,
                private_up,
            } => self.links(primary_up, private_up, now, out),
            Event::ChildExited { pid, daemon, .. } => self.fos_child(pid, daemon, out),
            Event::Gateway { reachable } => self.fos_gateway(reachable, out),
            // fos mode runs no lvsd.
            Event::LvsdReady => {}
            Event::Terminate(sig) => {
                out.push(log(format!("Terminating due to signal {sig}")));
                self.fos_stop(out);
                self.vips_down(out);
                self.active = false;
                self.clear_failpartner();
                out.push(Action::Exit(0));
            }
            Event::Hangup => {
                if self.fos_running {
                    // gaps.md F7: fos ends on SIGHUP; pulse starts it again
                    // in the same role (services or monitors restart).
                    out.push(log("SIGHUP received: restarting fos".into()));
                    self.fos_stop(out);
                    self.fos_start_role(out);
                } else {
                    out.push(log(
                        "SIGHUP received but no fos is running: nothing to reload".into(),
                    ));
                }
            }
            Event::UserSignal(sig) => out.push(log(format!("Ignoring signal {sig}"))),
        }
    }

    fn fos_start(&mut self, forced: bool, out: &mut Vec<Action>) {
        let mut forced = forced;
        if !forced && self.settings.master && !self.settings.backup_active {
            out.push(log(
                "Warning: FOS backup node not defined -- skipping checks".into(),
            ));
            forced = true;
        }
        if forced {
            out.push(log("Forced active on startup: activating fos".into()));
            self.fos_activate(out);
        } else {
            out.push(log("Starting Failover Service Monitors".into()));
            self.fos_standby(out);
        }
    }

    fn fos_datagram(
        &mut self,
        from: SocketAddr,
        data: &[u8],
        now: Duration,
        out: &mut Vec<Action>,
    ) {
        let Some(beat) = self.judge(from, data, now, out) else {
            return;
        };
        if self.network_fault && from.ip().to_canonical() == self.settings.partner.public {
            out.push(log("Network fault seems to be fixed".into()));
            self.network_fault = false;
            self.fos_standby(out);
        }
        match beat {
            Beat::StopMe if self.active && self.settings.master => {
                out.push(log("PARTNER HAS TOLD US TO GO INACTIVE!".into()));
                self.fos_standby(out);
            }
            Beat::Running | Beat::StopMe => {
                if self.active && self.settings.master {
                    out.push(log("partner active".into()));
                } else if self.active {
                    let beat = self.outgoing(out);
                    out.push(Action::Send(beat));
                    if self.failpartner {
                        out.push(log("partner active: we want control!".into()));
                    } else {
                        out.push(log("partner active: deactivating FOS".into()));
                        self.fos_standby(out);
                    }
                }
            }
            Beat::Stopped => {
                self.clear_failpartner();
                if !self.active && !self.linkfail {
                    out.push(log(format!(
                        "{} inactive: activating fos",
                        self.partner_role()
                    )));
                    self.fos_activate(out);
                }
            }
            Beat::Hold => {}
        }
        self.heard(now, out);
    }

    pub(super) fn fos_partner_dead(&mut self, out: &mut Vec<Action>) {
        if !self.active && !self.linkfail {
            out.push(log("partner dead: activating failover services".into()));
            self.fos_activate(out);
        }
        self.clear_failpartner();
    }

    pub(super) fn fos_link_failure(&mut self, out: &mut Vec<Action>) {
        if self.failpartner {
            out.push(log("local link failure: we want control!".into()));
        } else {
            out.push(log("local link failure: deactivating FOS".into()));
            self.fos_standby(out);
        }
    }

    fn fos_child(&mut self, pid: u32, daemon: bool, out: &mut Vec<Action>) {
        if !daemon {
            out.push(log(format!("Skipping death of unknown child {pid}")));
            return;
        }
        // Already reaped: it must not be signalled again.
        self.fos_running = false;
        if self.active {
            out.push(log("fos process exited -- restarting it".into()));
            self.fos_activate(out);
        } else {
            out.push(log(
                "fos process exited -- checking network connectivity".into()
            ));
            out.push(Action::CheckGateway);
        }
    }

    fn fos_gateway(&mut self, reachable: bool, out: &mut Vec<Action>) {
        if self.active || self.fos_running {
            return; // the node moved on while the check ran
        }
        if reachable {
            out.push(log(
                "remote service unavailable but we can see the gateway".into()
            ));
            out.push(log(
                "seems like a remote network fault; performing service failover".into(),
            ));
            self.failpartner = true;
            self.notified = false;
            self.fos_activate(out);
        } else {
            out.push(log("remote service unavailable; gateway unavailable".into()));
            out.push(log("I SEEM TO HAVE A NETWORK FAULT!".into()));
            self.network_fault = true;
        }
    }

    fn clear_failpartner(&mut self) {
        self.failpartner = false;
        self.notified = false;
    }

    /// `activateFosServices`: stop any fos, VIPs up (before the services
    /// start, gaps.md F4), `fos --active`.
    fn fos_activate(&mut self, out: &mut Vec<Action>) {
        self.fos_stop(out);
        if self.side_effects() {
            out.push(Action::VipsUp);
        }
        self.active = true;
        self.fos_start_role(out);
    }

    /// `activateFosMonitors`: stop any fos, VIPs down, `fos --monitor`. A
    /// standby has nothing to take control of, so it ends a fail-partner
    /// episode too (it must not keep telling an active partner to stop).
    fn fos_standby(&mut self, out: &mut Vec<Action>) {
        self.clear_failpartner();
        self.fos_stop(out);
        self.vips_down(out);
        self.active = false;
        self.fos_start_role(out);
    }

    /// Starts fos in the role the node's state calls for (not in test mode).
    fn fos_start_role(&mut self, out: &mut Vec<Action>) {
        if self.settings.norun {
            return;
        }
        let role = if self.active {
            FosRole::Active
        } else {
            FosRole::Monitor
        };
        out.push(Action::StartFos(role));
        self.fos_running = true;
    }

    /// SIGTERM and wait for a running fos (not in test mode).
    fn fos_stop(&mut self, out: &mut Vec<Action>) {
        if self.fos_running && !self.settings.norun {
            out.push(Action::StopFos);
        }
        self.fos_running = false;
    }

    fn vips_down(&self, out: &mut Vec<Action>) {
        if self.side_effects() {
            out.push(Action::VipsDown);
        }
    }
}
