//! hot - Rust test target: a generic function, a trait method of a generic
//! struct, and an #[inline(always)] helper inlined into it, in a module.
//! Built twice with rustc -C opt-level=2 -g: with the legacy symbol mangling
//! (the default) and with -C symbol-mangling-version=v0.
//!
//! Usage: hot [ALARM_SECONDS]
//!
//! Expected stack, innermost first (demangled, no hash, no parameters):
//!   hot::kernel::mix                                   (inlined)
//!   <hot::kernel::Mixer<u64> as hot::kernel::Step>::step
//!   hot::kernel::drive            (v0: hot::kernel::drive::<hot::kernel::Mixer<u64>>)
//!   hot::main
//!   ... the standard library's start-up frames

use std::io::Write;

// The contract of tests/targets/target.h, without the libc crate: rustc
// links the C library anyway.
extern "C" {
    fn prctl(option: i32, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> i32;
    fn alarm(seconds: u32) -> u32;
}
const PR_SET_PDEATHSIG: i32 = 1;
const PR_SET_PTRACER: i32 = 0x5961_6d61;
const PR_SET_PTRACER_ANY: u64 = u64::MAX;
const SIGKILL: u64 = 9;

mod kernel {
    pub trait Step {
        fn step(&mut self, n: u32) -> u64;
    }

    pub struct Mixer<T> {
        pub state: T,
    }

    // A serially dependent mix: all of step()'s time, inlined into it.
    #[inline(always)]
    fn mix(x: u64) -> u64 {
        let y = (x ^ (x >> 31)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        y ^ (y >> 27)
    }

    impl Step for Mixer<u64> {
        #[inline(never)]
        fn step(&mut self, n: u32) -> u64 {
            let mut x = self.state;
            for _ in 0..n {
                x = mix(x);
            }
            self.state = x;
            x
        }
    }

    #[inline(never)]
    pub fn drive<S: Step>(s: &mut S) -> ! {
        let mut acc = 0u64;
        loop {
            // volatile: the result is used (std::hint::black_box is
            // newer than Debian 12's rustc 1.63)
            let v = acc.wrapping_add(s.step(1_000_000));
            unsafe { std::ptr::write_volatile(&mut acc, v) };
        }
    }
}

fn main() {
    let secs = std::env::args()
        .nth(1)
        .map(|s| s.parse::<u32>().expect("bad alarm seconds"))
        .unwrap_or(300);
    unsafe {
        prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        alarm(secs);
    }
    let mut out = std::io::stdout();
    writeln!(out, "ready {}", std::process::id()).unwrap();
    out.flush().unwrap();
    let mut m = kernel::Mixer { state: 1u64 };
    kernel::drive(&mut m);
}
