//! What an automated Application's policy calls for after a comparison — a pure function of
//! what the comparison found, what the store remembers and the self-heal backoff, so every rule
//! is unit-tested without a cluster and with a paused clock.
//!
//! The rules are Argo CD's: auto-sync once per new desired state (revisions and spec), whatever
//! came of it; self-heal only when drift appears at a state already synced, with a backoff
//! between attempts; with prune off, objects left to prune are no reason to sync; a rollback
//! holds the Application (bosun's pin) until Git moves past the revision rolled back from.

use std::time::Duration;

use bosun_record::Pin;
use tokio::time::Instant;

/// What the comparison found.
#[derive(Clone, Debug)]
pub struct Observed<'a> {
    pub revisions: &'a [String],
    pub spec_digest: &'a str,
    pub in_sync: bool,
    /// Every difference is an object left to prune.
    pub only_prune: bool,
}

/// The Application's `syncPolicy.automated`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Policy {
    pub prune: bool,
    pub self_heal: bool,
}

/// Self-heal attempts since the Application was last in sync, and when the next may start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealState {
    pub attempts: u32,
    pub not_before: Option<Instant>,
}

/// Self-heal backoff: `first`, doubled per failed attempt, at most `max`.
#[derive(Clone, Copy, Debug)]
pub struct HealBackoff {
    pub first: Duration,
    pub max: Duration,
}

impl HealState {
    /// After a self-heal sync: a success starts the count again, a failure doubles the wait.
    /// Either way the next attempt waits at least `first` (drift right after a heal is
    /// usually another controller fighting back, not something a second sync fixes).
    pub fn healed(&mut self, succeeded: bool, now: Instant, backoff: HealBackoff) {
        self.attempts = if succeeded { 0 } else { self.attempts + 1 };
        let wait = backoff
            .first
            .saturating_mul(2u32.saturating_pow(self.attempts.saturating_sub(1).min(16)))
            .min(backoff.max);
        self.not_before = Some(now + wait);
    }
}

/// The automation's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// A rollback pin holds the Application at older revisions: nothing is synced.
    Paused(Pin),
    /// In sync: nothing to do, and self-heal starts afresh.
    InSync,
    /// Out of sync, but the policy says wait (drift without selfHeal, prune-only without prune,
    /// or this desired state was already tried).
    Wait,
    /// Self-heal is backing off until then.
    BackOff(Instant),
    /// Sync now.
    Sync(SyncKind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncKind {
    /// A new desired state.
    AutoSync,
    /// Drift at a desired state already synced.
    SelfHeal,
}

/// Decides for one comparison. `pin` is the store's rollback pin (a pin whose `from_head` is
/// no longer Git's head is stale: the caller clears it, see [`pin_is_stale`]);
/// `last_automated` the revisions and spec digest automation last tried.
pub fn decide(
    now: Instant,
    observed: &Observed,
    policy: Policy,
    pin: Option<&Pin>,
    last_automated: Option<&(Vec<String>, String)>,
    heal: &HealState,
) -> Decision {
    if let Some(pin) = pin
        && !pin_is_stale(pin, observed.revisions)
    {
        return Decision::Paused(pin.clone());
    }
    if observed.in_sync {
        return Decision::InSync;
    }
    if observed.only_prune && !policy.prune {
        return Decision::Wait;
    }
    let target_is_new = last_automated.is_none_or(|(revisions, digest)| {
        revisions.as_slice() != observed.revisions || digest != observed.spec_digest
    });
    if target_is_new {
        return Decision::Sync(SyncKind::AutoSync);
    }
    if !policy.self_heal {
        return Decision::Wait;
    }
    match heal.not_before {
        Some(at) if now < at => Decision::BackOff(at),
        _ => Decision::Sync(SyncKind::SelfHeal),
    }
}

/// A Rollout of the Application whose update failed: aborted by its analysis (Argo's
/// `RolloutAborted: ... analysis phase error/failed: ...` message on an aborted Rollout) or by
/// its progress deadline with `progressDeadlineAbort` (`...: ProgressDeadlineExceeded: ...`).
/// Its `namespace/name` and message. Such an Application is rolled back to its last good
/// revision and held there, so that the next automated sync does not deploy the rejected
/// version again. An abort by hand is left alone.
pub fn aborted_update<'a>(
    live: impl IntoIterator<Item = &'a serde_json::Value>,
) -> Option<AbortedUpdate> {
    live.into_iter().find_map(|object| {
        let status = &object["status"];
        let message = status["message"].as_str()?;
        if object["apiVersion"] != "argoproj.io/v1alpha1"
            || object["kind"] != "Rollout"
            || status["abort"] != true
        {
            return None;
        }
        let cause = if message.contains("analysis phase error/failed") {
            "analysis"
        } else if message.contains(": ProgressDeadlineExceeded: ") {
            "progress deadline"
        } else {
            return None;
        };
        Some(AbortedUpdate {
            rollout: format!(
                "{}/{}",
                object["metadata"]["namespace"].as_str().unwrap_or_default(),
                object["metadata"]["name"].as_str().unwrap_or_default()
            ),
            cause,
            message: message.to_string(),
        })
    })
}

