//! Fitting a server's `maxclients` in the process's file-descriptor limit, as Redis does at start: see
//! [`Net::fit_maxclients`].

use std::io;

use crate::Net;

/// Descriptors a server keeps beyond one per client (Redis's `CONFIG_MIN_RESERVED_FDS`).
pub const RESERVED_FDS: u64 = 32;

/// The limit Redis assumes when it cannot read the current one.
const ASSUMED_LIMIT: u64 = 1024;

/// Redis walks down from the limit it wants in steps of this many descriptors until the kernel accepts one; the
/// fit below lands where that walk would, so a lowered `maxclients` is the number Redis reports.
const REDIS_STEP: u64 = 16;

/// What [`Net::fit_maxclients`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientLimit {
    /// The `maxclients` to apply: the requested one when it fits.
    pub maxclients: usize,
    /// What to log about it, worded as Redis words it (empty when nothing had to change).
    pub log: Vec<String>,
}

impl Net {
    /// Fits `requested` clients in the process's file-descriptor limit, as Redis does at start.
    ///
    /// On real TCP every client costs a descriptor. Redis wants `maxclients` plus [`RESERVED_FDS`] (its
    /// `CONFIG_MIN_RESERVED_FDS`, kept for listeners, replication links and files). When the soft
    /// `RLIMIT_NOFILE` is lower it raises it (up to the hard limit, or beyond when privileged); when that is not
    /// enough it lowers `maxclients` to what fits and says so, so that a client beyond the limit is refused with
    /// `-ERR max number of clients reached` instead of the server running out of descriptors. The limit is the
    /// process's, so a raise serves every server the process runs. A limit that cannot hold one client is an
    /// error, with Redis's message: Redis refuses to start.
    ///
    /// Under turmoil there are no descriptors, and nothing is read or changed: the requested `maxclients` stands.
    ///
    /// ```
    /// use redsim_net::Net;
    ///
    /// let fitted = Net::Tokio.fit_maxclients(100).expect("a limit above 32");
    /// // Either 100 clients fit (the soft limit was high enough or could be raised), or fewer, with warnings.
    /// assert!(fitted.maxclients <= 100);
    /// for line in &fitted.log {
    ///     eprintln!("{line}");
    /// }
    /// ```
    pub fn fit_maxclients(&self, requested: usize) -> io::Result<ClientLimit> {
        match self {
            #[cfg(unix)]
            Net::Tokio => fit(requested, &mut ProcessLimit),
            #[cfg(not(unix))]
            Net::Tokio => Ok(unchanged(requested)),
            #[cfg(feature = "turmoil")]
            Net::Turmoil => Ok(unchanged(requested)),
        }
    }
}

fn unchanged(requested: usize) -> ClientLimit {
    ClientLimit {
        maxclients: requested,
        log: Vec::new(),
    }
}

/// The descriptor limit, as a seam so that the fit can be tested without changing the test process's own.
trait Limits {
    /// `(soft, hard)`.
    fn get(&mut self) -> io::Result<(u64, u64)>;
    fn set(&mut self, soft: u64, hard: u64) -> io::Result<()>;
}

fn fit(requested: usize, limits: &mut impl Limits) -> io::Result<ClientLimit> {
    let wanted = requested as u64;
    let needed = wanted.saturating_add(RESERVED_FDS);
    let (soft, hard) = match limits.get() {
        Ok(l) => l,
        Err(e) => {
            let reduced = (ASSUMED_LIMIT - RESERVED_FDS).min(wanted) as usize;
            return Ok(ClientLimit {
                maxclients: reduced,
                log: vec![format!(
                    "Unable to obtain the current NOFILE limit ({}), assuming {ASSUMED_LIMIT} and setting the max \
                     clients configuration accordingly.",
                    os_reason(&e)
                )],
            });
        }
    };
    if soft >= needed {
        return Ok(unchanged(requested));
    }
    // Within the hard limit only the soft one moves; beyond it raising the hard limit needs privilege, and the
    // kernel's refusal is the reason logged.
    let raised = if needed <= hard {
        limits.set(needed, hard)
    } else {
        limits.set(needed, needed)
    };
    let why = match raised {
        Ok(()) => {
            return Ok(ClientLimit {
                maxclients: requested,
                log: vec![format!(
                    "Increased maximum number of open files to {needed} (it was originally set to {soft})."
                )],
            });
        }
        Err(e) => os_reason(&e),
    };
    let mut best = soft;
    if hard < needed {
        let steps = (needed - hard).div_ceil(REDIS_STEP);
        if let Some(candidate) = steps.checked_mul(REDIS_STEP).and_then(|d| needed.checked_sub(d))
            && candidate > soft
            && limits.set(candidate, hard).is_ok()
        {
            best = candidate;
        }
    }
    if best <= RESERVED_FDS {
        return Err(io::Error::other(format!(
            "Your current 'ulimit -n' of {soft} is not enough for the server to start. Please increase your open \
             file limit to at least {needed}. Exiting."
        )));
    }
    let maxclients = best - RESERVED_FDS;
    Ok(ClientLimit {
        maxclients: usize::try_from(maxclients).unwrap_or(usize::MAX),
        log: vec![
            format!("You requested maxclients of {requested} requiring at least {needed} max file descriptors."),
            format!("Server can't set maximum open files to {needed} because of OS error: {why}."),
            format!(
                "Current maximum open files is {best}. maxclients has been reduced to {maxclients} to compensate \
                 for low ulimit. If you need higher maxclients increase 'ulimit -n'."
            ),
        ],
    })
}

