//! `Listener::accept_retrying` with no descriptor left (`EMFILE`): it keeps trying, pausing between attempts
//! instead of spinning, and accepts as soon as a descriptor is free.
//!
//! This file holds one test on purpose: it exhausts its own process's descriptors, which would break any test
//! running beside it.

#![cfg(unix)]

use std::fs::File;
use std::time::Duration;

use redsim_net::Net;

#[test]
fn out_of_descriptors_accept_pauses_between_attempts_and_recovers() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let listener = Net::Tokio.bind("127.0.0.1", 0).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        lower_soft_limit_to(256);
        // Take every free descriptor, then free one for a client: its connection waits in the listener's
        // backlog, and accepting it needs a descriptor there is none of.
        let mut filler = Vec::new();
        while let Ok(f) = File::open("/dev/null") {
            filler.push(f);
        }
        filler.pop();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect with the freed descriptor");

        let mut failures = Vec::new();
        let waited = tokio::time::timeout(
            Duration::from_secs(1),
            listener.accept_retrying(|e, n| failures.push((e.raw_os_error(), n))),
        )
        .await;
        assert!(waited.is_err(), "nothing can be accepted without a descriptor");
        assert!(
            failures.iter().all(|(code, _)| *code == Some(libc::EMFILE)),
            "{failures:?}"
        );
        // Pauses of 5, 10, 20 .. 100 ms fit at most 15 attempts in a second; a slow machine makes fewer, a spin
        // thousands.
        assert!(
            (2..=30).contains(&failures.len()),
            "{} attempts in a second",
            failures.len()
        );
        let counts: Vec<u64> = failures.iter().map(|(_, n)| *n).collect();
        assert_eq!(counts, (1..=failures.len() as u64).collect::<Vec<_>>());

        filler.pop();
        let (_stream, peer) = tokio::time::timeout(Duration::from_secs(10), listener.accept_retrying(|_, _| {}))
            .await
            .expect("accepted once a descriptor is free");
        assert_eq!(peer, client.local_addr().unwrap());
    });
}

fn lower_soft_limit_to(soft: u64) {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only access the struct they are given, which outlives the calls.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut l), 0);
        l.rlim_cur = l.rlim_cur.min(soft as libc::rlim_t);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &l), 0);
    }
}
