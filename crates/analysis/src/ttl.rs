//! `spec.ttlStrategy` of an AnalysisRun (Argo Rollouts v1.7): a completed run is deleted once
//! `secondsAfterSuccess` (Successful), `secondsAfterFailure` (Failed) or else
//! `secondsAfterCompletion` have passed since `status.completedAt`, as Argo's analysis
//! controller's garbage collection does. A run without the field, or not completed, stays.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;

/// When the run is to be deleted; `None` when it is to stay.
pub fn expires_at(run: &Value) -> Option<Timestamp> {
    let ttl = &run["spec"]["ttlStrategy"];
    if !ttl.is_object() {
        return None;
    }
    let phase = run["status"]["phase"].as_str()?;
    if !matches!(phase, "Successful" | "Failed" | "Error" | "Inconclusive") {
        return None;
    }
    let completed: Timestamp = run["status"]["completedAt"].as_str()?.parse().ok()?;
    let seconds = |field: &str| ttl[field].as_i64();
    let seconds = match phase {
        "Successful" if seconds("secondsAfterSuccess").is_some() => seconds("secondsAfterSuccess"),
        "Failed" if seconds("secondsAfterFailure").is_some() => seconds("secondsAfterFailure"),
        _ => seconds("secondsAfterCompletion"),
    }?;
    completed
        .checked_add(Duration::from_secs(seconds.max(0) as u64))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(phase: &str, ttl: Value) -> Value {
        json!({"spec": {"ttlStrategy": ttl},
            "status": {"phase": phase, "completedAt": "2026-12-06T10:00:00Z"}})
    }

    fn at(text: &str) -> Option<Timestamp> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn the_phase_picks_its_ttl_and_completion_is_the_fallback() {
        let all = json!({"secondsAfterCompletion": 3600, "secondsAfterSuccess": 600, "secondsAfterFailure": 1800});
        assert_eq!(
            expires_at(&run("Successful", all.clone())),
            at("2026-12-06T10:10:00Z")
        );
        assert_eq!(
            expires_at(&run("Failed", all.clone())),
            at("2026-12-06T10:30:00Z")
        );
        // Error and Inconclusive have no field of their own.
        assert_eq!(
            expires_at(&run("Error", all.clone())),
            at("2026-12-06T11:00:00Z")
        );
        assert_eq!(
            expires_at(&run("Inconclusive", all)),
            at("2026-12-06T11:00:00Z")
        );
        let only_success = json!({"secondsAfterSuccess": 0});
        assert_eq!(
            expires_at(&run("Successful", only_success.clone())),
            at("2026-12-06T10:00:00Z")
        );
        assert_eq!(expires_at(&run("Failed", only_success)), None);
    }

    #[test]
    fn a_running_run_or_one_without_the_field_stays() {
        assert_eq!(
            expires_at(&run("Running", json!({"secondsAfterCompletion": 1}))),
            None
        );
        let mut plain = run("Successful", json!(null));
        assert_eq!(expires_at(&plain), None);
        plain["spec"]["ttlStrategy"] = json!({"secondsAfterCompletion": 5});
        plain["status"]
            .as_object_mut()
            .unwrap()
            .remove("completedAt");
        assert_eq!(expires_at(&plain), None, "no completion time, no TTL");
    }
}
