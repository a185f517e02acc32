//! Tests of the pure monitor with injected time.

use super::*;

const T0: Duration = Duration::from_secs(1000);

fn params(mode: Mode) -> Params {
    Params {
        mode,
        threshold: 3,
        interval: 10,
        weight: 1,
        scale: 10,
        quiesce: false,
        load_monitor: false,
        ipvsadm: "/sbin/ipvsadm".into(),
        dest: "192.0.2.5:8080".into(),
        dest_vport: "192.0.2.5:80".into(),
    }
}

/// Drives a monitor like the shell does, with a clock in seconds.
struct Sim {
    m: Monitor,
    now: Duration,
}

impl Sim {
    fn new(p: Params) -> Sim {
        Sim {
            m: Monitor::new(p, T0),
            now: T0,
        }
    }

    /// Waits until the check is due, runs it with `ok`, returns all actions
    /// except verbose logs.
    fn check(&mut self, ok: bool) -> Vec<Action> {
        self.now = self.m.next_due().expect("waiting");
        let a = self.m.step(Input::Due, self.now);
        assert_eq!(a, [Action::RunCheck]);
        self.now += Duration::from_millis(300); // the check takes 0.3 s
        quiet(self.m.step(Input::Checked(ok), self.now))
    }

    fn feed(&mut self, i: Input) -> Vec<Action> {
        quiet(self.m.step(i, self.now))
    }
}

/// Without verbose logs, raw results and failed-check reports
/// (raw_results_are_reported_on_change and
/// every_failed_check_is_reported check those).
fn quiet(a: Vec<Action>) -> Vec<Action> {
    a.into_iter()
        .filter(|x| {
            !matches!(
                x,
                Action::Log(Level::Verbose, _) | Action::Result(_) | Action::Failed
            )
        })
        .collect()
}

fn log(s: &str) -> Action {
    Action::Log(Level::Info, s.into())
}

const UP: &str = "[ active ] making 192.0.2.5:8080 available";
const DOWN: &str = "[inactive] shutting down 192.0.2.5:8080 due to connection failure";

#[test]
fn first_success_activates_at_once() {
    let mut s = Sim::new(params(Mode::Lvs));
    assert_eq!(s.m.next_due(), Some(T0));
    assert_eq!(
        s.check(true),
        [log(UP), Action::Ipvs(IpvsOp::Add(1)), Action::Health(true)]
    );
    assert!(s.m.active && s.m.present);
    // next check one interval after the end of this one
    assert_eq!(s.m.next_due(), Some(T0 + Duration::from_millis(10_300)));
    assert_eq!(s.check(true), []);
}

#[test]
fn due_before_time_does_nothing() {
    let mut s = Sim::new(params(Mode::Lvs));
    s.check(true);
    let due = s.m.next_due().unwrap();
    assert_eq!(s.m.step(Input::Due, due - Duration::from_millis(1)), []);
    assert_eq!(s.m.step(Input::Due, due), [Action::RunCheck]);
    // inputs out of phase are ignored
    assert_eq!(s.m.step(Input::Due, due), []);
    assert_eq!(s.m.step(Input::Load(Some(0.0)), due), []);
    assert_eq!(s.m.step(Input::Control(Control::Up), due), []);
}

#[test]
fn first_failure_needs_full_reentry() {
    let mut s = Sim::new(params(Mode::Lvs));
    assert_eq!(s.check(false), [Action::Health(false)]);
    assert_eq!(s.m.count, 0);
    assert_eq!(s.check(true), []);
    assert_eq!(s.check(true), []);
    assert_eq!(
        s.check(true),
        [log(UP), Action::Ipvs(IpvsOp::Add(1)), Action::Health(true)]
    );
}

#[test]
fn flapping_server_reentry_counting() {
    let mut p = params(Mode::Lvs);
    p.threshold = 18; // reentry 180 / interval 10
    let mut s = Sim::new(p);
    assert_eq!(s.check(true)[0], log(UP));
    assert_eq!(
        s.check(false),
        [
            log(DOWN),
            Action::Ipvs(IpvsOp::Delete),
            Action::Health(false)
        ]
    );
    // a failure inside the re-entry window restarts the count
    for _ in 0..10 {
        assert_eq!(s.check(true), []);
    }
    assert_eq!(s.check(false), []);
    assert_eq!(s.m.count, 0);
    for _ in 0..17 {
        assert_eq!(s.check(true), []);
    }
    assert_eq!(s.check(true)[..2], [log(UP), Action::Ipvs(IpvsOp::Add(1))]);
}

