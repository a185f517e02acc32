//! The dashboard (`etc/grafana/piranha.json`) and the alerting rules
//! (`etc/prometheus/piranha-rules.yml`) only query series that exist:
//! every metric name in their PromQL expressions is one that the real
//! `piranha-exporter --once` prints when pulse, lvsd and /proc give it
//! everything (fixture documents of `piranha_status`'s types with every
//! field filled, served on UNIX sockets, and a fixture /proc/net/ip_vs and
//! ip_vs_stats), and one `docs/status.md` documents (histograms with their
//! `_bucket`, `_sum` and `_count` series). The dashboard is the Grafana
//! JSON the README promises (schema version, data-source and cluster/router
//! variables), and each of its panel queries returns data when Prometheus
//! holds the exporter's series (`promtool test rules` over those series:
//! the joins with `piranha_virtual_server_info` match real label sets).
//!
//! The exporter binary comes from the same target directory
//! (`lvs_tests::bin`): `cargo test --workspace` builds it; with `cargo test
//! -p lvs-tests`, `cargo build -p piranha-exporter` first.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use piranha_status::{lvsd, pulse};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Metric names in a PromQL expression (Grafana's `$variables` allowed).
///
/// Strings, label matchers (`{...}`), ranges and subqueries (`[...]`),
/// numbers and durations are dropped; an identifier followed by `(` (or by
/// `by (...)`/`without (...)`) is a function or an aggregation; the label lists after `by`, `without`, `on`,
/// `ignoring`, `group_left` and `group_right` are skipped; the operators
/// `and`, `or`, `unless`, `bool`, `offset` and `atan2` are keywords. What
/// is left are metric names.
fn metric_names(expr: &str) -> BTreeSet<String> {
    #[derive(Debug, PartialEq)]
    enum Tok {
        Ident(String),
        Open,
        Close,
        Other,
    }
    let chars: Vec<char> = expr.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    if chars[i] == '\\' && c != '`' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                toks.push(Tok::Other);
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                while i < chars.len() && chars[i] != close {
                    if chars[i] == '"' {
                        i += 1;
                        while i < chars.len() && chars[i] != '"' {
                            if chars[i] == '\\' {
                                i += 1;
                            }
                            i += 1;
                        }
                    }
                    i += 1;
                }
                i += 1;
                toks.push(Tok::Other);
            }
            '(' => {
                i += 1;
                toks.push(Tok::Open);
            }
            ')' => {
                i += 1;
                toks.push(Tok::Close);
            }
            '$' => {
                // $var, ${var}, ${var:format}
                i += 1;
                if i < chars.len() && chars[i] == '{' {
                    while i < chars.len() && chars[i] != '}' {
                        i += 1;
                    }
                    i += 1;
                } else {
                    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                        i += 1;
                    }
                }
                toks.push(Tok::Other);
            }
            c if c.is_ascii_digit()
                || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                // numbers, 1e3, 0x1f, durations such as 1h30m
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                toks.push(Tok::Other);
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                toks.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            _ => {
                i += 1;
                if !c.is_whitespace() {
                    toks.push(Tok::Other);
                }
            }
        }
    }
    const LABEL_LISTS: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    const KEYWORDS: [&str; 8] = [
        "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan",
    ];
    let mut names = BTreeSet::new();
    let mut k = 0;
    while k < toks.len() {
        if let Tok::Ident(id) = &toks[k] {
            // a function call, or an aggregation with its grouping first:
            // `sum by (a) (x)`
            let next_open = match toks.get(k + 1) {
                Some(Tok::Open) => true,
                Some(Tok::Ident(g)) => {
                    matches!(g.to_ascii_lowercase().as_str(), "by" | "without")
                        && toks.get(k + 2) == Some(&Tok::Open)
                }
                _ => false,
            };
            let lower = id.to_ascii_lowercase();
            if LABEL_LISTS.contains(&lower.as_str()) {
                if next_open {
                    // skip the label list
                    k += 1;
                    while k < toks.len() && toks[k] != Tok::Close {
                        k += 1;
                    }
                }
            } else if !next_open && !KEYWORDS.contains(&lower.as_str()) {
                names.insert(id.clone());
            }
        }
        k += 1;
    }
    names
}

