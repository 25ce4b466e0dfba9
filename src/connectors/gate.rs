//! A counting gate with two priorities. At most `n` requests are in flight; when a slot frees
//! up it goes to a waiting high-priority request first. Connectors mark the next page of a
//! list they are walking as high priority: those pages are sequential chains (the critical path
//! of a sync), and a fair queue would make each of them wait behind the whole parallel fan-out.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

pub struct Gate {
    state: Mutex<State>,
}

struct State {
    free: usize,
    high: VecDeque<oneshot::Sender<()>>,
    low: VecDeque<oneshot::Sender<()>>,
}

/// A held slot; dropping it frees the slot.
pub struct Slot {
    gate: Arc<Gate>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.gate.release();
    }
}

/// A waiter that gives back a slot handed to it if it is cancelled before it could take it.
struct Waiter {
    rx: Option<oneshot::Receiver<()>>,
    gate: Arc<Gate>,
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if rx.try_recv().is_ok() {
                self.gate.release();
            }
        }
    }
}

impl Gate {
    pub fn new(n: usize) -> Arc<Gate> {
        Arc::new(Gate {
            state: Mutex::new(State {
                free: n.max(1),
                high: VecDeque::new(),
                low: VecDeque::new(),
            }),
        })
    }

    pub async fn acquire(self: &Arc<Self>, high: bool) -> Slot {
        let rx = {
            let mut s = self.state.lock().unwrap();
            if s.free > 0 {
                s.free -= 1;
                return Slot { gate: self.clone() };
            }
            let (tx, rx) = oneshot::channel();
            if high {
                s.high.push_back(tx);
            } else {
                s.low.push_back(tx);
            }
            rx
        };
        let mut w = Waiter {
            rx: Some(rx),
            gate: self.clone(),
        };
        let got = w.rx.as_mut().expect("set above").await;
        w.rx = None;
        debug_assert!(got.is_ok(), "the gate outlives its waiters");
        Slot { gate: self.clone() }
    }

    fn release(&self) {
        let mut s = self.state.lock().unwrap();
        loop {
            let next = match s.high.pop_front() {
                Some(tx) => Some(tx),
                None => s.low.pop_front(),
            };
            match next {
                // A waiter that gave up has dropped its receiver: try the next one.
                Some(tx) => {
                    if tx.send(()).is_ok() {
                        return;
                    }
                }
                None => {
                    s.free += 1;
                    return;
                }
            }
        }
    }

    #[cfg(test)]
    fn free(&self) -> usize {
        self.state.lock().unwrap().free
    }

    /// Waiters queued: high priority, low priority.
    #[cfg(test)]
    fn waiting(&self) -> (usize, usize) {
        let s = self.state.lock().unwrap();
        (s.high.len(), s.low.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Let the spawned tasks run until the gate has `want` waiters queued (no timing guess).
    async fn queued(gate: &Gate, want: (usize, usize)) {
        while gate.waiting() != want {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn high_priority_waiters_go_first_and_slots_are_never_lost() {
        let gate = Gate::new(1);
        let held = gate.acquire(false).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // Queued in this order: two low, then one high.
        for (name, high, want) in [
            ("low1", false, (0, 1)),
            ("low2", false, (0, 2)),
            ("high", true, (1, 2)),
        ] {
            let (g, o) = (gate.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = g.acquire(high).await;
                o.lock().unwrap().push(name);
            }));
            queued(&gate, want).await;
        }
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec!["high", "low1", "low2"]);
        assert_eq!(gate.free(), 1);
    }

    #[tokio::test]
    async fn a_cancelled_waiter_does_not_leak_its_slot() {
        let gate = Gate::new(1);
        let held = gate.acquire(false).await;
        let g = gate.clone();
        let waiting = tokio::spawn(async move {
            let _s = g.acquire(true).await;
        });
        queued(&gate, (1, 0)).await;
        waiting.abort();
        let _ = waiting.await;
        drop(held);
        let again = tokio::time::timeout(Duration::from_secs(1), gate.acquire(false)).await;
        assert!(again.is_ok(), "slot lost");
        drop(again);
        assert_eq!(gate.free(), 1);
    }
}