#[test]
fn threshold_zero_readds_on_first_success() {
    let mut p = params(Mode::Lvs);
    p.threshold = 0; // reentry < interval
    let mut s = Sim::new(p);
    s.check(false);
    assert_eq!(s.check(true)[0], log(UP));
}

#[test]
fn quiesce_versus_delete() {
    let mut p = params(Mode::Lvs);
    p.quiesce = true;
    p.threshold = 1;
    p.weight = 64; // W0 = 2
    let mut s = Sim::new(p);
    assert_eq!(s.check(true)[..2], [log(UP), Action::Ipvs(IpvsOp::Add(2))]);
    assert_eq!(
        s.check(false),
        [
            log(DOWN),
            Action::Ipvs(IpvsOp::Edit(0)),
            Action::Health(false)
        ]
    );
    assert!(s.m.present && !s.m.active);
    // recovery restores the weight with an edit, not an add
    assert_eq!(s.check(true)[..2], [log(UP), Action::Ipvs(IpvsOp::Edit(2))]);

    let mut p = params(Mode::Lvs);
    p.threshold = 1;
    let mut s = Sim::new(p);
    s.check(true);
    assert_eq!(s.check(false)[1], Action::Ipvs(IpvsOp::Delete));
    assert!(!s.m.present);
    assert_eq!(s.check(true)[1], Action::Ipvs(IpvsOp::Add(1)));
}

#[test]
fn slow_start_every_twenty_seconds() {
    let mut p = params(Mode::Lvs);
    p.weight = 100; // W0 = 3
    p.threshold = 18;
    let mut s = Sim::new(p);
    // count 19 after the first check: 19 mod 2 != 0 -> no adjustment yet
    assert_eq!(s.check(true)[..2], [log(UP), Action::Ipvs(IpvsOp::Add(3))]);
    let mut edits = Vec::new();
    for _ in 0..14 {
        for a in s.check(true) {
            if let Action::Ipvs(op) = a {
                edits.push(op);
            }
        }
    }
    use IpvsOp::Edit;
    assert_eq!(
        edits,
        [Edit(6), Edit(12), Edit(24), Edit(48), Edit(96), Edit(100)]
    );
}

#[test]
fn slow_start_logs_rport_and_cadence_by_interval() {
    for (interval, every) in [
        (1u32, 20u64),
        (5, 4),
        (10, 2),
        (11, 1),
        (20, 1),
        (21, 1),
        (60, 1),
    ] {
        let mut p = params(Mode::Lvs);
        p.interval = interval;
        p.weight = 1 << 20;
        p.threshold = 0;
        let mut m = Monitor::new(p, T0);
        let mut now = T0;
        let mut adjusted = Vec::new();
        for _ in 0..60 {
            now = m.next_due().unwrap();
            m.step(Input::Due, now);
            let a = m.step(Input::Checked(true), now);
            if a.iter().any(|x| matches!(x, Action::Ipvs(IpvsOp::Edit(_)))) {
                assert!(a.contains(&Action::Log(
                    Level::Verbose,
                    format!("Adjusting weight of 192.0.2.5:8080 to {}", m.last_weight)
                )));
                adjusted.push(m.count);
            }
        }
        assert!(!adjusted.is_empty());
        assert!(
            adjusted.iter().all(|c| c % every == 0),
            "{interval}: {adjusted:?}"
        );
        assert_eq!(adjusted[0], every, "interval {interval}");
        let _ = now;
    }
}

