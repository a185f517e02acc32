//! The status view: the engine's state as the `lvsd --status` document
//! (`piranha_status::lvsd::Status`, docs/status.md), read through
//! [`Engine::view`].

use std::time::Duration;

use crate::engine::{Engine, Role, RsStatus, RsView, Status, VsStatus, VsView};

/// A snapshot for `lvsd --status`. `now` is the engine clock; `wall` the
/// same instant in seconds since the epoch. `pid` is left 0 and `role`
/// `active`, `pulse_gone` false: the shell's to fill in.
pub fn status(engine: &Engine, now: Duration, wall: f64) -> Status {
    let at = |t: Option<Duration>| t.map(|t| wall - (now.saturating_sub(t)).as_secs_f64());
    let real = |st: &RsView<'_>| {
        let r = st.spec;
        let monitored = st.role == Role::Monitored;
        let monitor = match st.role {
            Role::Inactive => "inactive".to_string(),
            Role::Duplicate => "duplicate".to_string(),
            Role::Monitored => serde_json::to_value(st.monitor)
                .ok()
                .and_then(|x| x.as_str().map(String::from))
                .unwrap_or_default(),
        };
        let health = match st.health {
            _ if !monitored => "-",
            Some(true) => "up",
            Some(false) => "down",
            None if st.pending => "pending",
            None => "unknown",
        };
        RsStatus {
            name: r.name.clone(),
            address: r.id.to_string(),
            monitor,
            pid: st.pid,
            health: health.into(),
            weight: st.installed_weight.filter(|_| monitored),
            configured_weight: r.weight,
            last_result: st
                .result
                .map(|p| if p { "pass" } else { "fail" }.to_string()),
            last_result_since: at(st.result_since),
            last_change_at: at(st.changed),
            check_failures: st.failures,
        }
    };
    let virtuals = engine
        .view(now)
        .map(|s: VsView<'_>| {
            let v = s.spec;
            VsStatus {
                name: v.name.clone(),
                service: v.key.to_string(),
                state: s.phase,
                scheduler: s.service.scheduler.clone(),
                persistent: s
                    .service
                    .flags
                    .contains(ipvs::ServiceFlags::PERSISTENT)
                    .then_some(s.service.timeout),
                sorry_server: v.sorry.map(|a| a.to_string()),
                sorry_active: s.sorry_active,
                reals: s.reals.iter().map(real).collect(),
            }
        })
        .collect();
    Status {
        version: piranha_status::VERSION,
        time: wall,
        pid: 0,
        role: "active".into(),
        pulse_gone: false,
        config: engine.config().clone(),
        reloads: engine.reloads().clone(),
        virtuals,
    }
}
