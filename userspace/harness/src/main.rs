//! The kevent test harness, run inside the VM by `make check`.
//!
//! Prints KTAP and exits non-zero if any test failed. Arguments (or the
//! environment) set up the model test; see `model_test.rs`:
//! `--seed N` (`KEVENT_MODEL_SEED`) replays one sequence, `--ops N`
//! (`KEVENT_MODEL_OPS`) sets its length, `--secs N` (`KEVENT_MODEL_SECS`)
//! how long to run new sequences.

mod abi;
mod alloc_count;
mod api;
mod clocks;
mod ktap;
mod model;
mod model_test;
mod queue;
mod ring;
mod sigmask;

use ktap::{Test, TestResult};

fn model_matches_the_module() -> TestResult {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = model_test::Config::from_env_and_args(&args)?;
    let summary = model_test::check(&cfg, || {
        Box::new(model_test::Kernel::new().expect("open two queues"))
    })?;
    println!("# {summary}");
    Ok(())
}

const MODEL: &[Test] = &[Test {
    name: "model_matches_the_module",
    run: model_matches_the_module,
}];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = model_test::Config::from_env_and_args(&args) {
        eprintln!("kevent-harness: {e}");
        std::process::exit(2);
    }
    if !std::path::Path::new(kevent::DEVICE).exists() {
        println!(
            "TAP version 13\n1..0 # SKIP {} is missing: is the module loaded?",
            kevent::DEVICE
        );
        return;
    }
    let tests: Vec<&Test> = abi::TESTS
        .iter()
        .chain(queue::TESTS)
        .chain(api::TESTS)
        .chain(sigmask::TESTS)
        .chain(clocks::TESTS)
        .chain(ring::TESTS)
        .chain(MODEL)
        .collect();
    let failed = ktap::run(&tests);
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