#[test]
fn load_feedback_after_slow_start() {
    let mut p = params(Mode::Lvs);
    p.weight = 10;
    p.threshold = 0;
    p.interval = 30;
    p.load_monitor = true;
    let mut s = Sim::new(p);
    // W0 = 1, then slow start 2, 4, 8, 10 (every check since interval > 20,
    // starting in the iteration that activates)
    let first = s.check(true);
    assert_eq!(first[..2], [log(UP), Action::Ipvs(IpvsOp::Add(1))]);
    assert_eq!(first[2], Action::Ipvs(IpvsOp::Edit(2)));
    let mut w = vec![2];
    for _ in 0..3 {
        for a in s.check(true) {
            if let Action::Ipvs(IpvsOp::Edit(n)) = a {
                w.push(n);
            }
        }
    }
    assert_eq!(w, [2, 4, 8, 10]);
    // now the probe runs; the next check is due only after the probe
    assert_eq!(s.check(true), [Action::ProbeLoad]);
    assert_eq!(s.m.next_due(), None);
    s.now += Duration::from_secs(2);
    let a = s.m.step(Input::Load(Some(0.0)), s.now);
    assert_eq!(
        a,
        [
            Action::Log(
                Level::Verbose,
                "Computing new weight 15 based on last weight 10 and load 0.000000".into()
            ),
            Action::Log(
                Level::Verbose,
                "Adjusting weight of 192.0.2.5:80 to 15".into()
            ),
            Action::Ipvs(IpvsOp::Edit(15)),
        ]
    );
    assert_eq!(s.m.next_due(), Some(s.now + Duration::from_secs(30)));
    assert_eq!(s.check(true), [Action::ProbeLoad]);
    assert_eq!(s.feed(Input::Load(None)), []);
    assert_eq!(s.check(true), [Action::ProbeLoad]);
    assert_eq!(s.feed(Input::Load(Some(1.0))), []);
    assert_eq!(s.check(true), [Action::ProbeLoad]);
    assert_eq!(
        s.feed(Input::Load(Some(3.0))),
        [Action::Ipvs(IpvsOp::Edit(10))]
    );
}

#[test]
fn weight_zero_stays_one() {
    let mut p = params(Mode::Lvs);
    p.weight = 0;
    p.threshold = 0;
    p.interval = 30;
    let mut s = Sim::new(p);
    assert_eq!(s.check(true)[1], Action::Ipvs(IpvsOp::Add(1)));
    for _ in 0..5 {
        assert_eq!(s.check(true), []);
    }
}

#[test]
fn usr2_forces_up_with_configured_weight_and_freezes() {
    let mut p = params(Mode::Lvs);
    p.weight = 40;
    p.interval = 30;
    let mut s = Sim::new(p);
    s.check(false);
    assert_eq!(
        s.feed(Input::Control(Control::Up)),
        [
            log("rose-colored glasses on"),
            Action::Ipvs(IpvsOp::Add(40)),
            Action::Health(true)
        ]
    );
    assert_eq!(s.m.phase, Phase::Frozen);
    assert_eq!(s.m.next_due(), None);
    // frozen: a second USR2 changes nothing
    assert_eq!(
        s.feed(Input::Control(Control::Up)),
        [log("rose-colored glasses on")]
    );
    // SIGHUP: check at once with count = threshold; weight stays 40, never 0
    assert_eq!(
        s.feed(Input::Control(Control::Resume)),
        [log("DEBUG -- removing glasses")]
    );
    assert_eq!(s.m.next_due(), Some(s.now));
    assert_eq!(s.m.count, 3);
    for _ in 0..5 {
        assert_eq!(s.check(true), []);
    }
    assert_eq!(s.m.last_weight, 40);
}

#[test]
fn usr2_on_quiesced_server_edits() {
    let mut p = params(Mode::Lvs);
    p.quiesce = true;
    p.threshold = 1;
    p.weight = 7;
    let mut s = Sim::new(p);
    s.check(true);
    s.check(false); // quiesced: present, weight 0
    assert_eq!(
        s.feed(Input::Control(Control::Up))[1],
        Action::Ipvs(IpvsOp::Edit(7))
    );
}

