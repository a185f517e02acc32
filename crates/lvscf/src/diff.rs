//! Unified diff of two texts by lines (Myers' algorithm on what lies
//! between the common beginning and end), for showing what a save will
//! change and why one was refused.

/// One line of an edit script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Same,
    Del,
    Ins,
}

/// Lines with their line ends (the last one may have none).
fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// Most differing lines Myers' search looks for before it gives up and
/// shows the rest of the middle as removed and added (memory grows with the
/// square of this).
const MAX_D: usize = 2000;

/// The steps turning `a` into `b` (shortest, or a plain replacement when
/// they differ in more than [`MAX_D`] lines).
fn myers(a: &[&str], b: &[&str]) -> Vec<Step> {
    let (n, m) = (a.len() as isize, b.len() as isize);
    let max = (n + m) as usize;
    let limit = max.min(MAX_D);
    let off = max as isize + 1;
    let mut v = vec![0isize; 2 * max + 3];
    let mut trace: Vec<Vec<isize>> = Vec::new();
    let mut found = None;
    'search: for d in 0..=limit as isize {
        trace.push(v[(off - d) as usize..=(off + d) as usize].to_vec());
        let mut k = -d;
        while k <= d {
            let i = (off + k) as usize;
            let mut x = if k == -d || (k != d && v[i - 1] < v[i + 1]) {
                v[i + 1]
            } else {
                v[i - 1] + 1
            };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            v[i] = x;
            if x >= n && y >= m {
                found = Some(d);
                break 'search;
            }
            k += 2;
        }
    }
    let Some(dmax) = found else {
        let mut s = vec![Step::Del; a.len()];
        s.extend(std::iter::repeat_n(Step::Ins, b.len()));
        return s;
    };
    let mut steps = Vec::with_capacity(a.len() + b.len());
    let (mut x, mut y) = (n, m);
    for d in (0..=dmax).rev() {
        let vd = &trace[d as usize];
        let at = |k: isize| vd[(k + d) as usize];
        let k = x - y;
        let pk = if k == -d || (k != d && at(k - 1) < at(k + 1)) {
            k + 1
        } else {
            k - 1
        };
        let (px, py) = if d == 0 {
            (0, 0)
        } else {
            (at(pk), at(pk) - pk)
        };
        while x > px && y > py {
            steps.push(Step::Same);
            x -= 1;
            y -= 1;
        }
        if d > 0 {
            steps.push(if x == px { Step::Ins } else { Step::Del });
        }
        x = px;
        y = py;
    }
    steps.reverse();
    steps
}

fn push_line(out: &mut String, mark: char, line: &str) {
    out.push(mark);
    out.push_str(line);
    if !line.ends_with('\n') {
        out.push_str("\n\\ No newline at end of file\n");
    }
}

/// A unified diff (`diff -u` style, 3 lines of context) from `old` to
/// `new`, headed `--- OLD_NAME` / `+++ NEW_NAME`; empty when they are equal.
pub fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    if old == new {
        return String::new();
    }
    let (a, b) = (lines(old), lines(new));
    let pre = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut steps = vec![Step::Same; pre];
    steps.extend(myers(&a[pre..a.len() - suf], &b[pre..b.len() - suf]));
    steps.extend(std::iter::repeat_n(Step::Same, suf));
    // Positions (in a and b) before each step.
    let mut pos = Vec::with_capacity(steps.len() + 1);
    let (mut i, mut j) = (0usize, 0usize);
    for s in &steps {
        pos.push((i, j));
        match s {
            Step::Same => {
                i += 1;
                j += 1;
            }
            Step::Del => i += 1,
            Step::Ins => j += 1,
        }
    }
    pos.push((i, j));
    const CTX: usize = 3;
    let changed: Vec<usize> = (0..steps.len())
        .filter(|&t| steps[t] != Step::Same)
        .collect();
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    let mut c = 0;
    while c < changed.len() {
        let start = changed[c].saturating_sub(CTX);
        let mut end = changed[c] + 1;
        while c + 1 < changed.len() && changed[c + 1] <= end + 2 * CTX {
            c += 1;
            end = changed[c] + 1;
        }
        c += 1;
        let end = (end + CTX).min(steps.len());
        let ((a0, b0), (a1, b1)) = (pos[start], pos[end]);
        let range = |s: usize, n: usize| match n {
            0 => format!("{s},0"),
            1 => format!("{}", s + 1),
            _ => format!("{},{n}", s + 1),
        };
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(a0, a1 - a0),
            range(b0, b1 - b0)
        ));
        for t in start..end {
            let (i, j) = pos[t];
            match steps[t] {
                Step::Same => push_line(&mut out, ' ', a[i]),
                Step::Del => push_line(&mut out, '-', a[i]),
                Step::Ins => push_line(&mut out, '+', b[j]),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Applies a unified diff's hunks to `old` (a checker for the tests).
    fn patch(old: &str, diff: &str) -> String {
        let a = lines(old);
        let mut out = String::new();
        let mut next = 0;
        let mut it = diff.lines().skip(2).peekable();
        while let Some(h) = it.next() {
            let from: usize = h[4..].split([',', ' ']).next().unwrap().parse().unwrap();
            let from = if h[4..].split(' ').next().unwrap().ends_with(",0") {
                from
            } else {
                from - 1
            };
            for l in &a[next..from] {
                out.push_str(l);
            }
            next = from;
            while let Some(l) = it.peek() {
                if l.starts_with("@@") {
                    break;
                }
                let l = it.next().unwrap();
                let nl = it.peek() != Some(&"\\ No newline at end of file");
                if nl {
                } else {
                    it.next();
                }
                let body = &l[1..];
                match &l[..1] {
                    " " => {
                        out.push_str(body);
                        if nl {
                            out.push('\n');
                        }
                        next += 1;
                    }
                    "-" => next += 1,
                    _ => {
                        out.push_str(body);
                        if nl {
                            out.push('\n');
                        }
                    }
                }
            }
        }
        for l in &a[next..] {
            out.push_str(l);
        }
        out
    }

    #[test]
    fn a_small_change() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nD\ne\nf\ng\nh\nI\n";
        let d = unified_diff(old, new, "lvs.cf", "lvs.cf (new)");
        assert_eq!(
            d,
            "--- lvs.cf\n+++ lvs.cf (new)\n@@ -1,8 +1,9 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n h\n+I\n"
        );
        assert_eq!(unified_diff(old, old, "a", "b"), "");
        let d = unified_diff("x", "y\n", "a", "b");
        assert_eq!(
            d,
            "--- a\n+++ b\n@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+y\n"
        );
    }

    proptest! {
        #[test]
        fn patching_with_the_diff_gives_the_new_text(
            a in proptest::collection::vec(0u8..5, 0..40),
            b in proptest::collection::vec(0u8..5, 0..40),
        ) {
            let old: String = a.iter().map(|c| format!("l{c}\n")).collect();
            let new: String = b.iter().map(|c| format!("l{c}\n")).collect();
            let d = unified_diff(&old, &new, "a", "b");
            prop_assert_eq!(patch(&old, &d), new);
            // Shortest: as many removed lines as not in a longest common subsequence.
            let removed = d.lines().skip(2).filter(|l| l.starts_with('-')).count();
            let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
            for i in 0..a.len() {
                for j in 0..b.len() {
                    lcs[i + 1][j + 1] = if a[i] == b[j] { lcs[i][j] + 1 } else { lcs[i][j + 1].max(lcs[i + 1][j]) };
                }
            }
            prop_assert_eq!(removed, a.len() - lcs[a.len()][b.len()]);
        }
    }
}
