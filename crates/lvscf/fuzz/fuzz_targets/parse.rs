//! Fuzz the lvs.cf parser: it must never panic or hang, and whatever it
//! accepts must be writable and parse back to the same model.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // No DNS and no /etc/services: every name lookup fails fast.
    let resolver = lvscf::StaticResolver::default();
    let Ok(parsed) = lvscf::parse_bytes_with(data, "fuzz.cf", &resolver) else {
        return;
    };
    let text = lvscf::write(&parsed.config).expect("a parsed model is writable");
    let back = lvscf::parse_bytes_with(text.as_bytes(), "fuzz.cf", &resolver)
        .expect("written text parses");
    assert_eq!(back.config, parsed.config, "round trip changed the model:\n{text}");
    let _ = lvscf::to_json(&back.config, lvscf::QuoteMode::default());
    for s in back.config.virtuals.iter().chain(&back.config.failovers) {
        if let Some(v) = s.send_arg(lvscf::QuoteMode::default()) {
            let _ = lvscf::translate_escapes(v.as_bytes());
        }
    }
});