#[test]
fn usr1_deletes_even_with_quiesce_and_readd_is_an_add() {
    let mut p = params(Mode::Lvs);
    p.quiesce = true;
    p.threshold = 1;
    let mut s = Sim::new(p);
    s.check(true);
    assert_eq!(
        s.feed(Input::Control(Control::Down)),
        [
            log("opaque glasses on"),
            Action::Ipvs(IpvsOp::Delete),
            Action::Health(false)
        ]
    );
    assert!(!s.m.present);
    // frozen: checks do not run
    assert_eq!(s.m.next_due(), None);
    // USR2 while frozen switches the forced state
    assert_eq!(
        s.feed(Input::Control(Control::Up))[1],
        Action::Ipvs(IpvsOp::Add(1))
    );
    assert_eq!(
        s.feed(Input::Control(Control::Down))[1],
        Action::Ipvs(IpvsOp::Delete)
    );
    s.feed(Input::Control(Control::Resume));
    assert_eq!(s.check(true)[..2], [log(UP), Action::Ipvs(IpvsOp::Add(1))]);
}

#[test]
fn usr1_on_inactive_server_only_freezes() {
    let mut s = Sim::new(params(Mode::Lvs));
    s.check(false);
    assert_eq!(
        s.feed(Input::Control(Control::Down)),
        [log("opaque glasses on")]
    );
    assert_eq!(s.m.phase, Phase::Frozen);
}

#[test]
fn control_logs_next_state_verbosely() {
    // the original's numbers: STATE_UP 2, STATE_DOWN 3; nothing after SIGHUP
    let verbose = |a: Vec<Action>| -> Vec<String> {
        a.into_iter()
            .filter_map(|x| match x {
                Action::Log(Level::Verbose, s) => Some(s),
                _ => None,
            })
            .collect()
    };
    let mut m = Monitor::new(params(Mode::Lvs), T0);
    let a = m.step(Input::Control(Control::Down), T0);
    assert_eq!(verbose(a), ["DEBUG -- In nextState = 3"]);
    let a = m.step(Input::Control(Control::Up), T0);
    assert_eq!(verbose(a), ["DEBUG -- In nextState = 2"]);
    let a = m.step(Input::Control(Control::Resume), T0);
    assert_eq!(a, [log("DEBUG -- removing glasses")]);
}

#[test]
fn termination() {
    // active: delete, exit 0
    let mut s = Sim::new(params(Mode::Lvs));
    s.check(true);
    assert_eq!(
        s.feed(Input::Terminate(15)),
        [
            log("Terminating due to signal 15"),
            Action::KillChild,
            Action::Ipvs(IpvsOp::Delete),
            Action::Exit(0)
        ]
    );
    assert_eq!(s.m.phase, Phase::Exited);
    assert_eq!(s.feed(Input::Due), []);
    // the delete fails: exit 1
    let mut s = Sim::new(params(Mode::Lvs));
    s.check(true);
    s.feed(Input::Terminate(2));
    // (a fresh monitor, since Exited ignores input)
    let mut s = Sim::new(params(Mode::Lvs));
    s.check(true);
    let a = s.feed(Input::Terminate(2));
    assert_eq!(a[2], Action::Ipvs(IpvsOp::Delete));
    let mut m = s.m.clone();
    m.phase = Phase::Waiting; // as if the shell stopped at the failed delete
    assert_eq!(
        m.step(Input::IpvsFailed, s.now),
        [log("/sbin/ipvsadm command failed!"), Action::Exit(1)]
    );
    // quiesced (inactive) servers stay; terminating during a check works
    let mut p = params(Mode::Lvs);
    p.quiesce = true;
    p.threshold = 1;
    let mut s = Sim::new(p);
    s.check(true);
    s.check(false);
    s.now = s.m.next_due().unwrap();
    assert_eq!(s.m.step(Input::Due, s.now), [Action::RunCheck]);
    assert_eq!(
        s.feed(Input::Terminate(15)),
        [
            log("Terminating due to signal 15"),
            Action::KillChild,
            Action::Exit(0)
        ]
    );
}

#[test]
fn ipvs_failure_exits_255() {
    let mut s = Sim::new(params(Mode::Lvs));
    assert_eq!(s.check(true)[1], Action::Ipvs(IpvsOp::Add(1)));
    assert_eq!(
        s.feed(Input::IpvsFailed),
        [log("/sbin/ipvsadm command failed!"), Action::Exit(255)]
    );
}

#[test]
fn lvs_no_service_message_is_verbose() {
    let mut m = Monitor::new(params(Mode::Lvs), T0);
    m.step(Input::Due, T0);
    let a = m.step(Input::Checked(false), T0);
    assert_eq!(
        a,
        [
            Action::Result(false),
            Action::Failed,
            Action::Log(Level::Verbose, "avail: 0 active: 0: count: 3".into()),
            Action::Log(Level::Verbose, "No service active & available...".into()),
            Action::Health(false)
        ]
    );
}

