//! Comparing two runs of the same scripts, against an allow-list of known differences.
//!
//! The allow-list (`conformance/allow-list.txt`) has one line per accepted difference:
//! ```text
//! # script | step as written | why the fake differs
//! server.redis | @shape INFO server | the fake reports the fields a client or Sentinel reads, not all 70
//! ```
//! An entry that no longer differs is reported as stale, so the list only ever holds live differences.

use std::fmt;

use crate::script::Outcome;

/// One accepted difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// The script's file name.
    pub script: String,
    /// The step, as written in the script.
    pub step: String,
    /// Why the fake answers differently.
    pub reason: String,
}

/// Parses the allow-list, or names the bad line.
pub fn parse_allow_list(text: &str) -> Result<Vec<Allowed>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.splitn(3, '|').map(str::trim).collect();
        match parts[..] {
            [script, step, reason] if !script.is_empty() && !step.is_empty() && !reason.is_empty() => {
                out.push(Allowed {
                    script: script.into(),
                    step: step.into(),
                    reason: reason.into(),
                })
            }
            _ => {
                return Err(format!(
                    "allow-list line {}: want 'script | step | reason': {line}",
                    i + 1
                ));
            }
        }
    }
    Ok(out)
}

/// A step whose replies differ.
#[derive(Debug, Clone)]
pub struct Difference {
    /// The real server's reply.
    pub real: Outcome,
    /// The fake's reply.
    pub fake: String,
    /// The allow-list's reason, when the difference is accepted.
    pub reason: Option<String>,
}

/// The result of a comparison.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Steps compared.
    pub compared: usize,
    /// Steps whose replies are the same.
    pub matched: usize,
    /// Steps whose replies differ, accepted or not.
    pub differences: Vec<Difference>,
    /// Allow-list entries that matched no difference.
    pub stale: Vec<Allowed>,
}

impl Report {
    /// Differences not in the allow-list.
    pub fn unexpected(&self) -> impl Iterator<Item = &Difference> {
        self.differences.iter().filter(|d| d.reason.is_none())
    }

    /// Whether every difference is allowed and no entry is stale.
    pub fn is_clean(&self) -> bool {
        self.unexpected().next().is_none() && self.stale.is_empty()
    }

    /// Matched steps as a percentage of those compared.
    pub fn match_rate(&self) -> f64 {
        if self.compared == 0 {
            return 100.0;
        }
        100.0 * self.matched as f64 / self.compared as f64
    }
}

/// Compares the outcomes of the same scripts from the real and the fake cluster.
pub fn compare(real: &[Outcome], fake: &[Outcome], allow: &[Allowed]) -> Report {
    let mut report = Report::default();
    let mut used = vec![false; allow.len()];
    for (r, f) in real.iter().zip(fake) {
        report.compared += 1;
        if r.rendered == f.rendered {
            report.matched += 1;
            continue;
        }
        let entry = allow.iter().position(|a| a.script == r.script && a.step == r.text);
        if let Some(i) = entry {
            used[i] = true;
        }
        report.differences.push(Difference {
            real: r.clone(),
            fake: f.rendered.clone(),
            reason: entry.map(|i| allow[i].reason.clone()),
        });
    }
    // A script that ended early on one side (a lost connection) leaves steps only the other side ran.
    for r in real.iter().skip(fake.len()) {
        report.compared += 1;
        report.differences.push(Difference {
            real: r.clone(),
            fake: "<not run>".into(),
            reason: None,
        });
    }
    report.stale = allow
        .iter()
        .zip(used)
        .filter(|(_, u)| !u)
        .map(|(a, _)| a.clone())
        .collect();
    report
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let allowed = self.differences.len() - self.unexpected().count();
        writeln!(
            f,
            "{} steps compared: {} identical ({:.1}%), {} allowed differences, {} unexpected, {} stale allow-list entries",
            self.compared,
            self.matched,
            self.match_rate(),
            allowed,
            self.unexpected().count(),
            self.stale.len()
        )?;
        for d in &self.differences {
            let tag = if d.reason.is_some() { "allowed" } else { "DIFFERS" };
            writeln!(f, "{tag} {}:{} {}", d.real.script, d.real.line, d.real.text)?;
            writeln!(f, "    real: {}", d.real.rendered)?;
            writeln!(f, "    fake: {}", d.fake)?;
            if let Some(r) = &d.reason {
                writeln!(f, "    why:  {r}")?;
            }
        }
        for s in &self.stale {
            writeln!(
                f,
                "STALE allow-list entry {} | {} (the replies now match)",
                s.script, s.step
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(text: &str, rendered: &str) -> Outcome {
        Outcome {
            script: "s.redis".into(),
            line: 1,
            text: text.into(),
            rendered: rendered.into(),
        }
    }

    #[test]
    fn unexpected_allowed_and_stale_are_told_apart() {
        let allow = parse_allow_list("# c\ns.redis | B | known\ns.redis | Z | gone\n").unwrap();
        let real = [o("A", "+OK"), o("B", ":1"), o("C", ":2")];
        let fake = [o("A", "+OK"), o("B", ":0"), o("C", ":3")];
        let r = compare(&real, &fake, &allow);
        assert_eq!((r.compared, r.matched), (3, 1));
        assert_eq!(r.unexpected().count(), 1);
        assert_eq!(r.stale.len(), 1);
        assert!(!r.is_clean());
        assert!(r.to_string().contains("DIFFERS s.redis:1 C"));
    }

    #[test]
    fn a_malformed_allow_list_line_is_named() {
        assert!(parse_allow_list("s.redis | only two").unwrap_err().contains("line 1"));
    }
}