/// The operating system's wording of an error (`Operation not permitted`), without Rust's ` (os error 1)`.
fn os_reason(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// This process's `RLIMIT_NOFILE`.
#[cfg(unix)]
struct ProcessLimit;

// `rlim_t` is `u64` on Linux and macOS but not on every unix: the conversions stay for the others.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
impl Limits for ProcessLimit {
    fn get(&mut self) -> io::Result<(u64, u64)> {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct it is given, which lives for the call.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // RLIM_INFINITY is the largest value, so it compares as "enough".
        Ok((l.rlim_cur as u64, l.rlim_max as u64))
    }

    fn set(&mut self, soft: u64, hard: u64) -> io::Result<()> {
        let too_big = || io::Error::from_raw_os_error(libc::EINVAL);
        let l = libc::rlimit {
            rlim_cur: soft.try_into().map_err(|_| too_big())?,
            rlim_max: hard.try_into().map_err(|_| too_big())?,
        };
        // SAFETY: setrlimit only reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A descriptor limit that, like an unprivileged process, may move the soft limit up to the hard one and
    /// lower the hard one, but never raise it.
    struct Unprivileged {
        soft: u64,
        hard: u64,
    }

    impl Limits for Unprivileged {
        fn get(&mut self) -> io::Result<(u64, u64)> {
            Ok((self.soft, self.hard))
        }

        fn set(&mut self, soft: u64, hard: u64) -> io::Result<()> {
            if hard > self.hard || soft > hard {
                return Err(io::Error::from_raw_os_error(1));
            }
            (self.soft, self.hard) = (soft, hard);
            Ok(())
        }
    }

    fn fit_in(soft: u64, hard: u64, requested: usize) -> (io::Result<ClientLimit>, u64) {
        let mut l = Unprivileged { soft, hard };
        let r = fit(requested, &mut l);
        (r, l.soft)
    }

    #[test]
    fn enough_descriptors_change_nothing() {
        let (r, soft) = fit_in(20_000, 20_000, 10_000);
        assert_eq!(r.unwrap(), unchanged(10_000));
        assert_eq!(soft, 20_000);
    }

    #[test]
    fn the_soft_limit_is_raised_up_to_the_hard_one() {
        let (r, soft) = fit_in(64, 20_000, 10_000);
        let r = r.unwrap();
        assert_eq!(r.maxclients, 10_000);
        assert_eq!(
            r.log,
            ["Increased maximum number of open files to 10032 (it was originally set to 64)."]
        );
        assert_eq!(soft, 10_032);
    }

    /// What redis-server 7.0.15 reported for the same limits (`prlimit --nofile=SOFT:HARD redis-server`).
    #[test]
    fn maxclients_is_reduced_as_redis_reduces_it() {
        for (soft, hard, want) in [
            (64, 64, 32),
            (40, 40, 8),
            (33, 33, 1),
            (64, 5000, 4960),
            (64, 5001, 4960),
        ] {
            let r = fit_in(soft, hard, 10_000).0.unwrap();
            assert_eq!(r.maxclients, want, "soft {soft} hard {hard}");
        }
        let r = fit_in(64, 64, 10_000).0.unwrap();
        assert_eq!(
            r.log,
            [
                "You requested maxclients of 10000 requiring at least 10032 max file descriptors.",
                "Server can't set maximum open files to 10032 because of OS error: Operation not permitted.",
                "Current maximum open files is 64. maxclients has been reduced to 32 to compensate for low ulimit. \
                 If you need higher maxclients increase 'ulimit -n'.",
            ]
        );
    }

    #[test]
    fn a_limit_without_room_for_one_client_is_an_error() {
        let e = fit_in(32, 32, 10_000).0.unwrap_err();
        assert_eq!(
            e.to_string(),
            "Your current 'ulimit -n' of 32 is not enough for the server to start. Please increase your open file \
             limit to at least 10032. Exiting."
        );
        // Enough for what was asked, however small the limit: nothing to fit.
        assert_eq!(fit_in(32, 32, 0).0.unwrap(), unchanged(0));
    }

    #[test]
    fn huge_requests_do_not_overflow() {
        let r = fit_in(64, 64, usize::MAX).0.unwrap();
        assert_eq!(r.maxclients, 32);
    }
}