mod fos {
    use super::*;

    fn fos() -> Params {
        let mut p = params(Mode::Fos);
        p.threshold = 1;
        p.dest = "192.0.2.100:80".into();
        p
    }

    #[test]
    fn available_then_failure_exits_0() {
        let mut s = Sim::new(fos());
        assert_eq!(
            s.check(true),
            [
                log("Remote service 192.0.2.100:80 is available"),
                Action::Health(true)
            ]
        );
        assert_eq!(s.check(true), []);
        assert_eq!(
            s.check(false),
            [
                log("Exiting due to connection failure of 192.0.2.100:80"),
                Action::Exit(0)
            ]
        );
    }

    #[test]
    fn never_up_exits_1_after_two_failures() {
        let mut s = Sim::new(fos());
        assert_eq!(
            s.check(false),
            [
                log("No service active & available..."),
                Action::Health(false)
            ]
        );
        assert_eq!(
            s.check(false),
            [
                log("Timeout waiting for remote service -- triggering failover!"),
                Action::Exit(1)
            ]
        );
    }

    #[test]
    fn one_success_in_between_makes_it_available() {
        let mut s = Sim::new(fos());
        s.check(false);
        assert_eq!(
            s.check(true)[0],
            log("Remote service 192.0.2.100:80 is available")
        );
    }

    #[test]
    fn no_ipvs_and_clean_termination() {
        let mut s = Sim::new(fos());
        s.check(true);
        assert_eq!(
            s.feed(Input::Control(Control::Down)),
            [log("opaque glasses on"), Action::Health(false)]
        );
        assert_eq!(
            s.feed(Input::Terminate(15)),
            [
                log("Terminating due to signal 15"),
                Action::KillChild,
                Action::Exit(0)
            ]
        );
    }
}

/// Every input sequence the shell can produce (up to a depth), for a grid of
/// parameters, against a model IPVS table: adds only on absent destinations,
/// edits and deletes only on present ones, `present` mirrors the table,
/// health reports follow `active`, and time only moves forward.
#[test]
fn exhaustive_against_model_table() {
    let mut runs = 0u64;
    for quiesce in [false, true] {
        for threshold in [0u32, 1, 3] {
            for (interval, load_monitor) in [(1u32, false), (10, true), (30, true)] {
                for weight in [0, 1, 64] {
                    let mut p = params(Mode::Lvs);
                    p.quiesce = quiesce;
                    p.threshold = threshold;
                    p.interval = interval;
                    p.load_monitor = load_monitor;
                    p.weight = weight;
                    let m = Monitor::new(p, T0);
                    explore(&m, T0, &Model::default(), 9, &mut runs);
                }
            }
        }
    }
    assert!(runs > 100_000, "{runs}");
}

#[derive(Debug, Clone, Default)]
struct Model {
    /// Weight in the table, `None` = absent.
    weight: Option<i32>,
    health: Option<bool>,
    /// Last raw result reported.
    result: Option<bool>,
}

fn inputs(m: &Monitor) -> Vec<Input> {
    match m.phase {
        Phase::Waiting => vec![
            Input::Due,
            Input::Control(Control::Up),
            Input::Control(Control::Down),
            Input::Control(Control::Resume),
            Input::Terminate(15),
        ],
        Phase::Checking => vec![Input::Checked(true), Input::Checked(false)],
        Phase::Probing => vec![
            Input::Load(Some(0.0)),
            Input::Load(Some(4.0)),
            Input::Load(None),
        ],
        Phase::Frozen => vec![
            Input::Control(Control::Up),
            Input::Control(Control::Down),
            Input::Control(Control::Resume),
        ],
        Phase::Exited => vec![],
    }
}

