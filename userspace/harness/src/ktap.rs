//! A small KTAP runner: every test is a function returning `Result`.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// What a test returns: `Err` carries the reason it failed.
pub type TestResult = Result<(), String>;

/// A named test.
pub struct Test {
    pub name: &'static str,
    pub run: fn() -> TestResult,
}

/// Fails the test with a message unless `cond` holds.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!("{}:{}: {}", file!(), line!(), format!($($msg)+)));
        }
    };
}

/// Fails the test unless `left == right`.
#[macro_export]
macro_rules! check_eq {
    ($left:expr, $right:expr) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            return Err(format!(
                "{}:{}: {} == {:?}, expected {:?}",
                file!(),
                line!(),
                stringify!($left),
                l,
                r
            ));
        }
    }};
}

/// Runs every test, prints KTAP, and returns how many failed.
pub fn run(tests: &[&Test]) -> usize {
    println!("TAP version 13");
    println!("1..{}", tests.len());
    let mut failed = 0;
    for (i, t) in tests.iter().enumerate() {
        match catch_unwind(AssertUnwindSafe(t.run)) {
            Ok(Ok(())) => println!("ok {} {}", i + 1, t.name),
            Ok(Err(why)) => {
                failed += 1;
                for line in why.lines() {
                    println!("# {line}");
                }
                println!("not ok {} {}", i + 1, t.name);
            }
            Err(_) => {
                failed += 1;
                println!("not ok {} {} (panicked)", i + 1, t.name);
            }
        }
    }
    println!("# {} passed, {} failed", tests.len() - failed, failed);
    failed
}
