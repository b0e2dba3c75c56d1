//! Argo Rollouts' kinds, judged as Argo CD's `resource_customizations/argoproj.io/Rollout`
//! health script judges them: the controller's `status.phase` and `message` are the verdict,
//! once it has observed the current generation.

use serde_json::Value;

use crate::status::Health;

pub fn rollout(object: &Value) -> Health {
    let status = &object["status"];
    let observed = match &status["observedGeneration"] {
        Value::String(s) => s.parse::<i64>().ok(),
        v => v.as_i64(),
    };
    let generation = object["metadata"]["generation"].as_i64();
    if status.is_null() || (generation.is_some() && observed != generation) {
        return Health::progressing("Waiting for rollout spec update to be observed");
    }
    let message = status["message"].as_str().unwrap_or_default();
    match status["phase"].as_str() {
        Some("Healthy") => Health::healthy(message),
        Some("Paused") => Health::suspended(message),
        Some("Degraded") => Health::degraded(message),
        Some("Progressing") => Health::progressing(message),
        _ => Health::progressing("Waiting for rollout spec update to be observed"),
    }
}

/// An AnalysisRun, as Argo CD's `argoproj.io/AnalysisRun` health script: running is
/// Progressing, Successful Healthy, Failed and Error Degraded, Inconclusive Unknown; the run's
/// message when it has one.
pub fn analysis_run(object: &Value) -> Health {
    let status = &object["status"];
    if status.is_null() {
        return Health::progressing(
            "Waiting for analysis run to finish: status has not been reconciled.",
        );
    }
    let message = |default: &str| -> String {
        status["message"]
            .as_str()
            .filter(|m| !m.is_empty())
            .unwrap_or(default)
            .to_string()
    };
    match status["phase"].as_str() {
        Some("Successful") => Health::healthy(message("Analysis run completed successfully")),
        Some("Failed") => Health::degraded(message("Analysis run failed")),
        Some("Error") => Health::degraded(message("Analysis run had an error")),
        Some("Inconclusive") => Health::unknown(message("Analysis run was inconclusive")),
        _ => Health::progressing("Analysis run is running"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::HealthStatus;
    use serde_json::json;

    #[test]
    fn analysis_runs_map_as_argo_cd_maps_them() {
        let health = |status: Value| analysis_run(&json!({"status": status}));
        assert_eq!(
            health(json!({"phase": "Running"})).status,
            HealthStatus::Progressing
        );
        assert_eq!(
            health(json!({"phase": "Successful"})).status,
            HealthStatus::Healthy
        );
        let failed = health(json!({"phase": "Failed", "message": "Metric \"m\" assessed Failed"}));
        assert_eq!(failed.status, HealthStatus::Degraded);
        assert_eq!(failed.message, "Metric \"m\" assessed Failed");
        assert_eq!(
            health(json!({"phase": "Error"})).message,
            "Analysis run had an error"
        );
        assert_eq!(
            health(json!({"phase": "Inconclusive"})).status,
            HealthStatus::Unknown
        );
        assert_eq!(
            analysis_run(&json!({})).message,
            "Waiting for analysis run to finish: status has not been reconciled."
        );
    }

    #[test]
    fn phases_map_as_argo_cd_maps_them() {
        let cases = [
            (
                json!({"metadata": {"generation": 2}}),
                HealthStatus::Progressing,
                "Waiting for rollout spec update to be observed",
            ),
            (
                json!({"metadata": {"generation": 2}, "status": {"observedGeneration": "1", "phase": "Healthy"}}),
                HealthStatus::Progressing,
                "Waiting for rollout spec update to be observed",
            ),
            (
                json!({"metadata": {"generation": 2}, "status": {"observedGeneration": "2", "phase": "Healthy"}}),
                HealthStatus::Healthy,
                "",
            ),
            (
                json!({"metadata": {"generation": 2}, "status": {"observedGeneration": "2", "phase": "Paused", "message": "CanaryPauseStep"}}),
                HealthStatus::Suspended,
                "CanaryPauseStep",
            ),
            (
                json!({"metadata": {"generation": 2}, "status": {"observedGeneration": "2", "phase": "Degraded", "message": "RolloutAborted: Rollout aborted update to revision 2"}}),
                HealthStatus::Degraded,
                "RolloutAborted: Rollout aborted update to revision 2",
            ),
            (
                json!({"metadata": {"generation": 2}, "status": {"observedGeneration": "2", "phase": "Progressing", "message": "more replicas need to be updated"}}),
                HealthStatus::Progressing,
                "more replicas need to be updated",
            ),
        ];
        for (object, status, message) in cases {
            let health = rollout(&object);
            assert_eq!(
                (health.status, health.message.as_str()),
                (status, message),
                "{object}"
            );
        }
    }
}