fn explore(m: &Monitor, now: Duration, model: &Model, depth: u32, runs: &mut u64) {
    if depth == 0 {
        return;
    }
    for input in inputs(m) {
        *runs += 1;
        let mut m2 = m.clone();
        let mut model2 = model.clone();
        let t = match (input, m.next_due()) {
            (Input::Due, Some(d)) => d,
            _ => now + Duration::from_millis(100),
        };
        let actions = m2.step(input, t);
        for a in &actions {
            match *a {
                Action::Ipvs(IpvsOp::Add(w)) => {
                    assert!(model2.weight.is_none(), "add on present: {m:?} {input:?}");
                    assert!(w >= 1 || m.params().weight < 1);
                    model2.weight = Some(w);
                }
                Action::Ipvs(IpvsOp::Edit(w)) => {
                    assert!(model2.weight.is_some(), "edit on absent: {m:?} {input:?}");
                    if w == 0 {
                        assert!(m.params().quiesce || m.params().weight <= 0);
                    }
                    model2.weight = Some(w);
                }
                Action::Ipvs(IpvsOp::Delete) => {
                    assert!(model2.weight.is_some(), "delete on absent: {m:?} {input:?}");
                    model2.weight = None;
                }
                Action::Health(h) => {
                    assert_ne!(model2.health, Some(h));
                    model2.health = Some(h);
                }
                Action::Result(r) => {
                    assert_eq!(input, Input::Checked(r));
                    assert_ne!(model2.result, Some(r));
                    model2.result = Some(r);
                }
                Action::Failed => {
                    assert_eq!(input, Input::Checked(false));
                    assert_eq!(model2.result, Some(false));
                }
                Action::Exit(code) => {
                    assert!(matches!(input, Input::Terminate(_)));
                    assert_eq!(code, 0);
                    assert!(model2.weight.is_none() || !m2.active);
                }
                Action::RunCheck => assert_eq!(input, Input::Due),
                Action::ProbeLoad => assert!(m.params().load_monitor),
                Action::KillChild | Action::Log(..) => {}
            }
        }
        assert_eq!(m2.present, model2.weight.is_some(), "{m:?} {input:?}");
        if m2.phase == Phase::Exited {
            continue;
        }
        if m2.active {
            let w = model2.weight.expect("active but not in the table");
            assert!(w > 0 || m.params().weight <= 0, "active with weight {w}");
        }
        if model2.health.is_some() {
            assert_eq!(model2.health, Some(m2.active));
        }
        if let Some(d) = m2.next_due() {
            assert!(d >= t);
        }
        explore(&m2, t, &model2, depth - 1, runs);
    }
}

fn resumed(p: Params, r: Resume) -> Sim {
    Sim {
        m: Monitor::resume(p, T0, r),
        now: T0,
    }
}

#[test]
fn resume_up_keeps_the_server_and_its_weight() {
    let mut p = params(Mode::Lvs);
    p.weight = 40;
    p.interval = 30; // weight adjustment at every check
    let mut s = resumed(p.clone(), Resume::Up(40));
    // no re-add, no slow start from W0: only the health report
    assert_eq!(s.check(true), [Action::Health(true)]);
    assert!(s.m.active && s.m.present);
    assert_eq!(s.m.last_weight, 40);
    // a lower weight than configured goes on with slow start from there
    let mut s = resumed(p.clone(), Resume::Up(10));
    assert_eq!(
        s.check(true),
        [Action::Ipvs(IpvsOp::Edit(20)), Action::Health(true)]
    );
    // a failure removes it as if this nanny had added it
    let mut s = resumed(p, Resume::Up(40));
    assert_eq!(
        s.check(false),
        [
            log(DOWN),
            Action::Ipvs(IpvsOp::Delete),
            Action::Health(false)
        ]
    );
}

#[test]
fn resume_down_and_quiesced_need_the_full_reentry() {
    let mut p = params(Mode::Lvs);
    p.quiesce = true;
    for r in [Resume::Down, Resume::Quiesced] {
        let mut s = resumed(p.clone(), r);
        assert_eq!(s.check(true), [Action::Health(false)], "{r:?}");
        assert_eq!(s.check(true), [], "{r:?}");
        let op = if r == Resume::Quiesced {
            IpvsOp::Edit(1)
        } else {
            IpvsOp::Add(1)
        };
        assert_eq!(
            s.check(true),
            [log(UP), Action::Ipvs(op), Action::Health(true)],
            "{r:?}"
        );
    }
    // a quiesced server that keeps failing stays as it is
    let mut s = resumed(p, Resume::Quiesced);
    assert_eq!(s.check(false), [Action::Health(false)]);
    assert!(s.m.present && !s.m.active);
}

