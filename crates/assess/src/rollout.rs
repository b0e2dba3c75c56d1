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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::HealthStatus;
    use serde_json::json;

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
