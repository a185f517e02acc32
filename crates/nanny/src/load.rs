//! Load probe output parsing and the load-feedback weight formula
//! (nanny.md §6, §7).

/// Extracts the 1-minute load average from `uptime`/`rup` output: the first
/// `load`, then its first `:`, skip the `:` and one more character, read
/// digits and dots, which must be followed by `,` or a space. `ruptime`
/// output (`load 0.12, …`, no colon) is rejected, as in the original
/// (gaps.md E16: kept).
pub fn parse_load(out: &[u8]) -> Option<f64> {
    let at = out.windows(4).position(|w| w == b"load")?;
    let colon = at + 4 + out[at + 4..].iter().position(|&b| b == b':')?;
    let start = colon + 2;
    if start > out.len() {
        return None;
    }
    let len = out[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b'.')
        .count();
    match out.get(start + len) {
        Some(b',') | Some(b' ') => Some(atof(&out[start..start + len])),
        _ => None,
    }
}

/// C `atof` on a run of digits and dots: the longest valid prefix, 0 if none.
fn atof(run: &[u8]) -> f64 {
    let text = std::str::from_utf8(run).unwrap_or("");
    let mut end = 0;
    let mut dot = false;
    for (i, c) in text.char_indices() {
        if c == '.' {
            if dot {
                break;
            }
            dot = true;
        }
        end = i + 1;
    }
    text[..end].parse::<f64>().unwrap_or(0.0)
}

/// Slow start: while `last < weight`, double up to `weight`.
pub fn slow_start(last: i32, weight: i32) -> Option<i32> {
    (last < weight).then(|| last.saturating_mul(2).min(weight))
}

/// Load feedback: with s = weight/2 and d = weight/4,
/// `L < 1`: new = trunc(last + s·∛(1−L)) capped at scale·weight;
/// `L > 1`: new = trunc(last − s·∛(L−1)) floored at weight.
/// Returns the new weight when |new − last| ≥ d. A negative load (no data)
/// or exactly 1.0 keeps the weight.
pub fn load_feedback(last: i32, weight: i32, scale: i32, load: f64) -> Option<i32> {
    if load < 0.0 || load == 1.0 || load.is_nan() {
        return None;
    }
    let s = f64::from(weight) / 2.0;
    let d = f64::from(weight) / 4.0;
    let new = if load < 1.0 {
        let n = (f64::from(last) + s * (1.0 - load).cbrt()) as i32;
        n.min(scale.saturating_mul(weight))
    } else {
        let n = (f64::from(last) - s * (load - 1.0).cbrt()) as i32;
        n.max(weight)
    };
    ((f64::from(new) - f64::from(last)).abs() >= d).then_some(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_and_rup() {
        let up = b" 10:01:02 up 3 days,  2:03,  1 user,  load average: 0.12, 0.30, 0.25\n";
        assert_eq!(parse_load(up), Some(0.12));
        let rup = b"host1     up  3 days,  2:03,     load average: 1.50, 1.00, 0.90";
        assert_eq!(parse_load(rup), Some(1.5));
        assert_eq!(parse_load(b"load average: 2.5 3"), Some(2.5));
    }

    #[test]
    fn rejected_outputs() {
        // ruptime has no colon after "load"
        assert_eq!(
            parse_load(b"host1 up 3+02:03, 1 user, load 0.12, 0.30, 0.25"),
            None
        );
        assert_eq!(parse_load(b"no such host"), None);
        assert_eq!(parse_load(b"load average: 0.12"), None); // not followed by , or space
        assert_eq!(parse_load(b"load average:"), None);
        assert_eq!(parse_load(b"load:"), None);
        assert_eq!(parse_load(b"load average: x, 1"), None);
        assert_eq!(parse_load(b"%n%n%s load"), None);
    }

    #[test]
    fn odd_numbers_follow_atof() {
        assert_eq!(parse_load(b"load: 1.2.3, x"), Some(1.2));
        assert_eq!(parse_load(b"load: , x"), Some(0.0));
        // the character after the colon is skipped whatever it is
        assert_eq!(parse_load(b"load:X7, x"), Some(7.0));
    }

    #[test]
    fn slow_start_sequence() {
        let mut w = 3;
        let mut seq = vec![w];
        while let Some(n) = slow_start(w, 100) {
            w = n;
            seq.push(w);
        }
        assert_eq!(seq, [3, 6, 12, 24, 48, 96, 100]);
        assert_eq!(slow_start(0, 5), Some(0));
        assert_eq!(slow_start(5, 5), None);
        assert_eq!(slow_start(i32::MAX - 1, i32::MAX), Some(i32::MAX));
    }

    #[test]
    fn load_formula() {
        // weight 10: s = 5, d = 2.5
        assert_eq!(load_feedback(10, 10, 10, 0.0), Some(15));
        assert_eq!(load_feedback(10, 10, 10, 0.875), None); // 10 + 5*0.5 = 12.5 -> 12, |2| < 2.5
        assert_eq!(load_feedback(10, 10, 10, 0.271), Some(14)); // 10 + 5*0.9 = 14.5 -> 14
        assert_eq!(load_feedback(10, 10, 10, 0.99), None); // 10 + 5*0.215 = 11 -> |1| < 2.5
        assert_eq!(load_feedback(97, 10, 10, 0.0), Some(100)); // 102 capped at 100
        assert_eq!(load_feedback(98, 10, 10, 0.0), None); // capped at 100, |2| < 2.5
        assert_eq!(load_feedback(20, 10, 10, 2.0), Some(15));
        assert_eq!(load_feedback(12, 10, 10, 9.0), None); // floored at 10, |2| < 2.5
        assert_eq!(load_feedback(13, 10, 10, 9.0), Some(10));
        assert_eq!(load_feedback(10, 10, 10, 1.0), None);
        assert_eq!(load_feedback(10, 10, 10, -1.0), None);
        // weight 1: d = 0.25, s = 0.5: trunc keeps 1
        assert_eq!(load_feedback(1, 1, 10, 0.0), None);
    }
}
