//! `spec.restartAt` (`bosun rollout restart`): every pod created before that time is deleted
//! and recreated by its ReplicaSet, a few at a time, as Argo Rollouts restarts a Rollout.

use jiff::Timestamp;
use serde_json::Value;

/// A pod of the Rollout, as the restart reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodView {
    pub name: String,
    pub created: Timestamp,
    pub ready: bool,
}

impl PodView {
    pub fn from_object(pod: &Value) -> Option<PodView> {
        let ready = pod["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        });
        Some(PodView {
            name: pod["metadata"]["name"].as_str()?.to_string(),
            created: pod["metadata"]["creationTimestamp"]
                .as_str()?
                .parse()
                .ok()?,
            ready: ready && pod["metadata"]["deletionTimestamp"].is_null(),
        })
    }
}

/// Whether a restart is asked for and not done: `restartAt` is set, has come, and is later than
/// the last restart done (`status.restartedAt`).
pub fn pending(rollout: &Value, now: Timestamp) -> Option<Timestamp> {
    let at: Timestamp = rollout["spec"]["restartAt"].as_str()?.parse().ok()?;
    let done: Option<Timestamp> = rollout["status"]["restartedAt"]
        .as_str()
        .and_then(|t| t.parse().ok());
    (at <= now && done.is_none_or(|d| d < at)).then_some(at)
}

/// The pods to delete now (oldest first, within `max_unavailable` pods not ready at a time), and
/// whether the restart is done (no pod older than `restart_at` is left).
pub fn next(pods: &[PodView], restart_at: Timestamp, max_unavailable: i32) -> (Vec<String>, bool) {
    let mut old: Vec<&PodView> = pods.iter().filter(|p| p.created < restart_at).collect();
    if old.is_empty() {
        return (Vec::new(), true);
    }
    old.sort_by_key(|p| p.created);
    let not_ready = pods.iter().filter(|p| !p.ready).count() as i32;
    let budget = (max_unavailable.max(1) - not_ready).max(0) as usize;
    (
        old.into_iter()
            .take(budget)
            .map(|p| p.name.clone())
            .collect(),
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, created: &str, ready: bool) -> PodView {
        PodView {
            name: name.into(),
            created: created.parse().unwrap(),
            ready,
        }
    }

    #[test]
    fn old_pods_go_a_few_at_a_time_and_the_restart_ends_when_none_is_left() {
        let at: Timestamp = "2026-12-05T12:00:00Z".parse().unwrap();
        let pods = [
            pod("a", "2026-12-05T10:00:00Z", true),
            pod("b", "2026-12-05T09:00:00Z", true),
            pod("c", "2026-12-05T11:00:00Z", true),
        ];
        assert_eq!(next(&pods, at, 1), (vec!["b".to_string()], false));
        assert_eq!(
            next(&pods, at, 2),
            (vec!["b".to_string(), "a".to_string()], false)
        );
        // One replacement is not ready yet: with a budget of one, nothing more goes.
        let pods = [
            pod("a", "2026-12-05T10:00:00Z", true),
            pod("b2", "2026-12-05T12:00:01Z", false),
            pod("c", "2026-12-05T11:00:00Z", true),
        ];
        assert_eq!(next(&pods, at, 1), (vec![], false));
        let pods = [pod("a2", "2026-12-05T12:00:05Z", true)];
        assert_eq!(next(&pods, at, 1), (vec![], true));
    }

    #[test]
    fn a_restart_is_pending_once_until_done() {
        let now: Timestamp = "2026-12-05T12:00:00Z".parse().unwrap();
        let r = |spec: Value, status: Value| json!({"spec": spec, "status": status});
        assert!(pending(&r(json!({}), json!({})), now).is_none());
        assert!(
            pending(
                &r(json!({"restartAt": "2026-12-05T11:00:00Z"}), json!({})),
                now
            )
            .is_some()
        );
        assert!(
            pending(
                &r(json!({"restartAt": "2026-12-05T13:00:00Z"}), json!({})),
                now
            )
            .is_none(),
            "not yet"
        );
        assert!(
            pending(
                &r(
                    json!({"restartAt": "2026-12-05T11:00:00Z"}),
                    json!({"restartedAt": "2026-12-05T11:00:00Z"})
                ),
                now
            )
            .is_none()
        );
    }
}
