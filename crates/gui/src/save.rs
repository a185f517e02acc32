//! From a submitted GLOBAL SETTINGS or REDUNDANCY form to lvs.cf edits
//! (pure). The file itself is written by `lvscf::store::save`.
//!
//! Only the fields the screen shows as editable are read; a field missing
//! from the form is left as it is (a script may send just what it
//! changes), and only fields whose value differs from the file's become
//! edits, so every other line of lvs.cf stays as it was. A check box
//! sends `0` from a hidden input and `1` when ticked. An empty value
//! removes the key. A value with a control character (a line break could
//! add a key of its own) is refused. The command keys
//! ([`pages::COMMAND_KEYS`]) are never among the fields, and
//! [`commands_unchanged`] checks the result once more.

use std::collections::BTreeMap;

use lvscf::{Config, Op, Section};

use crate::pages::{self, Field, Kind};

/// The fields of screen `which` (`global` or `redundancy`).
pub fn fields(cfg: &Config, which: &str) -> Vec<Field> {
    if which == "global" {
        pages::global_fields(cfg)
    } else {
        pages::redundancy_fields(cfg)
    }
}

/// The lvs.cf key of a form field.
pub fn file_key(field: &str) -> &str {
    match field {
        "nat_router_ip" | "nat_router_device" => "nat_router",
        k => k,
    }
}

/// The form field a problem with lvs.cf key `key` belongs to.
pub fn field_of(key: &str) -> &str {
    match key {
        "nat_router" => "nat_router_ip",
        k => k,
    }
}

/// The edits the form asks for, or the fields it got wrong (field to
/// message).
pub fn ops(
    cfg: &Config,
    which: &str,
    form: &BTreeMap<String, String>,
) -> Result<Vec<Op>, BTreeMap<String, String>> {
    let fields = fields(cfg, which);
    let mut errors = BTreeMap::new();
    let mut new: BTreeMap<&str, String> = BTreeMap::new();
    for f in &fields {
        if f.kind == Kind::Fixed || pages::COMMAND_KEYS.contains(&f.key) {
            continue;
        }
        let Some(v) = form.get(f.key) else { continue };
        let v = v.trim();
        if v.chars().any(char::is_control) {
            errors.insert(
                f.key.to_string(),
                "line breaks and other control characters are not allowed".to_string(),
            );
            continue;
        }
        let v = match f.kind {
            Kind::Check => {
                if v == "1" || v.eq_ignore_ascii_case("on") {
                    "1"
                } else {
                    "0"
                }
            }
            Kind::Select if !f.options.contains(&v) => {
                errors.insert(
                    f.key.to_string(),
                    format!("expected one of {}", f.options.join(", ")),
                );
                continue;
            }
            _ => v,
        };
        let old = if f.kind == Kind::Check {
            if f.value.is_empty() { "0" } else { "1" }
        } else {
            f.value.as_str()
        };
        if v != old {
            new.insert(f.key, v.to_string());
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut ops = Vec::new();
    if new.contains_key("nat_router_ip") || new.contains_key("nat_router_device") {
        let cur = |k: &str| {
            fields
                .iter()
                .find(|f| f.key == k)
                .map(|f| f.value.clone())
                .unwrap_or_default()
        };
        let ip = new
            .remove("nat_router_ip")
            .unwrap_or_else(|| cur("nat_router_ip"));
        let dev = new
            .remove("nat_router_device")
            .unwrap_or_else(|| cur("nat_router_device"));
        match (ip.is_empty(), dev.is_empty()) {
            (true, true) => ops.push(Op::remove(Section::Global, "nat_router")),
            (false, false) => ops.push(Op::set(
                Section::Global,
                "nat_router",
                format!("{ip} {dev}"),
            )),
            (true, false) => {
                errors.insert(
                    "nat_router_ip".into(),
                    "the NAT router needs an address".into(),
                );
            }
            (false, true) => {
                errors.insert(
                    "nat_router_device".into(),
                    "the NAT router needs a device".into(),
                );
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for (k, v) in new {
        let key = file_key(k);
        if v.is_empty() {
            ops.push(Op::remove(Section::Global, key));
        } else {
            ops.push(Op::set(Section::Global, key, v));
        }
    }
    Ok(ops)
}

fn commands(cfg: &Config) -> Vec<Option<String>> {
    let g = &cfg.global;
    let mut v = vec![
        g.active_cmd.clone(),
        g.inactive_cmd.clone(),
        Some(g.ipvsadm.clone()),
        Some(g.rsh_command.clone()),
    ];
    for s in cfg.virtuals.iter().chain(&cfg.failovers) {
        v.extend([
            s.send_program.clone(),
            s.load_monitor.clone(),
            Some(s.client_monitor.clone()),
            s.start_cmd.clone(),
            s.stop_cmd.clone(),
        ]);
    }
    v
}

/// Whether every command key has the same value in both.
pub fn commands_unchanged(old: &Config, new: &Config) -> bool {
    commands(old) == commands(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CF: &str = "serial_no = 3\nprimary = 10.0.0.1\nservice = lvs\nnetwork = nat\n\
                      nat_router = 192.168.1.254 eth1:1\nhard_shutdown = 1\n";

    fn cfg() -> Config {
        lvscf::parse_bytes_with(CF.as_bytes(), "lvs.cf", &lvscf::StaticResolver::default())
            .unwrap()
            .config
    }

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn only_changed_fields_become_edits() {
        let c = cfg();
        assert_eq!(ops(&c, "global", &form(&[])).unwrap(), vec![]);
        assert_eq!(
            ops(
                &c,
                "global",
                &form(&[("primary", "10.0.0.1"), ("hard_shutdown", "1")])
            )
            .unwrap(),
            vec![]
        );
        assert_eq!(
            ops(
                &c,
                "global",
                &form(&[("primary", " 10.0.0.9 "), ("hard_shutdown", "0")])
            )
            .unwrap(),
            vec![
                Op::set(Section::Global, "hard_shutdown", "0"),
                Op::set(Section::Global, "primary", "10.0.0.9"),
            ]
        );
        assert_eq!(
            ops(&c, "global", &form(&[("nat_router_device", "eth2")])).unwrap(),
            vec![Op::set(Section::Global, "nat_router", "192.168.1.254 eth2")]
        );
        assert_eq!(
            ops(&c, "global", &form(&[("primary_shared", "")])).unwrap(),
            vec![]
        );
    }

    #[test]
    fn command_keys_and_bad_values_are_refused() {
        let c = cfg();
        for k in pages::COMMAND_KEYS {
            assert_eq!(
                ops(&c, "global", &form(&[(k, "/bin/sh")])).unwrap(),
                vec![],
                "{k}"
            );
        }
        assert_eq!(
            ops(&c, "global", &form(&[("serial_no", "99")])).unwrap(),
            vec![]
        );
        let e = ops(
            &c,
            "global",
            &form(&[("debug_level", "NONE\nactive_cmd = /bin/sh")]),
        )
        .unwrap_err();
        assert!(e.contains_key("debug_level"), "{e:?}");
        let e = ops(&c, "global", &form(&[("network", "bogus")])).unwrap_err();
        assert!(e.contains_key("network"), "{e:?}");
        let e = ops(&c, "global", &form(&[("nat_router_ip", "")])).unwrap_err();
        assert!(e.contains_key("nat_router_ip"), "{e:?}");
    }

    #[test]
    fn command_guard() {
        let a = cfg();
        let mut b = a.clone();
        assert!(commands_unchanged(&a, &b));
        b.global.active_cmd = Some("/bin/sh".into());
        assert!(!commands_unchanged(&a, &b));
    }
}
