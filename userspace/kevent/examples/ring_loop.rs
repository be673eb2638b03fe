//! An event loop that reads its events from the queue's ring: a timer
//! every 20 ms, and a user event that another thread triggers three
//! times. It stops after five ticks and the three triggers, and fails if
//! nothing comes for five seconds.
//!
//! The triggers are written into the ring as they happen (an
//! edge-triggered user event); the timer's events wait on the queue
//! until `Ring::wait` moves them in.

use kevent::{Kind, Queue, Request, Ring};
use std::io;
use std::time::Duration;

fn main() -> io::Result<()> {
    let queue = Queue::new()?;
    let mut ring = Ring::new(&queue, 64)?;
    let tick = Request::timer(Duration::from_millis(20), None)?.with_cookie(1);
    let wake = Request::user(1).edge_triggered().with_cookie(2);
    queue.add(&tick)?;
    queue.add(&wake)?;

    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 1..=3 {
                std::thread::sleep(Duration::from_millis(30));
                queue.trigger(&wake, [i, 0]).expect("trigger");
            }
        });
        let (mut ticks, mut wakes) = (0, 0);
        while ticks < 5 || wakes < 3 {
            if ring.wait(&queue, 1, 64, Some(Duration::from_secs(5)))? == 0 {
                return Err(io::Error::other("no event in 5 s"));
            }
            ring.drain(|ev| match ev.kind() {
                Kind::Timer => {
                    ticks += ev.expirations();
                    println!("tick: {} expirations ({ticks} so far)", ev.expirations());
                }
                Kind::User => {
                    wakes += 1;
                    println!("user event {}: payload {:?}", ev.id()[0], ev.payload());
                }
                k => println!("{k:?} event, cookie {}", ev.cookie()),
            })?;
        }
        println!("{ticks} ticks and {wakes} user events through the ring");
        Ok(())
    })
}