/// What [`aborted_update`] found.
#[derive(Debug, PartialEq, Eq)]
pub struct AbortedUpdate {
    /// `namespace/name` of the Rollout.
    pub rollout: String,
    /// What aborted it: `analysis` or `progress deadline`.
    pub cause: &'static str,
    /// The Rollout's message.
    pub message: String,
}

/// A pin ends when Git's head moved past the revision that was rolled back from.
pub fn pin_is_stale(pin: &Pin, head: &[String]) -> bool {
    pin.from_head != head
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_rollout_aborted_by_its_analysis_or_progress_deadline_asks_for_a_rollback() {
        let rollout = |abort: bool, message: &str| {
            serde_json::json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                "metadata": {"name": "web", "namespace": "shop"},
                "status": {"abort": abort, "message": message}})
        };
        let analysed = rollout(
            true,
            "RolloutAborted: Rollout aborted update to revision 3: Step-based analysis phase error/failed: Metric \"m\" assessed Failed",
        );
        let found = aborted_update([&analysed]).unwrap();
        assert_eq!(
            (found.rollout.as_str(), found.cause),
            ("shop/web", "analysis")
        );
        assert!(found.message.ends_with("assessed Failed"));
        // An abort by hand, or an analysis that failed once but was retried, is left alone.
        let by_hand = rollout(true, "RolloutAborted: Rollout aborted update to revision 3");
        let retried = rollout(
            false,
            "RolloutAborted: Rollout aborted update to revision 3: Step-based analysis phase error/failed",
        );
        assert_eq!(aborted_update([&by_hand, &retried]), None);
        // progressDeadlineAbort: the update failed too.
        let stuck = rollout(
            true,
            "RolloutAborted: Rollout aborted update to revision 3: ProgressDeadlineExceeded: ReplicaSet \"web-5c9\" has timed out progressing.",
        );
        let found = aborted_update([&stuck]).unwrap();
        assert_eq!(found.cause, "progress deadline");
        assert!(found.message.contains("ProgressDeadlineExceeded"));
    }

    fn revs(r: &str) -> Vec<String> {
        vec![r.to_string()]
    }

    fn observed<'a>(revisions: &'a [String], in_sync: bool) -> Observed<'a> {
        Observed {
            revisions,
            spec_digest: "spec1",
            in_sync,
            only_prune: false,
        }
    }

    const HEAL: Policy = Policy {
        prune: true,
        self_heal: true,
    };
    const BACKOFF: HealBackoff = HealBackoff {
        first: Duration::from_secs(5),
        max: Duration::from_secs(180),
    };

    #[tokio::test(start_paused = true)]
    async fn a_new_revision_or_spec_syncs_once() {
        let head = revs("b");
        let now = Instant::now();
        let h = HealState::default();
        assert_eq!(
            decide(now, &observed(&head, false), HEAL, None, None, &h),
            Decision::Sync(SyncKind::AutoSync)
        );
        let tried_a = (revs("a"), "spec1".to_string());
        assert_eq!(
            decide(now, &observed(&head, false), HEAL, None, Some(&tried_a), &h),
            Decision::Sync(SyncKind::AutoSync)
        );
        let tried_other_spec = (revs("b"), "spec0".to_string());
        assert_eq!(
            decide(
                now,
                &observed(&head, false),
                HEAL,
                None,
                Some(&tried_other_spec),
                &h
            ),
            Decision::Sync(SyncKind::AutoSync),
            "a changed spec at the same commit is new desired state"
        );
        let tried_b = (revs("b"), "spec1".to_string());
        let no_heal = Policy {
            prune: true,
            self_heal: false,
        };
        assert_eq!(
            decide(
                now,
                &observed(&head, false),
                no_heal,
                None,
                Some(&tried_b),
                &h
            ),
            Decision::Wait,
            "drift at a tried state waits without selfHeal"
        );
        assert_eq!(
            decide(
                now,
                &observed(&head, true),
                no_heal,
                None,
                Some(&tried_b),
                &h
            ),
            Decision::InSync
        );
    }

    #[tokio::test(start_paused = true)]
    async fn prune_only_drift_without_prune_waits() {
        let head = revs("b");
        let mut o = observed(&head, false);
        o.only_prune = true;
        let policy = Policy {
            prune: false,
            self_heal: true,
        };
        let d = decide(
            Instant::now(),
            &o,
            policy,
            None,
            None,
            &HealState::default(),
        );
        assert_eq!(d, Decision::Wait);
        let d = decide(Instant::now(), &o, HEAL, None, None, &HealState::default());
        assert_eq!(d, Decision::Sync(SyncKind::AutoSync));
    }

    #[tokio::test(start_paused = true)]
    async fn self_heal_backs_off_exponentially_and_resets_after_success() {
        let head = revs("b");
        let tried = (revs("b"), "spec1".to_string());
        let o = observed(&head, false);
        let mut heal = HealState::default();
        let decide_now =
            |heal: &HealState| decide(Instant::now(), &o, HEAL, None, Some(&tried), heal);
        assert_eq!(decide_now(&heal), Decision::Sync(SyncKind::SelfHeal));

        // Three failed heals: waits of 5 s, 10 s, 20 s.
        let mut waits = Vec::new();
        for _ in 0..3 {
            heal.healed(false, Instant::now(), BACKOFF);
            let Decision::BackOff(until) = decide_now(&heal) else {
                panic!("expected a backoff")
            };
            waits.push((until - Instant::now()).as_secs());
            tokio::time::advance(until - Instant::now() - Duration::from_millis(1)).await;
            assert!(matches!(decide_now(&heal), Decision::BackOff(_)), "not yet");
            tokio::time::advance(Duration::from_millis(1)).await;
            assert_eq!(decide_now(&heal), Decision::Sync(SyncKind::SelfHeal));
        }
        assert_eq!(waits, [5, 10, 20]);
        // Capped at the maximum.
        for _ in 0..10 {
            heal.healed(false, Instant::now(), BACKOFF);
        }
        assert_eq!(heal.not_before.unwrap() - Instant::now(), BACKOFF.max);
        // A success: the count starts again, with the first wait.
        heal.healed(true, Instant::now(), BACKOFF);
        assert_eq!(heal.attempts, 0);
        assert_eq!(heal.not_before.unwrap() - Instant::now(), BACKOFF.first);
    }

    #[tokio::test(start_paused = true)]
    async fn a_rollback_pin_holds_until_git_moves_on() {
        let pin = Pin {
            revisions: revs("old"),
            from_head: revs("bad"),
            operation: 7,
        };
        let bad = revs("bad");
        let d = decide(
            Instant::now(),
            &observed(&bad, false),
            HEAL,
            Some(&pin),
            None,
            &HealState::default(),
        );
        assert_eq!(d, Decision::Paused(pin.clone()));
        let fixed = revs("fixed");
        assert!(pin_is_stale(&pin, &fixed));
        let d = decide(
            Instant::now(),
            &observed(&fixed, false),
            HEAL,
            Some(&pin),
            None,
            &HealState::default(),
        );
        assert_eq!(
            d,
            Decision::Sync(SyncKind::AutoSync),
            "a stale pin does not hold"
        );
    }
}