/// The metric selector of a Grafana variable query: `label_values(SEL,
/// label)` gives SEL, `label_values(label)` nothing, `query_result(EXPR)`
/// and `metrics(...)`/anything else the expression itself.
fn variable_expr(query: &str) -> String {
    let q = query.trim();
    if let Some(inner) = q
        .strip_prefix("label_values(")
        .and_then(|r| r.strip_suffix(')'))
    {
        // the last top-level comma separates the label name
        let mut depth = 0;
        let mut cut = None;
        for (i, c) in inner.char_indices() {
            match c {
                '(' | '{' | '[' => depth += 1,
                ')' | '}' | ']' => depth -= 1,
                ',' if depth == 0 => cut = Some(i),
                _ => {}
            }
        }
        return cut.map(|i| inner[..i].to_string()).unwrap_or_default();
    }
    if let Some(inner) = q
        .strip_prefix("query_result(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return inner.to_string();
    }
    q.to_string()
}

/// (where, expression) of every PromQL expression of the dashboard: panel
/// targets (rows' nested panels too), annotation queries and the
/// variables' queries.
fn dashboard_exprs(dash: &serde_json::Value) -> Vec<(String, String)> {
    fn walk(v: &serde_json::Value, path: &str, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let here = format!("{path}.{k}");
                    if k == "expr"
                        && let Some(s) = v.as_str()
                    {
                        out.push((here, s.to_string()));
                    } else {
                        walk(v, &here, out);
                    }
                }
            }
            serde_json::Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    walk(v, &format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&dash["panels"], "panels", &mut out);
    walk(&dash["annotations"], "annotations", &mut out);
    for (i, var) in dash["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if var["type"] != "query" {
            continue;
        }
        let q = var["query"]["query"]
            .as_str()
            .or_else(|| var["query"].as_str())
            .unwrap_or_else(|| panic!("variable {} has no query", var["name"]));
        out.push((
            format!("templating.list[{i}] ({})", var["name"]),
            variable_expr(q),
        ));
    }
    out
}

/// (alert, expression) of every rule of a Prometheus rules file (plain or
/// quoted one-line `expr:` values and `|`/`>` block scalars).
fn rule_exprs(yaml: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = yaml.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out = Vec::new();
    let mut name = String::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim();
        if let Some(n) = t
            .strip_prefix("- alert:")
            .or_else(|| t.strip_prefix("- record:"))
        {
            name = n.trim().to_string();
        } else if let Some(v) = t.strip_prefix("expr:") {
            let v = v.trim();
            if v.starts_with('|') || v.starts_with('>') {
                let key_indent = indent(lines[i]);
                let mut body = Vec::new();
                while i + 1 < lines.len()
                    && (lines[i + 1].trim().is_empty() || indent(lines[i + 1]) > key_indent)
                {
                    i += 1;
                    body.push(lines[i].trim());
                }
                out.push((name.clone(), body.join("\n")));
            } else {
                let v = v
                    .strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
                    .unwrap_or(v);
                out.push((name.clone(), v.to_string()));
            }
        }
        i += 1;
    }
    out
}

/// Expands `a{b,c}d` to `abd`, `acd` (every brace group).
fn expand_braces(s: &str) -> Vec<String> {
    let Some(open) = s.find('{') else {
        return vec![s.to_string()];
    };
    let close = open + s[open..].find('}').expect("closing brace");
    let (head, alts, tail) = (&s[..open], &s[open + 1..close], &s[close + 1..]);
    alts.split(',')
        .flat_map(|a| expand_braces(&format!("{head}{}{tail}", a.trim())))
        .collect()
}

