//! Parse benchmark: generated files with N virtual servers of 10 real
//! servers each (N = 1,000, 5,000, 10,000). Prints the median time per file
//! and the time per virtual server relative to the N = 1,000 baseline
//! measured in the same run (1.00 = perfectly linear).
//!
//! Then the web tool's save path on 2,000 x 10: a layout-keeping edit
//! (`lvscf::apply`), the check the daemons would make (`lvscf::check`) and
//! `lvscf::store::save` (which checks again, bumps `serial_no`, keeps the
//! old version in the history and replaces the file with fsyncs), each timed
//! and the three together against the 300 ms budget.
//!
//! Run: `cargo bench -p lvscf` (release profile).

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn generate(virtuals: usize) -> String {
    let mut t = String::from(
        "serial_no = 1\nprimary = 10.0.0.1\nservice = lvs\nbackup_active = 1\nbackup = 10.0.0.2\n\
         heartbeat = 1\nkeepalive = 2\ndeadtime = 10\nnetwork = direct\n",
    );
    for v in 0..virtuals {
        let (a, b) = (v / 250, v % 250);
        let _ = write!(
            t,
            "\nvirtual web{v} {{\n     active = 1\n     address = 172.16.{a}.{b} eth0:{v}\n     \
             vip_nmask = 255.255.255.255\n     port = 80\n     persistent = 300\n     \
             pmask = 255.255.255.0\n     send = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n     \
             expect = \"HTTP\"\n     load_monitor = none\n     scheduler = wlc\n     \
             protocol = tcp\n     timeout = 6\n     reentry = 15\n     quiesce_server = 0\n"
        );
        for r in 0..10 {
            let _ = write!(
                t,
                "     server rs{v}_{r} {{\n         address = 10.{a}.{b}.{r}\n         \
                 active = 1\n         weight = {w}\n     }}\n",
                w = r + 1
            );
        }
        t.push_str("}\n");
    }
    t
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    d[d.len() / 2]
}

fn main() {
    let resolver = lvscf::StaticResolver::default();
    let mut baseline_per_vs = None;
    println!("lvscf parse benchmark (virtual servers x 10 real servers, median of runs)");
    for n in [1_000usize, 5_000, 10_000] {
        let text = generate(n);
        let runs = if n <= 1_000 { 41 } else { 15 };
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            let p = lvscf::parse_bytes_with(black_box(text.as_bytes()), "bench.cf", &resolver)
                .expect("generated file parses");
            times.push(start.elapsed());
            assert_eq!(p.config.virtuals.len(), n);
            assert_eq!(p.config.virtuals[n - 1].servers.len(), 10);
            black_box(p);
        }
        let t = median(times);
        let per_vs = t.as_secs_f64() / n as f64;
        let base = *baseline_per_vs.get_or_insert(per_vs);
        println!(
            "  {n:>6} virtual x 10 real: {:>8.2} ms  {:>6.1} MB  {:>6.0} MB/s  per-virtual ratio vs 1,000: {:.2}",
            t.as_secs_f64() * 1e3,
            text.len() as f64 / 1e6,
            text.len() as f64 / 1e6 / t.as_secs_f64(),
            per_vs / base
        );
    }
    save_path();
}

/// Edit + check + save of one real server's weight in a 2,000 x 10 file.
fn save_path() {
    let n = 2_000;
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("lvs.cf");
    std::fs::write(&path, generate(n)).expect("write the file");
    let (mut edit, mut check, mut save, mut total) = (vec![], vec![], vec![], vec![]);
    for i in 0..21 {
        let text = std::fs::read_to_string(&path).expect("read");
        let serial = lvscf::store::serial_of(&text).expect("serial_no");
        let start = Instant::now();
        let op = lvscf::Op::set(
            lvscf::Section::server(format!("web{}", i * 97 % n), format!("rs{}_3", i * 97 % n)),
            "weight",
            (i + 20).to_string(),
        );
        let edited = lvscf::apply(black_box(&text), "lvs.cf", &op).expect("edit");
        let t1 = Instant::now();
        let checked = lvscf::check(&edited.text, "lvs.cf");
        assert!(checked.is_ok(), "the edited file passes");
        let t2 = Instant::now();
        let saved = lvscf::store::save(&path, &edited.text, serial).expect("save");
        let t3 = Instant::now();
        assert_eq!(saved.serial, serial + 1);
        edit.push(t1 - start);
        check.push(t2 - t1);
        save.push(t3 - t2);
        total.push(t3 - start);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "lvscf save path, 2,000 virtual x 10 real ({} versions kept): edit {:.1} ms, check {:.1} ms, \
         save (check, serial, history, atomic write) {:.1} ms; total {:.1} ms (median of 21; budget 300 ms)",
        lvscf::store::list_versions(&path).expect("history").len(),
        ms(median(edit)),
        ms(median(check)),
        ms(median(save)),
        ms(median(total))
    );
}
