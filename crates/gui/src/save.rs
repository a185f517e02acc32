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
//! [`lvscf::commands_unchanged`] checks the result once more.

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

/// Form fields that make one lvs.cf key `ADDRESS DEVICE` together:
/// (address field, device field, key).
pub type Pair = (&'static str, &'static str, &'static str);

/// The pairs of the global section.
pub const GLOBAL_PAIRS: [Pair; 1] = [("nat_router_ip", "nat_router_device", "nat_router")];
/// The pairs of a virtual server.
pub const VIRTUAL_PAIRS: [Pair; 1] = [("vip", "device", "address")];

/// The edits the form asks for on screen `which` (`global` or
/// `redundancy`), or the fields it got wrong (field to message).
pub fn ops(
    cfg: &Config,
    which: &str,
    form: &BTreeMap<String, String>,
) -> Result<Vec<Op>, BTreeMap<String, String>> {
    ops_in(Section::Global, &fields(cfg, which), &GLOBAL_PAIRS, form)
}

/// The form field a problem with lvs.cf key `key` belongs to, with these
/// pairs.
pub fn field_in(key: &str, pairs: &[Pair]) -> String {
    pairs
        .iter()
        .find(|p| p.2 == key)
        .map_or(key.to_string(), |p| p.0.to_string())
}

/// The edits of `section` that `form` asks for, given the fields as the
/// file has them now: Set or Remove of each changed editable field, and one
/// Set of `ADDRESS DEVICE` for a changed pair.
pub fn ops_in(
    section: Section,
    fields: &[Field],
    pairs: &[Pair],
    form: &BTreeMap<String, String>,
) -> Result<Vec<Op>, BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    let mut new: BTreeMap<&str, String> = BTreeMap::new();
    for f in fields {
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
            if pages::QUOTED_KEYS.contains(&f.key) {
                match pages::quote_value(v) {
                    Ok(q) => {
                        new.insert(f.key, q);
                    }
                    Err(e) => {
                        errors.insert(f.key.to_string(), e);
                    }
                }
            } else {
                new.insert(f.key, v.to_string());
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut ops = Vec::new();
    let cur = |k: &str| {
        fields
            .iter()
            .find(|f| f.key == k)
            .map(|f| f.value.clone())
            .unwrap_or_default()
    };
    for &(ipf, devf, key) in pairs {
        if !new.contains_key(ipf) && !new.contains_key(devf) {
            continue;
        }
        let ip = new.remove(ipf).unwrap_or_else(|| cur(ipf));
        let dev = new.remove(devf).unwrap_or_else(|| cur(devf));
        match (ip.is_empty(), dev.is_empty()) {
            (true, true) => ops.push(Op::remove(section.clone(), key)),
            (false, false) => ops.push(Op::set(section.clone(), key, format!("{ip} {dev}"))),
            (true, false) => {
                errors.insert(ipf.into(), "an address is needed with the device".into());
            }
            (false, true) => {
                errors.insert(devf.into(), "a device is needed with the address".into());
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for (k, v) in new {
        if v.is_empty() {
            ops.push(Op::remove(section.clone(), k));
        } else {
            ops.push(Op::set(section.clone(), k, v));
        }
    }
    Ok(ops)
}

/// Why `name` cannot name a block, if it cannot.
pub fn bad_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("a name is needed")
    } else if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "{}\"'#=\\".contains(c))
    {
        Some("a name is one word without quotes, braces, '#' or '='")
    } else {
        None
    }
}

fn rename(
    ops: &mut Vec<Op>,
    block: Section,
    old: &str,
    form: &BTreeMap<String, String>,
) -> Result<(), BTreeMap<String, String>> {
    let Some(n) = form.get("name").map(|n| n.trim()) else {
        return Ok(());
    };
    if n == old {
        return Ok(());
    }
    if let Some(e) = bad_name(n) {
        return Err(BTreeMap::from([("name".to_string(), e.to_string())]));
    }
    ops.push(Op::Rename {
        block,
        name: n.to_string(),
    });
    Ok(())
}

/// The edits a VIRTUAL SERVER form asks for (a new name last).
pub fn virtual_ops(
    s: &lvscf::Service,
    form: &BTreeMap<String, String>,
) -> Result<Vec<Op>, BTreeMap<String, String>> {
    let fields: Vec<Field> = pages::virtual_fields(s)
        .into_iter()
        .filter(|f| f.key != "name")
        .collect();
    let section = Section::Virtual(s.name.clone());
    let mut ops = ops_in(section.clone(), &fields, &VIRTUAL_PAIRS, form)?;
    rename(&mut ops, section, &s.name, form)?;
    Ok(ops)
}

/// The edits a FAILOVER form asks for (a new name last).
pub fn failover_ops(
    s: &lvscf::Service,
    form: &BTreeMap<String, String>,
) -> Result<Vec<Op>, BTreeMap<String, String>> {
    let fields: Vec<Field> = pages::failover_fields(s)
        .into_iter()
        .filter(|f| f.key != "name")
        .collect();
    let section = Section::Failover(s.name.clone());
    let mut ops = ops_in(section.clone(), &fields, &VIRTUAL_PAIRS, form)?;
    rename(&mut ops, section, &s.name, form)?;
    Ok(ops)
}

/// The edits a REAL SERVER form of virtual server `v` asks for.
pub fn server_ops(
    v: &str,
    r: &lvscf::RealServer,
    form: &BTreeMap<String, String>,
) -> Result<Vec<Op>, BTreeMap<String, String>> {
    let fields: Vec<Field> = pages::server_fields(r)
        .into_iter()
        .filter(|f| f.key != "name")
        .collect();
    let section = Section::Server(v.to_string(), r.name.clone());
    let mut ops = ops_in(section.clone(), &fields, &[], form)?;
    rename(&mut ops, section, &r.name, form)?;
    Ok(ops)
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
}