/// The series names `docs/status.md`'s metric tables list: `piranha_`
/// names in backquotes in the first column, a trailing `{labels}` dropped,
/// `{a,b}` inside a name expanded; a histogram's `_bucket`, `_sum` and
/// `_count`.
fn documented_names() -> BTreeSet<String> {
    let doc = read("docs/status.md");
    let metrics = &doc[doc.find("## Metrics").expect("a Metrics section")..];
    let mut names = BTreeSet::new();
    for line in metrics.lines() {
        let line = line.replace("\\|", "/");
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | series | type | (source) |
        if cells.len() < 4 || !cells[1].starts_with('`') {
            continue;
        }
        let histogram = cells[2] == "histogram";
        for (n, code) in cells[1].split('`').enumerate() {
            if n % 2 == 0 || !code.starts_with("piranha_") {
                continue;
            }
            // a trailing label set ends the name; braces followed by more
            // of the name are alternatives
            let mut name = code.to_string();
            if name.ends_with('}')
                && let Some(open) = name.rfind('{')
                && (name[open..].contains('=') || !name[..open].ends_with('_'))
            {
                name.truncate(open);
            }
            for n in expand_braces(&name) {
                if histogram {
                    for suffix in ["_bucket", "_sum", "_count"] {
                        names.insert(format!("{n}{suffix}"));
                    }
                }
                names.insert(n);
            }
        }
    }
    names
}

fn dashboard() -> serde_json::Value {
    serde_json::from_str(&read("etc/grafana/piranha.json")).expect("piranha.json is JSON")
}

/// Every (where, expression) of the dashboard and the rules.
fn all_exprs() -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = dashboard_exprs(&dashboard())
        .into_iter()
        .map(|(w, e)| (format!("piranha.json {w}"), e))
        .collect();
    let rules = rule_exprs(&read("etc/prometheus/piranha-rules.yml"));
    assert!(rules.len() >= 7, "rules: {rules:?}");
    all.extend(
        rules
            .into_iter()
            .map(|(w, e)| (format!("piranha-rules.yml {w}"), e)),
    );
    all
}

/// Names used by `exprs` that `known` lacks, with where they are used.
fn unknown_names(exprs: &[(String, String)], known: &BTreeSet<String>) -> Vec<String> {
    let mut bad = Vec::new();
    for (w, e) in exprs {
        let names = metric_names(e);
        for n in names.difference(known) {
            bad.push(format!("{w}: {n} in {e}"));
        }
    }
    bad
}

