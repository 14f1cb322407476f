//! Glob patterns as Redis matches them (KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET, SENTINEL RESET).
//!
//! Every token but `*` matches exactly one byte, so a match needs to remember only the last `*` it passed:
//! on a mismatch it lets that star take one more byte and tries again from there. The work is at most
//! (pattern length + 1) x (subject length + 1) steps, however many stars the pattern has. (A matcher that
//! recurses at every star, as this one did, takes exponential time on `a*a*a*a*a*a*a*a*b` against a long run of
//! `a`: one such KEYS stalled the whole server for seconds, issue 16's H1.) The results are Redis's: `?`, `[abc]`,
//! `[^a-z]` (a reversed range counts too), `\x`, a `[` with no `]` runs to the end of the pattern, and a lone
//! trailing `\` matches itself.

/// Most stars (not counting a trailing one) a pattern may pass through, as in Redis 7.0's `stringmatchlen`.
const MAX_STARS: usize = 1000;

/// One token of a pattern.
#[derive(Debug, Clone, Copy)]
enum Token {
    /// `*`: any run of bytes, also none.
    Star,
    /// `?`: any one byte.
    Any,
    /// A byte, itself (also an escaped one).
    Byte(u8),
    /// `[...]`: the class between `start` and `end` of the pattern, negated by a leading `^`.
    Class { start: usize, end: usize, negate: bool },
}

fn tokens(p: &[u8]) -> Vec<Token> {
    let mut out = Vec::with_capacity(p.len());
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'*' => {
                // Consecutive stars are one star.
                if !matches!(out.last(), Some(Token::Star)) {
                    out.push(Token::Star);
                }
            }
            b'?' => out.push(Token::Any),
            b'[' => {
                i += 1;
                let negate = i < p.len() && p[i] == b'^';
                if negate {
                    i += 1;
                }
                let start = i;
                while i < p.len() && p[i] != b']' {
                    if p[i] == b'\\' && i + 1 < p.len() {
                        i += 1;
                    } else if i + 2 < p.len() && p[i + 1] == b'-' {
                        i += 2;
                    }
                    i += 1;
                }
                out.push(Token::Class {
                    start,
                    end: i.min(p.len()),
                    negate,
                });
            }
            b'\\' if i + 1 < p.len() => {
                i += 1;
                out.push(Token::Byte(p[i]));
            }
            c => out.push(Token::Byte(c)),
        }
        i += 1;
    }
    out
}

fn class_matches(class: &[u8], c: u8) -> bool {
    let mut i = 0;
    let mut matched = false;
    while i < class.len() {
        if class[i] == b'\\' && i + 1 < class.len() {
            i += 1;
            matched |= class[i] == c;
        } else if i + 2 < class.len() && class[i + 1] == b'-' {
            let (a, b) = if class[i] <= class[i + 2] {
                (class[i], class[i + 2])
            } else {
                (class[i + 2], class[i])
            };
            matched |= (a..=b).contains(&c);
            i += 2;
        } else {
            matched |= class[i] == c;
        }
        i += 1;
    }
    matched
}

/// Redis-style glob matching (`*`, `?`, `[abc]`, `[^a-z]`, `\x`), as used by KEYS, PSUBSCRIBE and CONFIG GET.
pub fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    matches_counting(pattern, s).0
}

