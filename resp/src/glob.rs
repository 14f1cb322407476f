//! Glob patterns as Redis matches them (KEYS, PSUBSCRIBE, CONFIG GET, SENTINEL RESET).

/// Redis-style glob matching (`*`, `?`, `[abc]`, `[^a-z]`, `\x`), as used by KEYS, PSUBSCRIBE and CONFIG GET.
pub fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    glob_at(pattern, s, 0)
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

#[cfg(test)]
mod tests {
    use super::*;

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