#[test]
fn metric_names_of_promql() {
    let n = |e: &str| metric_names(e).into_iter().collect::<Vec<_>>();
    assert_eq!(n("up"), ["up"]);
    assert_eq!(
        n(r#"sum by (cluster, le) (rate(a_bucket{x="y",z=~"$z"}[$__rate_interval]))"#),
        ["a_bucket"]
    );
    assert_eq!(
        n(r#"histogram_quantile(0.9, sum(increase(h_bucket[1h])) by (le)) > bool 0.5"#),
        ["h_bucket"]
    );
    assert_eq!(
        n("a * on (instance, proto) group_left (virtual) b or c unless d and e offset 1h30m"),
        ["a", "b", "c", "d", "e"]
    );
    assert_eq!(
        n(r#"count by (c) (count by (c, sha256) (info{s="a{b}"}))"#),
        ["info"]
    );
    assert_eq!(
        n("absent(x) or vector(1) or time() - y[5m:1m] or 1e3"),
        ["x", "y"]
    );
    assert_eq!(n("a / ignoring(state) group_right b"), ["a", "b"]);
    assert_eq!(
        variable_expr(r#"label_values(m{c=~"$c", d=","}, instance)"#),
        r#"m{c=~"$c", d=","}"#
    );
    assert_eq!(variable_expr("label_values(instance)"), "");
}

#[test]
fn rule_and_doc_parsers() {
    let rules = rule_exprs(
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: a > 1\n        for: 1m\n      - alert: B\n        expr: |\n          b\n          or\n          c\n        labels: {}\n      - record: r\n        expr: \"d\"\n",
    );
    assert_eq!(
        rules,
        [("A", "a > 1"), ("B", "b\nor\nc"), ("r", "d")].map(|(a, b)| (a.into(), b.into()))
    );
    assert_eq!(
        expand_braces("p_{in,out}_{a,b}_total"),
        [
            "p_in_a_total",
            "p_in_b_total",
            "p_out_a_total",
            "p_out_b_total"
        ]
    );
    let docs = documented_names();
    for want in [
        "piranha_pulse_role",
        "piranha_ipvs_service_outgoing_bytes_total",
        "piranha_ipvs_backend_incoming_packets_total",
        "piranha_lvsd_reload_duration_seconds_bucket",
        "piranha_virtual_server_info",
        "piranha_pulse_heartbeats_rejected_total",
        "piranha_up",
    ] {
        assert!(
            docs.contains(want),
            "{want} not found in docs/status.md: {docs:?}"
        );
    }
    assert!(
        docs.iter()
            .all(|n| n.starts_with("piranha_") && !n.contains(['{', '}', ' ']))
    );
}

#[test]
fn dashboard_and_rules_use_only_documented_series() {
    let exprs = all_exprs();
    let known = documented_names();
    let bad = unknown_names(&exprs, &known);
    assert!(
        bad.is_empty(),
        "series not in docs/status.md:\n{}",
        bad.join("\n")
    );
    // and they use most of them: the dashboard is not an empty shell
    let used: BTreeSet<String> = exprs.iter().flat_map(|(_, e)| metric_names(e)).collect();
    let unused: Vec<&String> = known.difference(&used).collect();
    assert!(
        used.len() >= 35,
        "only {} series used; unused: {unused:?}",
        used.len()
    );
}

#[test]
fn dashboard_is_grafana_json_with_variables() {
    let d = dashboard();
    assert_eq!(d["schemaVersion"], 39);
    assert!(d["uid"].as_str().is_some_and(|u| !u.is_empty()));
    let vars = d["templating"]["list"].as_array().expect("variables");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no variable {name}"))
    };
    assert_eq!(var("datasource")["type"], "datasource");
    assert_eq!(var("datasource")["query"], "prometheus");
    for v in ["cluster", "instance"] {
        assert_eq!(var(v)["type"], "query", "{v}");
        assert_eq!(var(v)["includeAll"], true, "{v}");
        assert_eq!(var(v)["allValue"], ".*", "{v}");
    }
    // every panel queries the chosen data source, ids are unique, and every
    // query is restricted to the chosen cluster and routers
    let mut ids = BTreeSet::new();
    let panels = d["panels"].as_array().expect("panels");
    for p in panels {
        assert!(
            ids.insert(p["id"].as_u64().expect("id")),
            "duplicate id {}",
            p["id"]
        );
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{}", p["title"]);
        for t in targets {
            let e = t["expr"].as_str().expect("expr");
            assert!(
                e.contains(r#"cluster=~"$cluster""#) && e.contains(r#"instance=~"$instance""#),
                "{}: {e}",
                p["title"]
            );
        }
    }
    let types: BTreeSet<&str> = panels.iter().filter_map(|p| p["type"].as_str()).collect();
    for t in ["state-timeline", "timeseries", "stat", "table"] {
        assert!(types.contains(t), "no {t} panel");
    }
    // the role timeline shows piranha_pulse_role per router
    let role = panels
        .iter()
        .find(|p| {
            p["type"] == "state-timeline"
                && p["targets"][0]["expr"]
                    .as_str()
                    .is_some_and(|e| e.contains("piranha_pulse_role"))
        })
        .expect("a state timeline of piranha_pulse_role");
    assert_eq!(role["targets"][0]["legendFormat"], "{{instance}}");
}

// ---------------------------------------------------------------------------
// The real exporter over fixtures

/// pulse's document with every field set (partner heard, links monitored,
/// a VIP, lvsd running, `serial_no` known, lvs.cf changed since start-up).
fn pulse_fixture() -> pulse::Status {
    pulse::Status {
        version: piranha_status::VERSION,
        time: 1_764_086_461.2,
        pid: 1234,
        node: "primary".into(),
        service: "lvs".into(),
        role: "active".into(),
        role_since: 1_764_086_400.0,
        partner: pulse::Partner {
            public: "10.0.0.2".into(),
            private: Some("192.168.1.2".into()),
            alive: true,
            last_heartbeat: Some(1_764_086_460.1),
            last_heartbeat_age_seconds: Some(1.1),
            last_magic: Some("0x98b6a15e".into()),
            last_state: Some("running".into()),
            last_rejected: Some("replayed".into()),
        },
        links: vec![
            pulse::Link {
                name: "primary".into(),
                address: "10.0.0.1".into(),
                device: Some("eth0".into()),
                up: true,
            },
            pulse::Link {
                name: "private".into(),
                address: "192.168.1.1".into(),
                device: Some("eth1".into()),
                up: false,
            },
        ],
        vips: vec![pulse::Vip {
            address: "10.0.0.100".into(),
            device: "eth0:1".into(),
            netmask: Some("255.255.255.0".into()),
            held: true,
        }],
        daemon: pulse::Daemon {
            name: "lvsd".into(),
            pid: Some(1235),
            warm_standby: false,
        },
        config: pulse::Config {
            file: "/etc/sysconfig/ha/lvs.cf".into(),
            serial_no: Some(4),
            sha256: Some("b".repeat(64)),
            loaded_serial_no: Some(3),
            loaded_sha256: "a".repeat(64),
        },
        counters: pulse::Counters {
            heartbeats_sent: 10,
            heartbeats_received: 9,
            heartbeats_rejected: pulse::Rejected {
                unexpected_source: 1,
                short: 2,
                incompatible: 3,
                unsigned: 4,
                malformed: 5,
                bad_mac: 6,
                wrong_identity: 7,
                replayed: 8,
            },
            heartbeats_unsigned: 2,
            failovers: 1,
        },
        heartbeat_auth: "required".into(),
        history: vec![pulse::RoleChange {
            time: 1_764_086_400.0,
            from: "standby".into(),
            to: "active".into(),
            reason: "partner dead".into(),
        }],
        scale_out: None,
    }
}

/// lvsd's document: a reload done and one refused, two virtual services
/// (one up with a healthy and a failed real server, one firewall-mark
/// service), every real server checked.
fn lvsd_fixture() -> lvsd::Status {
    let mut hist = lvsd::Histogram::with_bounds(&[0.01, 0.1, 1.0, 10.0]);
    hist.observe(0.05);
    hist.observe(0.5);
    let real = |name: &str, address: &str, up: bool| lvsd::RsStatus {
        name: name.into(),
        address: address.into(),
        monitor: "running".into(),
        pid: Some(2000),
        health: if up { "up" } else { "down" }.into(),
        weight: Some(if up { 1 } else { 0 }),
        configured_weight: 1,
        last_result: Some(if up { "pass" } else { "fail" }.into()),
        last_result_since: Some(1_764_086_300.0),
        last_change_at: Some(1_764_086_300.0),
        check_failures: if up { 0 } else { 7 },
    };
    lvsd::Status {
        version: piranha_status::VERSION,
        time: 1_764_086_461.2,
        pid: 1235,
        role: "active".into(),
        pulse_gone: false,
        config: lvsd::Config {
            file: "/etc/sysconfig/ha/lvs.cf".into(),
            serial_no: Some(3),
            sha256: "a".repeat(64),
        },
        reloads: lvsd::Reloads {
            total: 2,
            refused: 1,
            last_duration_seconds: Some(0.5),
            duration_seconds: hist,
        },
        virtuals: vec![
            lvsd::VsStatus {
                name: "www".into(),
                service: "TCP 10.0.0.100:80".into(),
                state: lvsd::Phase::Up,
                scheduler: "wlc".into(),
                persistent: None,
                sorry_server: Some("10.1.0.9:80".into()),
                sorry_active: false,
                reals: vec![
                    real("web1", "10.1.0.1:80", true),
                    real("web2", "10.1.0.2:80", false),
                ],
            },
            lvsd::VsStatus {
                name: "mail".into(),
                service: "FWM 7".into(),
                state: lvsd::Phase::Up,
                scheduler: "rr".into(),
                persistent: Some(300),
                sorry_server: None,
                sorry_active: false,
                reals: vec![real("mx1", "10.1.0.3:25", true)],
            },
        ],
    }
}

/// lvsd's `stats`: the same services in the kernel table, with traffic.
fn stats_fixture() -> lvsd::TableStats {
    let c = |n: u64| lvsd::Counters {
        conns: n,
        inpkts: 8 * n,
        outpkts: 7 * n,
        inbytes: 600 * n,
        outbytes: 1800 * n,
    };
    let dest = |address: &str, port: u16, weight: u32, n: u64| lvsd::DestStats {
        address: address.into(),
        port,
        weight,
        active_conns: 2,
        inactive_conns: 3,
        stats: c(n),
    };
    lvsd::TableStats {
        version: piranha_status::VERSION,
        time: 1_764_086_461.2,
        error: None,
        services: vec![
            lvsd::ServiceStats {
                proto: "TCP".into(),
                address: "10.0.0.100".into(),
                port: 80,
                fwmark: 0,
                virtual_name: Some("www".into()),
                stats: c(5),
                dests: vec![dest("10.1.0.1", 80, 1, 3), dest("10.1.0.2", 80, 0, 2)],
            },
            lvsd::ServiceStats {
                proto: "FWM".into(),
                address: String::new(),
                port: 0,
                fwmark: 7,
                virtual_name: Some("mail".into()),
                stats: c(4),
                dests: vec![dest("10.1.0.3", 0, 1, 4)],
            },
        ],
    }
}

/// The same table as `/proc/net/ip_vs` shows it, and its totals.
const PROC_IP_VS: &str = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  0A000064:0050 wlc
  -> 0A010001:0050      Masq    1      2          3
  -> 0A010002:0050      Masq    0      2          3
FWM  00000007 rr persistent 300
  -> 0A010003:0000      Route   1      2          3
";
const PROC_IP_VS_STATS: &str = "   Total Incoming Outgoing         Incoming         Outgoing
   Conns  Packets  Packets            Bytes            Bytes
       9       48       3F             1518             3F48

 Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s
       0        0        0                0                0
";

/// Serves `answer(request)` on a UNIX socket at `path`, in a thread, for
/// the rest of the test process.
fn serve(path: &Path, answer: impl Fn(&str) -> String + Send + 'static) {
    let listener = UnixListener::bind(path).expect("bind fixture socket");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut line = String::new();
            if BufReader::new(&conn).read_line(&mut line).is_err() {
                continue;
            }
            let _ = conn.write_all(answer(line.trim()).as_bytes());
        }
    });
}

/// pulse's document of a director in scale-out mode (docs/scale-out.md):
/// role `scale-out`, the members, one VIP announced and one held back.
fn scale_out_pulse_fixture() -> pulse::Status {
    let vip = |a: &str, held| pulse::Vip {
        address: a.into(),
        device: "lvs0".into(),
        netmask: Some("/32".into()),
        held,
    };
    pulse::Status {
        node: "member".into(),
        role: "scale-out".into(),
        partner: pulse::Partner::default(),
        links: vec![],
        vips: vec![vip("192.0.2.10", true), vip("192.0.2.11", false)],
        heartbeat_auth: "off".into(),
        config: pulse::Config {
            file: "/etc/sysconfig/ha/lvs.cf".into(),
            loaded_serial_no: Some(3),
            loaded_sha256: "a".repeat(64),
            ..Default::default()
        },
        counters: pulse::Counters::default(),
        history: vec![],
        scale_out: Some(pulse::ScaleOut {
            members: vec!["10.0.0.1".into(), "10.0.0.2".into(), "10.0.0.3".into()],
            announce_device: "lvs0".into(),
            announce_hold_seconds: 5.0,
            announced: vec!["192.0.2.10".into()],
            held_back: vec!["192.0.2.11".into()],
        }),
        ..pulse_fixture()
    }
}

/// `piranha-exporter --once` over the fixtures: its exposition.
fn exporter_output() -> String {
    exporter_output_with(pulse_fixture())
}

/// `piranha-exporter --once` over the fixtures, with `pulse` as pulse's
/// document.
fn exporter_output_with(pulse: pulse::Status) -> String {
    let dir = tempfile::Builder::new()
        .prefix("lo-exporter-fixture.")
        .tempdir()
        .expect("tempdir");
    let net = dir.path().join("proc/net");
    std::fs::create_dir_all(&net).unwrap();
    std::fs::write(net.join("ip_vs"), PROC_IP_VS).unwrap();
    std::fs::write(net.join("ip_vs_stats"), PROC_IP_VS_STATS).unwrap();
    let pulse_sock = dir.path().join("pulse.sock");
    let lvsd_sock = dir.path().join("lvsd.sock");
    let pulse_doc = serde_json::to_string(&pulse).unwrap();
    serve(&pulse_sock, move |req| match req {
        "json" => pulse_doc.clone(),
        _ => format!("unknown request {req:?}\n"),
    });
    let lvsd_doc = serde_json::to_string(&lvsd_fixture()).unwrap();
    let stats_doc = serde_json::to_string(&stats_fixture()).unwrap();
    serve(&lvsd_sock, move |req| match req {
        "json" => lvsd_doc.clone(),
        "stats" => stats_doc.clone(),
        _ => format!("unknown request {req:?}\n"),
    });
    let out = Command::new(lvs_tests::bin("piranha-exporter"))
        .arg("--once")
        .arg("--procfs")
        .arg(dir.path().join("proc"))
        .arg("--pulse-socket")
        .arg(&pulse_sock)
        .arg("--lvsd-socket")
        .arg(&lvsd_sock)
        .args(["--timeout", "900ms"])
        .output()
        .expect("run piranha-exporter");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "piranha-exporter --once: {:?}\n{}{text}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Names of the samples of an exposition (text format or OpenMetrics).
fn sample_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            l.split(['{', ' '])
                .next()
                .expect("a sample line has a name")
                .to_string()
        })
        .collect()
}

