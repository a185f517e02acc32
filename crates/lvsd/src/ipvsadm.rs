//! The ipvsadm command line equivalent to each IPVS change, for
//! `--test-start` (which prints what it would do) and for messages: the
//! operations through `ipvsadm::text` (shared with nanny), and the display
//! quoting of a command line.

pub use ::ipvsadm::text::{op_args, set_timeouts_args};

/// Quotes one argument for display the way a shell would need it: as is
/// when it has no blank or special character, else in single quotes.
pub fn shell_word(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// A command line for display (each argument through [`shell_word`]).
pub fn command_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_word(a))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        // the cases live with ipvsadm::text; lvsd prints them unchanged
        let k = ipvs::ServiceKey::tcp([203, 0, 113, 100], 80);
        let d = ipvs::Dest::new([192, 168, 50, 200], 80, ipvs::Forward::Route);
        assert_eq!(
            op_args(&ipvs::Op::AddDest(k, d)),
            "-a -t 203.0.113.100:80 -r 192.168.50.200:80 -g -w 1"
        );
        assert_eq!(set_timeouts_args(&[900, 120, 300]), "--set 900 120 300");
    }

    #[test]
    fn display_quoting() {
        assert_eq!(
            command_line(&[
                "/usr/sbin/nanny".into(),
                "-s".into(),
                "GET / HTTP/1.0\\r\\n".into(),
                "-x".into(),
                "it's".into(),
                "".into()
            ]),
            r"/usr/sbin/nanny -s 'GET / HTTP/1.0\r\n' -x 'it'\''s' ''"
        );
    }
}