/// The match, and how many steps it took (for the work bound's test).
fn matches_counting(p: &[u8], s: &[u8]) -> (bool, usize) {
    let toks = tokens(p);
    // Redis refuses to match through more than 1000 stars (its matcher recurses at each; a trailing star ends
    // the match at once), whatever the subject: the same patterns match nothing here.
    let inner_stars = toks.iter().filter(|t| matches!(t, Token::Star)).count()
        - usize::from(matches!(toks.last(), Some(Token::Star)));
    if inner_stars > MAX_STARS {
        return (false, 0);
    }
    let one = |t: &Token, c: u8| match *t {
        Token::Star => false,
        Token::Any => true,
        Token::Byte(b) => b == c,
        Token::Class { start, end, negate } => class_matches(&p[start..end], c) != negate,
    };
    let (mut ti, mut si, mut steps) = (0, 0, 0);
    // The last star passed: its token index and the subject index it now resumes at.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        steps += 1;
        match toks.get(ti) {
            Some(Token::Star) => {
                star = Some((ti, si));
                ti += 1;
                continue;
            }
            Some(t) if one(t, s[si]) => {
                ti += 1;
                si += 1;
                continue;
            }
            _ => {}
        }
        match star {
            // Let the star take one more byte, and match the rest from there.
            Some((st, ss)) => {
                ti = st + 1;
                si = ss + 1;
                star = Some((st, ss + 1));
            }
            None => return (false, steps),
        }
    }
    while matches!(toks.get(ti), Some(Token::Star)) {
        ti += 1;
    }
    (ti == toks.len(), steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recursive matcher this module had before: the reference the linear one must agree with.
    fn reference(p: &[u8], s: &[u8]) -> bool {
        glob_at(p, s, 0)
    }

    fn glob_at(p: &[u8], s: &[u8], depth: usize) -> bool {
        // Bound the recursion so a pathological pattern cannot blow the stack.
        if depth > 1000 {
            return false;
        }
        let (mut pi, mut si) = (0, 0);
        while pi < p.len() {
            match p[pi] {
                b'*' => {
                    while pi + 1 < p.len() && p[pi + 1] == b'*' {
                        pi += 1;
                    }
                    if pi + 1 == p.len() {
                        return true;
                    }
                    for start in si..=s.len() {
                        if glob_at(&p[pi + 1..], &s[start..], depth + 1) {
                            return true;
                        }
                    }
                    return false;
                }
                b'?' => {
                    if si >= s.len() {
                        return false;
                    }
                    si += 1;
                }
                b'[' => {
                    if si >= s.len() {
                        return false;
                    }
                    pi += 1;
                    let negate = pi < p.len() && p[pi] == b'^';
                    if negate {
                        pi += 1;
                    }
                    let mut matched = false;
                    while pi < p.len() && p[pi] != b']' {
                        if p[pi] == b'\\' && pi + 1 < p.len() {
                            pi += 1;
                            matched |= p[pi] == s[si];
                        } else if pi + 2 < p.len() && p[pi + 1] == b'-' {
                            let (a, b) = if p[pi] <= p[pi + 2] {
                                (p[pi], p[pi + 2])
                            } else {
                                (p[pi + 2], p[pi])
                            };
                            matched |= (a..=b).contains(&s[si]);
                            pi += 2;
                        } else {
                            matched |= p[pi] == s[si];
                        }
                        pi += 1;
                    }
                    if negate {
                        matched = !matched;
                    }
                    if !matched {
                        return false;
                    }
                    si += 1;
                }
                b'\\' if pi + 1 < p.len() => {
                    pi += 1;
                    if si >= s.len() || p[pi] != s[si] {
                        return false;
                    }
                    si += 1;
                }
                c => {
                    if si >= s.len() || c != s[si] {
                        return false;
                    }
                    si += 1;
                }
            }
            pi += 1;
        }
        si == s.len()
    }

    #[test]
    fn the_linear_matcher_agrees_with_the_recursive_one() {
        // Every pattern of up to 4 tokens from this alphabet against every subject of up to 4 bytes.
        let parts: [&[u8]; 9] = [b"a", b"b", b"*", b"?", b"[ab]", b"[^a]", b"[b-a]", b"\\a", b"["];
        let subjects: Vec<Vec<u8>> = (0..=4usize)
            .flat_map(|n| {
                (0..3usize.pow(n as u32)).map(move |mut k| {
                    (0..n)
                        .map(|_| {
                            let c = [b'a', b'b', b'['][k % 3];
                            k /= 3;
                            c
                        })
                        .collect()
                })
            })
            .collect();
        let mut patterns: Vec<Vec<u8>> = vec![vec![]];
        for _ in 0..4 {
            let longer: Vec<Vec<u8>> = patterns
                .iter()
                .flat_map(|p| parts.iter().map(move |x| [p.as_slice(), x].concat()))
                .collect();
            patterns.extend(longer);
            patterns.dedup();
        }
        let mut compared = 0;
        for p in &patterns {
            for s in &subjects {
                assert_eq!(
                    glob_match(p, s),
                    reference(p, s),
                    "{:?} against {:?}",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(s)
                );
                compared += 1;
            }
        }
        assert!(compared > 100_000, "{compared}");
    }

    #[test]
    fn the_work_is_bounded_by_pattern_times_subject() {
        // Exponential for a matcher that recurses at every star.
        let pattern = b"a*a*a*a*a*a*a*a*a*a*a*a*b";
        let subject = vec![b'a'; 5_000];
        let (matched, steps) = matches_counting(pattern, &subject);
        assert!(!matched);
        assert!(steps <= (pattern.len() + 1) * (subject.len() + 1), "{steps} steps");
    }

    #[test]
    fn more_than_a_thousand_stars_match_nothing_as_in_redis() {
        let within: Vec<u8> = b"a*".repeat(1000).into_iter().chain(*b"a").collect();
        let beyond: Vec<u8> = b"a*".repeat(1001).into_iter().chain(*b"a").collect();
        let subject = vec![b'a'; 2_100];
        assert!(glob_match(&within, &subject));
        assert!(!glob_match(&beyond, &subject));
        assert!(
            glob_match(&b"a*".repeat(1001), &subject),
            "a trailing star does not count"
        );
    }

    #[test]
    fn glob() {
        assert!(glob_match(b"*", b"anything"));
        assert!(glob_match(b"h?llo", b"hello"));
        assert!(glob_match(b"h[ae]llo", b"hallo"));
        assert!(!glob_match(b"h[^e]llo", b"hello"));
        assert!(glob_match(b"h[a-c]llo", b"hbllo"));
        assert!(glob_match(b"repl*", b"repl-backlog-size"));
        assert!(!glob_match(b"a*b", b"acbd"));
        assert!(glob_match(b"a\\*", b"a*"));
    }
}