#[test]
fn dashboard_and_rules_use_only_series_the_exporter_exports() {
    let text = exporter_output();
    // every source answered: the fixture is what the series come from
    for want in [
        r#"piranha_up{component="pulse"} 1"#,
        r#"piranha_up{component="lvsd"} 1"#,
        "piranha_ipvs_up 1",
    ] {
        assert!(text.lines().any(|l| l == want), "no {want:?} in\n{text}");
    }
    let mut exported = sample_names(&text);
    // and what a scale-out director exports (the PiranhaScaleOut* rules)
    let scale_out = exporter_output_with(scale_out_pulse_fixture());
    assert!(
        scale_out
            .lines()
            .any(|l| l == r#"piranha_pulse_role{state="scale-out"} 1"#),
        "{scale_out}"
    );
    exported.extend(sample_names(&scale_out));
    let exprs = all_exprs();
    let bad = unknown_names(&exprs, &exported);
    assert!(
        bad.is_empty(),
        "series piranha-exporter does not export:\n{}\n\nexported: {exported:?}",
        bad.join("\n")
    );
}

/// Grafana's variables as the dashboard's defaults ("All") and a 15 s
/// scrape interval expand them.
fn expand_grafana_variables(expr: &str) -> String {
    let mut e = expr.to_string();
    for (var, value) in [
        ("$__rate_interval", "1m"),
        ("$__interval", "15s"),
        ("$__range", "10m"),
        ("$cluster", ".*"),
        ("$instance", ".*"),
        ("$virtual", ".*"),
    ] {
        e = e.replace(var, value);
    }
    assert!(!e.contains('$'), "unexpanded variable in {e}");
    e
}

/// promtool input series of an exposition, as a router scraped every 15 s
/// for 10 minutes (target labels cluster, instance and job added):
/// counters (`_total`, and a histogram's `_bucket`, `_sum`, `_count`)
/// grow by 1 a scrape, gauges stay.
fn input_series(exposition: &str) -> String {
    let mut yaml = String::new();
    for l in exposition.lines() {
        if l.starts_with('#') || l.trim().is_empty() {
            continue;
        }
        let (series, value) = l.rsplit_once(' ').expect("sample line");
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}').to_string()),
            None => (series, String::new()),
        };
        let mut all = String::from(r#"cluster="web",instance="r1:9847",job="piranha""#);
        if !labels.is_empty() {
            all.push(',');
            all.push_str(&labels);
        }
        let counter = ["_total", "_bucket", "_sum", "_count"]
            .iter()
            .any(|s| name.ends_with(s));
        let step = if counter { 1 } else { 0 };
        yaml.push_str(&format!(
            "      - series: '{name}{{{all}}}'\n        values: '{value}+{step}x40'\n"
        ));
    }
    yaml
}

