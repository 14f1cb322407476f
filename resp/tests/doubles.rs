//! Doubles in replies carry Redis 7.0's text for them: `addReplyDouble` prints with C's `%.17g`, so a sorted-set
//! score sent as `1.1` comes back as `1.1000000000000001`, and a client or a differential test sees those bytes.
//! [`format_double`] writes that layout in Rust; here C's own `snprintf`, the function Redis calls, is the
//! reference for doubles of every magnitude, subnormals and negative zero included.

use std::ffi::CStr;

use proptest::prelude::*;
use redsim_resp::format_double;

/// `%.17g` as glibc prints it, with `inf`/`-inf` as Redis spells them (glibc agrees).
fn c_printf(d: f64) -> String {
    let mut buf = [0u8; 64];
    // SAFETY: the buffer is 64 bytes, more than `%.17g` ever writes (at most 24 with sign and exponent), the
    // format is a NUL-terminated literal, and snprintf NUL-terminates within the size it is given.
    unsafe {
        libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.17g".as_ptr(), d);
    }
    CStr::from_bytes_until_nul(&buf)
        .expect("snprintf terminates its output")
        .to_string_lossy()
        .into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    /// Any bit pattern that is not a NaN (Redis refuses NaN scores before they are stored) prints as C prints it.
    #[test]
    fn every_double_prints_as_c_printf_does(bits in any::<u64>()) {
        let d = f64::from_bits(bits);
        prop_assume!(!d.is_nan());
        prop_assert_eq!(format_double(d), c_printf(d), "{:e}", d);
    }

    /// Doubles users actually send as scores: short decimals, which are where the 17 digits show.
    #[test]
    fn short_decimals_print_as_c_printf_does(m in -10_000_000i64..10_000_000, places in 0..8i32) {
        let d = m as f64 / 10f64.powi(places);
        prop_assert_eq!(format_double(d), c_printf(d));
    }
}

#[test]
fn the_edges_print_as_c_printf_does() {
    for d in [
        0.0,
        -0.0,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        5e-324,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e16,
        1e17,
        9.999_999_999_999_999e16,
        0.0001,
        0.000_099_999_999_999_999_99,
    ] {
        assert_eq!(format_double(d), c_printf(d), "{d:e}");
    }
}
