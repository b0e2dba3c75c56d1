//! The runtime's scheduling, with a paused clock: time only moves when every task waits, so the
//! instants a reconcile sees are exact.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bosun_runtime::{Action, Config, Reconciler, Runtime, RuntimeMetrics, Trigger};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How the probe answers its `n`-th reconcile of a key.
type Answer = Box<dyn Fn(&str, u32) -> Result<Action, String> + Send + Sync>;

/// Records every call, then behaves as `answer` says after holding the key for `hold`.
struct Probe {
    start: Instant,
    calls: mpsc::UnboundedSender<(String, Duration)>,
    answer: Answer,
    hold: Duration,
    counts: Mutex<HashMap<String, u32>>,
    in_flight: Mutex<HashMap<String, u32>>,
    max_in_flight_total: Mutex<(u32, u32)>,
}

impl Reconciler for Probe {
    type Key = String;
    type Error = String;

    async fn reconcile(self: Arc<Self>, key: String) -> Result<Action, String> {
        let n = {
            let mut counts = self.counts.lock().unwrap();
            let n = counts.entry(key.clone()).or_default();
            *n += 1;
            *n
        };
        {
            let mut flight = self.in_flight.lock().unwrap();
            let k = flight.entry(key.clone()).or_default();
            *k += 1;
            assert_eq!(*k, 1, "two reconciles of {key} at once");
            let mut total = self.max_in_flight_total.lock().unwrap();
            total.0 += 1;
            total.1 = total.1.max(total.0);
        }
        let _ = self.calls.send((key.clone(), self.start.elapsed()));
        tokio::time::sleep(self.hold).await;
        *self.in_flight.lock().unwrap().get_mut(&key).unwrap() -= 1;
        self.max_in_flight_total.lock().unwrap().0 -= 1;
        (self.answer)(&key, n)
    }
}

struct Running {
    probe: Arc<Probe>,
    trigger: Trigger<String>,
    calls: mpsc::UnboundedReceiver<(String, Duration)>,
    _task: tokio::task::JoinHandle<()>,
}

fn start(
    concurrency: usize,
    hold: Duration,
    answer: impl Fn(&str, u32) -> Result<Action, String> + Send + Sync + 'static,
) -> Running {
    let (tx, calls) = mpsc::unbounded_channel();
    let probe = Arc::new(Probe {
        start: Instant::now(),
        calls: tx,
        answer: Box::new(answer),
        hold,
        counts: Mutex::default(),
        in_flight: Mutex::default(),
        max_in_flight_total: Mutex::default(),
    });
    let mut config = Config::new("probe");
    config.concurrency = concurrency;
    let runtime = Runtime::new(config, RuntimeMetrics::unregistered());
    let trigger = runtime.trigger();
    let task = tokio::spawn(runtime.run(probe.clone()));
    Running {
        probe,
        trigger,
        calls,
        _task: task,
    }
}

async fn next(r: &mut Running) -> (String, Duration) {
    r.calls.recv().await.expect("runtime stopped")
}

#[tokio::test(start_paused = true)]
async fn requeue_after_comes_back_at_that_time() {
    let mut r = start(4, Duration::ZERO, |_, _| {
        Ok(Action::requeue(Duration::from_secs(120)))
    });
    r.trigger.now("a".into());
    assert_eq!(next(&mut r).await, ("a".into(), Duration::ZERO));
    assert_eq!(next(&mut r).await, ("a".into(), Duration::from_secs(120)));
    assert_eq!(next(&mut r).await, ("a".into(), Duration::from_secs(240)));
}

#[tokio::test(start_paused = true)]
async fn a_trigger_brings_a_scheduled_key_forward_and_a_burst_runs_once() {
    let mut r = start(4, Duration::ZERO, |_, _| {
        Ok(Action::requeue(Duration::from_secs(120)))
    });
    r.trigger.now("a".into());
    assert_eq!(next(&mut r).await.1, Duration::ZERO);
    // A burst of three events gathered for 300 ms: one reconcile, 300 ms after the first.
    tokio::time::sleep(Duration::from_secs(10)).await;
    for _ in 0..3 {
        r.trigger.after("a".into(), Duration::from_millis(300));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(next(&mut r).await.1, Duration::from_millis(10_300));
    // The periodic one is 120 s after that, not after the first run.
    assert_eq!(
        next(&mut r).await.1,
        Duration::from_millis(130_300),
        "the burst ran once and the schedule restarted from it"
    );
}

#[tokio::test(start_paused = true)]
async fn one_reconcile_per_key_and_requests_meanwhile_run_once_after() {
    let mut r = start(
        4,
        Duration::from_secs(10),
        |_, _| Ok(Action::await_change()),
    );
    r.trigger.now("a".into());
    assert_eq!(next(&mut r).await.1, Duration::ZERO);
    // While "a" runs (10 s), five more requests: one more run, when the first ends.
    for _ in 0..5 {
        r.trigger.now("a".into());
    }
    r.trigger.now("b".into());
    assert_eq!(next(&mut r).await, ("b".into(), Duration::ZERO));
    assert_eq!(next(&mut r).await, ("a".into(), Duration::from_secs(10)));
    // Nothing else is queued: the next event is the one this test sends (at 10 s, for 60 s on).
    r.trigger.after("c".into(), Duration::from_secs(60));
    assert_eq!(next(&mut r).await, ("c".into(), Duration::from_secs(70)));
    assert_eq!(r.probe.counts.lock().unwrap()["a"], 2);
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_limited_across_keys() {
    let mut r = start(2, Duration::from_secs(1), |_, _| Ok(Action::await_change()));
    for key in ["a", "b", "c", "d", "e"] {
        r.trigger.now(key.into());
    }
    let mut at = Vec::new();
    for _ in 0..5 {
        at.push(next(&mut r).await.1.as_secs());
    }
    at.sort();
    assert_eq!(at, [0, 0, 1, 1, 2]);
    assert_eq!(r.probe.max_in_flight_total.lock().unwrap().1, 2);
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_exponentially_and_success_resets() {
    let mut r = start(1, Duration::ZERO, |_, n| {
        if n <= 3 {
            Err(format!("failure {n}"))
        } else {
            Ok(Action::await_change())
        }
    });
    r.trigger.now("a".into());
    let mut at = Vec::new();
    for _ in 0..4 {
        at.push(next(&mut r).await.1.as_secs());
    }
    // 5 s, then 10 s, then 20 s (Config::new's backoff).
    assert_eq!(at, [0, 5, 15, 35]);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_reconcile_is_retried() {
    let mut r = start(1, Duration::ZERO, |_, n| {
        if n == 1 {
            panic!("reconcile bug");
        }
        Ok(Action::await_change())
    });
    r.trigger.now("a".into());
    assert_eq!(next(&mut r).await.1.as_secs(), 0);
    assert_eq!(next(&mut r).await.1.as_secs(), 5);
}

#[test]
fn jitter_stays_within_its_bound() {
    for _ in 0..100 {
        let Action::RequeueAfter(d) =
            Action::requeue_with_jitter(Duration::from_secs(120), Duration::from_secs(60))
        else {
            unreachable!()
        };
        assert!(d >= Duration::from_secs(120) && d < Duration::from_secs(180));
    }
}