#[test]
fn every_panel_query_returns_data_from_the_exporters_series() {
    let test = "every_panel_query_returns_data_from_the_exporters_series";
    if !lvs_tests::have(test, "promtool", "prometheus") {
        return;
    }
    let series = input_series(&exporter_output());
    // a scale-out director of another cluster, so that the rules' joins
    // with its series are evaluated too
    let series = series
        + &input_series(&exporter_output_with(scale_out_pulse_fixture())).replace(
            r#"cluster="web",instance="r1:9847""#,
            r#"cluster="edge",instance="d1:9847""#,
        );
    // Each panel query E: `count(E) > bool 0 or vector(0)` must be 1 (E
    // returns something). Each rule expression must evaluate without error
    // on these label sets.
    let mut checks = String::new();
    let mut n = 0;
    let dash = dashboard();
    for p in dash["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().into_iter().flatten() {
            let e = expand_grafana_variables(t["expr"].as_str().expect("expr"));
            let check = format!("count({e}) > bool 0 or vector(0)");
            checks.push_str(&format!(
                "      - expr: {}\n        eval_time: 10m\n        exp_samples:\n          - labels: '{{}}'\n            value: 1\n",
                serde_json::to_string(&check).unwrap()
            ));
            n += 1;
        }
    }
    for (_, e) in rule_exprs(&read("etc/prometheus/piranha-rules.yml")) {
        let check = format!("count({e}) >= bool 0 or vector(1)");
        checks.push_str(&format!(
            "      - expr: {}\n        eval_time: 10m\n        exp_samples:\n          - labels: '{{}}'\n            value: 1\n",
            serde_json::to_string(&check).unwrap()
        ));
    }
    assert!(n >= 40, "only {n} panel queries");
    let dir = tempfile::Builder::new()
        .prefix("lo-promql.")
        .tempdir()
        .expect("tempdir");
    let file = dir.path().join("queries.test.yml");
    std::fs::write(
        &file,
        format!(
            "evaluation_interval: 15s\ntests:\n  - interval: 15s\n    input_series:\n{series}    promql_expr_test:\n{checks}"
        ),
    )
    .unwrap();
    let out = Command::new("promtool")
        .args(["test", "rules"])
        .arg(&file)
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "a panel query returns nothing (or a query fails) over the exporter's series:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
