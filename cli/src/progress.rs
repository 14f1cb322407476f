//! Progress lines for runs that take minutes (`redsim explore`): how many runs are done out of how many, how
//! many violated a checker, and roughly how long is left.
//!
//! They go to stderr, never stdout: the report on stdout is the same whatever the machine's speed, while how
//! often a line appears depends on wall time. Wall time is read here, outside every simulation, so it cannot
//! change what a run does.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often [`Progress::stderr`] writes a line, at most.
pub const STDERR_EVERY: Duration = Duration::from_secs(5);

/// Counts finished runs from any thread and writes a line now and then.
pub struct Progress {
    label: String,
    /// A line every this many runs (0: only by time).
    every_runs: usize,
    /// A line when this long has passed since the last one.
    every: Duration,
    state: Mutex<State>,
}

struct State {
    out: Option<Box<dyn Write + Send>>,
    total: usize,
    done: usize,
    violations: usize,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    /// No lines at all (library callers and tests that only want the result).
    pub fn quiet() -> Progress {
        Progress::to(String::new(), None, 0, Duration::MAX)
    }

    /// Lines on stderr, prefixed with `label`, every [`STDERR_EVERY`] and after the last run.
    pub fn stderr(label: &str) -> Progress {
        Progress::to(label.to_string(), Some(Box::new(std::io::stderr())), 0, STDERR_EVERY)
    }

    /// Lines into `out`, every `every_runs` runs (0: never by count) or when `every` has passed since the last
    /// line, and always after the last run.
    pub fn to(label: String, out: Option<Box<dyn Write + Send>>, every_runs: usize, every: Duration) -> Progress {
        let now = Instant::now();
        Progress {
            label,
            every_runs,
            every,
            state: Mutex::new(State {
                out,
                total: 0,
                done: 0,
                violations: 0,
                started: now,
                last_line: now,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts counting `total` runs (the clock starts here).
    pub fn start(&self, total: usize) {
        let mut s = self.state();
        let now = Instant::now();
        (s.total, s.done, s.violations, s.started, s.last_line) = (total, 0, 0, now, now);
    }

    /// One run finished; `violated` when a checker failed in it.
    pub fn record(&self, violated: bool) {
        let mut s = self.state();
        s.done += 1;
        s.violations += usize::from(violated);
        let now = Instant::now();
        let due = s.done == s.total
            || (self.every_runs > 0 && s.done % self.every_runs == 0)
            || now.duration_since(s.last_line) >= self.every;
        if !due || s.out.is_none() {
            return;
        }
        s.last_line = now;
        let elapsed_s = now.duration_since(s.started).as_secs_f64();
        let left = if s.done < s.total {
            let left_s = elapsed_s / s.done as f64 * (s.total - s.done) as f64;
            format!(", about {left_s:.0} s left")
        } else {
            String::new()
        };
        let line = format!(
            "{}: {}/{} runs, {} violating, {elapsed_s:.0} s{left}",
            self.label, s.done, s.total, s.violations
        );
        if let Some(out) = s.out.as_mut() {
            // A closed stderr must not stop the exploration: its result is on stdout.
            let _ = writeln!(out, "{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(buf: &Shared) -> Vec<String> {
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        // The seconds depend on the machine; the counts do not.
        text.lines()
            .map(|l| l.split(" violating").next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn a_line_every_n_runs_and_after_the_last() {
        let buf = Shared::default();
        let p = Progress::to("explore".into(), Some(Box::new(buf.clone())), 2, Duration::MAX);
        p.start(5);
        for violated in [false, true, false, false, true] {
            p.record(violated);
        }
        assert_eq!(
            lines(&buf),
            ["explore: 2/5 runs, 1", "explore: 4/5 runs, 1", "explore: 5/5 runs, 2"]
        );
    }

    #[test]
    fn quiet_writes_nothing_and_time_alone_can_trigger_a_line() {
        let p = Progress::quiet();
        p.start(3);
        p.record(true);
        let buf = Shared::default();
        // Every run is "late" when the interval is zero.
        let p = Progress::to("x".into(), Some(Box::new(buf.clone())), 0, Duration::ZERO);
        p.start(3);
        p.record(false);
        p.record(false);
        assert_eq!(lines(&buf), ["x: 1/3 runs, 0", "x: 2/3 runs, 0"]);
    }
}
