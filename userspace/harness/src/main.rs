//! The kevent test harness, run inside the VM by `make check`.
//!
//! Prints KTAP and exits non-zero if any test failed.

mod abi;
mod ktap;
mod queue;

fn main() {
    if !std::path::Path::new(kevent::DEVICE).exists() {
        println!(
            "TAP version 13\n1..0 # SKIP {} is missing: is the module loaded?",
            kevent::DEVICE
        );
        return;
    }
    let tests: Vec<&ktap::Test> = abi::TESTS.iter().chain(queue::TESTS).collect();
    let failed = ktap::run(&tests);
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
