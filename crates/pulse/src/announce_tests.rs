use super::*;

const HOLD: Duration = Duration::from_secs(5);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn s(secs: f64) -> Duration {
    Duration::from_secs_f64(secs)
}

fn machine() -> Machine {
    let mut m = Machine::new(
        HOLD,
        [ip("192.0.2.10"), ip("192.0.2.11"), ip("2001:db8::10")],
    );
    assert_eq!(m.step(Event::Start, s(0.0)), [Action::StartLvsd]);
    m
}

/// The actions without the log lines.
fn acts(v: Vec<Action>) -> Vec<Action> {
    v.into_iter()
        .filter(|a| !matches!(a, Action::Log(_)))
        .collect()
}

fn logs(v: &[Action]) -> Vec<String> {
    v.iter()
        .filter_map(|a| match a {
            Action::Log(l) => Some(l.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn start_runs_lvsd_and_announces_nothing() {
    let m = machine();
    assert!(m.lvsd_running());
    assert!(m.announced().is_empty());
    assert_eq!(m.deadline(), None);
}

#[test]
fn serving_announces_at_once_and_idle_withdraws() {
    let mut m = machine();
    let a = m.step(Event::Serving(ip("192.0.2.10")), s(1.0));
    assert_eq!(logs(&a), ["scale-out: announcing 192.0.2.10"]);
    assert_eq!(acts(a), [Action::Announce(ip("192.0.2.10"))]);
    assert_eq!(m.announced(), [ip("192.0.2.10")]);
    // said again: nothing new
    assert!(m.step(Event::Serving(ip("192.0.2.10")), s(1.5)).is_empty());
    let a = m.step(Event::Idle(ip("192.0.2.10")), s(2.0));
    assert_eq!(
        logs(&a),
        ["scale-out: withdrawing 192.0.2.10 (no real server)"]
    );
    assert_eq!(acts(a), [Action::Withdraw(ip("192.0.2.10"))]);
    assert!(m.announced().is_empty());
    // idle again, or idle for a VIP never announced: nothing
    assert!(m.step(Event::Idle(ip("192.0.2.10")), s(2.5)).is_empty());
    assert!(m.step(Event::Idle(ip("192.0.2.11")), s(2.5)).is_empty());
}

#[test]
fn ipv6_vips_are_announced_too() {
    let mut m = machine();
    let a = acts(m.step(Event::Serving(ip("2001:db8::10")), s(1.0)));
    assert_eq!(a, [Action::Announce(ip("2001:db8::10"))]);
}

#[test]
fn a_withdrawn_vip_waits_for_the_hold_before_it_comes_back() {
    let mut m = machine();
    m.step(Event::Serving(ip("192.0.2.10")), s(1.0));
    m.step(Event::Idle(ip("192.0.2.10")), s(2.0));
    // serving again 1 s later: held until 2 + 5 = 7 s
    let a = m.step(Event::Serving(ip("192.0.2.10")), s(3.0));
    assert_eq!(acts(a.clone()), []);
    assert_eq!(
        logs(&a),
        ["scale-out: 192.0.2.10 can be served again: announcing it in 4 s (announce_hold)"]
    );
    assert_eq!(m.deadline(), Some(s(7.0)));
    assert!(acts(m.step(Event::Timer, s(6.9))).is_empty());
    assert_eq!(
        acts(m.step(Event::Timer, s(7.0))),
        [Action::Announce(ip("192.0.2.10"))]
    );
    assert_eq!(m.deadline(), None);
}

#[test]
fn flapping_inside_the_hold_announces_once_after_it() {
    let mut m = machine();
    m.step(Event::Serving(ip("192.0.2.10")), s(1.0));
    m.step(Event::Idle(ip("192.0.2.10")), s(2.0));
    m.step(Event::Serving(ip("192.0.2.10")), s(3.0));
    m.step(Event::Idle(ip("192.0.2.10")), s(4.0));
    // idle while held: no deadline, nothing to withdraw
    assert_eq!(m.deadline(), None);
    m.step(Event::Serving(ip("192.0.2.10")), s(5.0));
    // the hold counts from the last withdrawal (2 s), not from the flaps
    assert_eq!(m.deadline(), Some(s(7.0)));
    assert_eq!(
        acts(m.step(Event::Timer, s(7.0))),
        [Action::Announce(ip("192.0.2.10"))]
    );
}

#[test]
fn serving_after_the_hold_has_passed_announces_at_once() {
    let mut m = machine();
    m.step(Event::Serving(ip("192.0.2.10")), s(1.0));
    m.step(Event::Idle(ip("192.0.2.10")), s(2.0));
    let a = m.step(Event::Serving(ip("192.0.2.10")), s(8.0));
    assert_eq!(acts(a), [Action::Announce(ip("192.0.2.10"))]);
}

#[test]
fn vips_are_independent() {
    let mut m = machine();
    m.step(Event::Serving(ip("192.0.2.10")), s(1.0));
    m.step(Event::Idle(ip("192.0.2.10")), s(2.0));
    // another VIP is not held by the first one's withdrawal
    assert_eq!(
        acts(m.step(Event::Serving(ip("192.0.2.11")), s(2.5))),
        [Action::Announce(ip("192.0.2.11"))]
    );
    assert_eq!(m.announced(), [ip("192.0.2.11")]);
}

#[test]
fn an_unknown_vip_is_logged_and_never_announced() {
    let mut m = machine();
    let a = m.step(Event::Serving(ip("198.51.100.1")), s(1.0));
    assert_eq!(acts(a.clone()), []);
    assert_eq!(
        logs(&a),
        [
            "scale-out: lvsd serves 198.51.100.1, which is no active virtual server's VIP: not announced"
        ]
    );
    assert!(m.step(Event::Idle(ip("198.51.100.1")), s(1.0)).is_empty());
    assert!(m.announced().is_empty());
}

#[test]
fn lvsd_death_withdraws_everything_at_once_and_restarts_it() {
    let mut m = machine();
    m.step(Event::Serving(ip("192.0.2.10")), s(10.0));
    m.step(Event::Serving(ip("2001:db8::10")), s(10.0));
    let a = m.step(Event::LvsdExited, s(11.0));
    assert_eq!(
        logs(&a),
        [
            "scale-out: lvsd ended: withdrawing its VIPs, restarting it",
            "scale-out: withdrawing 192.0.2.10 (lvsd died)",
            "scale-out: withdrawing 2001:db8::10 (lvsd died)",
        ]
    );
    // started 11 s ago: restarted at once
    assert_eq!(
        acts(a),
        [
            Action::Withdraw(ip("192.0.2.10")),
            Action::Withdraw(ip("2001:db8::10")),
            Action::StartLvsd,
        ]
    );
    assert!(m.lvsd_running() && m.announced().is_empty());
    // the new lvsd's word counts, after the hold
    assert!(acts(m.step(Event::Serving(ip("192.0.2.10")), s(12.0))).is_empty());
    assert_eq!(
        acts(m.step(Event::Timer, s(16.0))),
        [Action::Announce(ip("192.0.2.10"))]
    );
}

#[test]
fn lvsd_is_restarted_at_most_once_a_second() {
    let mut m = machine();
    // lvsd dies right after its start at 0 s: the restart waits until 1 s
    assert_eq!(acts(m.step(Event::LvsdExited, s(0.2))), []);
    assert!(!m.lvsd_running());
    assert_eq!(m.deadline(), Some(s(1.0)));
    assert_eq!(acts(m.step(Event::Timer, s(0.9))), []);
    assert_eq!(acts(m.step(Event::Timer, s(1.0))), [Action::StartLvsd]);
    assert_eq!(m.deadline(), None);
    // and again
    assert_eq!(acts(m.step(Event::LvsdExited, s(1.1))), []);
    assert_eq!(m.deadline(), Some(s(2.0)));
    // a word from a dead lvsd before the restart: no announcement is due
    // while lvsd does not run
    assert_eq!(acts(m.step(Event::Timer, s(2.0))), [Action::StartLvsd]);
}

#[test]
fn stop_withdraws_everything_stops_lvsd_and_exits() {
    let mut m = machine();
    m.step(Event::Serving(ip("192.0.2.10")), s(1.0));
    m.step(Event::Serving(ip("192.0.2.11")), s(1.0));
    m.step(Event::Idle(ip("192.0.2.11")), s(2.0));
    let a = m.step(Event::Stop, s(3.0));
    assert_eq!(
        logs(&a),
        ["scale-out: withdrawing 192.0.2.10 (pulse stopping)"]
    );
    assert_eq!(
        acts(a),
        [
            Action::Withdraw(ip("192.0.2.10")),
            Action::StopLvsd,
            Action::Exit(0)
        ]
    );
    // nothing after the stop
    assert!(m.step(Event::Serving(ip("192.0.2.11")), s(9.0)).is_empty());
    assert!(m.step(Event::LvsdExited, s(9.0)).is_empty());
    assert_eq!(m.deadline(), None);
}

#[test]
fn stop_while_lvsd_waits_for_its_restart_does_not_stop_it() {
    let mut m = machine();
    m.step(Event::LvsdExited, s(0.1));
    assert_eq!(acts(m.step(Event::Stop, s(0.5))), [Action::Exit(0)]);
}

#[test]
fn a_zero_hold_announces_again_at_once() {
    let mut m = Machine::new(Duration::ZERO, [ip("192.0.2.10")]);
    m.step(Event::Start, s(0.0));
    m.step(Event::Serving(ip("192.0.2.10")), s(1.0));
    m.step(Event::Idle(ip("192.0.2.10")), s(2.0));
    assert_eq!(
        acts(m.step(Event::Serving(ip("192.0.2.10")), s(2.0))),
        [Action::Announce(ip("192.0.2.10"))]
    );
}

#[test]
fn a_reread_lvs_cf_withdraws_removed_vips_and_takes_new_ones() {
    let mut m = machine();
    m.step(Event::Serving(ip("192.0.2.10")), s(1.0));
    m.step(Event::Serving(ip("192.0.2.11")), s(1.0));
    let a = m.step(
        Event::Configured(vec![ip("192.0.2.11"), ip("192.0.2.12")]),
        s(2.0),
    );
    assert_eq!(
        logs(&a),
        ["scale-out: withdrawing 192.0.2.10 (no longer in lvs.cf)"]
    );
    assert_eq!(acts(a), [Action::Withdraw(ip("192.0.2.10"))]);
    // the one kept stays announced; the new one is announced when served
    assert_eq!(m.announced(), [ip("192.0.2.11")]);
    assert_eq!(
        acts(m.step(Event::Serving(ip("192.0.2.12")), s(3.0))),
        [Action::Announce(ip("192.0.2.12"))]
    );
    // the removed one is unknown now
    assert_eq!(acts(m.step(Event::Serving(ip("192.0.2.10")), s(4.0))), []);
    assert_eq!(m.announced(), [ip("192.0.2.11"), ip("192.0.2.12")]);
}