#[test]
fn raw_results_are_reported_on_change() {
    let mut s = Sim::new(params(Mode::Lvs));
    let mut check = |ok: bool| -> Vec<Action> {
        s.now = s.m.next_due().expect("waiting");
        assert_eq!(s.m.step(Input::Due, s.now), [Action::RunCheck]);
        s.m.step(Input::Checked(ok), s.now)
            .into_iter()
            .filter(|x| !matches!(x, Action::Log(Level::Verbose, _)))
            .collect()
    };
    // the first result, before what the check causes
    assert_eq!(
        check(true),
        [
            Action::Result(true),
            log(UP),
            Action::Ipvs(IpvsOp::Add(1)),
            Action::Health(true)
        ]
    );
    assert_eq!(check(true), []);
    assert_eq!(
        check(false),
        [
            Action::Result(false),
            Action::Failed,
            log(DOWN),
            Action::Ipvs(IpvsOp::Delete),
            Action::Health(false)
        ]
    );
    assert_eq!(check(false), [Action::Failed]);
    // re-entry: the checks pass, the verdict stays down for 3 of them
    assert_eq!(check(true), [Action::Result(true)]);
    assert_eq!(check(true), []);
    assert_eq!(
        check(true),
        [log(UP), Action::Ipvs(IpvsOp::Add(1)), Action::Health(true)]
    );
    // forced states run no check and so report no result
    let a = s.m.step(Input::Control(Control::Down), s.now);
    assert!(!a.iter().any(|x| matches!(x, Action::Result(_))), "{a:?}");
    let a = s.m.step(Input::Control(Control::Resume), s.now);
    assert!(!a.iter().any(|x| matches!(x, Action::Result(_))), "{a:?}");
    // after SIGHUP the next check reports only if the result changed
    s.now = s.m.next_due().expect("waiting");
    s.m.step(Input::Due, s.now);
    let a = s.m.step(Input::Checked(true), s.now);
    assert!(!a.iter().any(|x| matches!(x, Action::Result(_))), "{a:?}");
}

#[test]
fn a_resumed_monitor_reports_its_first_result() {
    let mut m = Monitor::resume(params(Mode::Lvs), T0, Resume::Up(1));
    m.step(Input::Due, T0);
    let a = m.step(Input::Checked(true), T0);
    assert_eq!(a.first(), Some(&Action::Result(true)), "{a:?}");
}

#[test]
fn every_failed_check_is_reported() {
    let mut p = params(Mode::Lvs);
    p.quiesce = true;
    let mut s = Sim::new(p);
    let mut check = |ok: bool| -> Vec<Action> {
        s.now = s.m.next_due().expect("waiting");
        assert_eq!(s.m.step(Input::Due, s.now), [Action::RunCheck]);
        s.m.step(Input::Checked(ok), s.now)
            .into_iter()
            .filter(|x| !matches!(x, Action::Log(..)))
            .collect()
    };
    // a first check that fails: its result, then the failure
    assert_eq!(
        check(false),
        [Action::Result(false), Action::Failed, Action::Health(false)]
    );
    // every further failure, whatever the verdict
    assert_eq!(check(false), [Action::Failed]);
    for _ in 0..3 {
        check(true);
    }
    // a failure of a healthy server: before what it causes
    assert_eq!(
        check(false),
        [
            Action::Result(false),
            Action::Failed,
            Action::Ipvs(IpvsOp::Edit(0)),
            Action::Health(false)
        ]
    );
    assert_eq!(check(false), [Action::Failed]);
    // passing checks never report one
    let passes: Vec<Action> = (0..4).flat_map(|_| check(true)).collect();
    assert!(!passes.contains(&Action::Failed), "{passes:?}");
    // exactly one per failed check over a long run
    let mut failures = 0;
    let mut reported = 0;
    for i in 0..50u32 {
        let ok = (i * 7) % 5 < 2;
        failures += u32::from(!ok);
        reported += check(ok).iter().filter(|a| **a == Action::Failed).count();
    }
    assert_eq!(reported, failures as usize);
}
