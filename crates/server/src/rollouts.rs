//! The Rollout routes: list, get, the actions of `bosun rollout` (deployer, audited) and a
//! server-sent event at every step.

use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use axum::{Extension, Json};
use bosun_api::{
    AnalysisRunSummary, ErrorBody, RolloutList, RolloutRevision, RolloutSummary, RolloutView,
    RolloutWatchEvent, RolloutWeights, UndoRequest,
};
use bosun_model::Role;
use bosun_rollout::revision::{HASH_LABEL, REVISION_ANNOTATION, SCALE_DOWN_DEADLINE_ANNOTATION};
use bosun_rollout::{RolloutAction, RolloutError, RolloutKey};
use futures::StreamExt as _;
use serde_json::Value;

use crate::api::{ApiError, ApiResult, Shared, body, require};
use crate::auth::Caller;

impl From<RolloutError> for ApiError {
    fn from(e: RolloutError) -> Self {
        let code = match &e {
            RolloutError::NotFound(_) | RolloutError::UnknownCluster(_) => StatusCode::NOT_FOUND,
            RolloutError::Refused(_) => StatusCode::CONFLICT,
            RolloutError::Kube { .. } => StatusCode::BAD_GATEWAY,
        };
        ApiError(code, e.to_string())
    }
}

fn summary(key: &RolloutKey, object: &Value) -> RolloutSummary {
    let status = &object["status"];
    let int = |v: &Value| v.as_i64().unwrap_or(0);
    let canary = &object["spec"]["strategy"]["canary"];
    RolloutSummary {
        cluster: key.cluster.clone(),
        namespace: key.namespace.clone(),
        name: key.name.clone(),
        strategy: if canary.is_object() {
            "canary"
        } else {
            "blueGreen"
        }
        .into(),
        phase: status["phase"].as_str().unwrap_or("Progressing").into(),
        message: status["message"].as_str().unwrap_or_default().into(),
        step: status["currentStepIndex"].as_u64(),
        steps: canary["steps"].as_array().map_or(0, Vec::len) as u64,
        desired: object["spec"]["replicas"].as_i64().unwrap_or(1),
        ready: int(&status["readyReplicas"]),
        available: int(&status["availableReplicas"]),
        stable_hash: status["stableRS"].as_str().map(str::to_string),
        current_hash: status["currentPodHash"].as_str().map(str::to_string),
    }
}

fn revision(rs: &Value, summary: &RolloutSummary, blue_green: bool) -> RolloutRevision {
    let hash = rs["metadata"]["labels"][HASH_LABEL]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let is = |h: &Option<String>| h.as_deref() == Some(hash.as_str());
    let desired = rs["spec"]["replicas"].as_i64().unwrap_or(0);
    let role = match (
        is(&summary.stable_hash),
        is(&summary.current_hash),
        blue_green,
    ) {
        (true, _, false) => "stable",
        (true, _, true) => "active",
        (false, true, false) => "canary",
        (false, true, true) => "preview",
        _ => "old",
    };
    RolloutRevision {
        revision: rs["metadata"]["annotations"][REVISION_ANNOTATION]
            .as_str()
            .and_then(|r| r.parse().ok())
            .unwrap_or(0),
        replica_set: rs["metadata"]["name"].as_str().unwrap_or_default().into(),
        hash,
        role: role.into(),
        desired,
        ready: rs["status"]["readyReplicas"].as_i64().unwrap_or(0),
        available: rs["status"]["availableReplicas"].as_i64().unwrap_or(0),
        scale_down_deadline: rs["metadata"]["annotations"][SCALE_DOWN_DEADLINE_ANNOTATION]
            .as_str()
            .map(str::to_string),
    }
}

fn key(cluster: String, namespace: String, name: String) -> RolloutKey {
    RolloutKey {
        cluster,
        namespace,
        name,
    }
}

#[utoipa::path(get, path = "/api/v1/rollouts", tag = "rollouts",
    summary = "Every Rollout bosun drives, on every connected cluster",
    responses((status = 200, body = RolloutList), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<Shared>) -> Json<RolloutList> {
    Json(RolloutList {
        items: state
            .rollouts
            .list()
            .iter()
            .map(|(key, object)| summary(key, object))
            .collect(),
    })
}

#[utoipa::path(get, path = "/api/v1/rollouts/{cluster}/{namespace}/{name}", tag = "rollouts",
    summary = "One Rollout: its steps and its revisions",
    params(("cluster" = String, Path), ("namespace" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = RolloutView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<Shared>,
    Path((cluster, namespace, name)): Path<(String, String, String)>,
) -> ApiResult<Json<RolloutView>> {
    view(&state, &key(cluster, namespace, name)).map(Json)
}

/// One Rollout's view: the API's answer, and what the web UI shows on its Application's page.
pub(crate) fn view(state: &Shared, key: &RolloutKey) -> ApiResult<RolloutView> {
    let (object, replica_sets) = state.rollouts.get(key)?;
    let summary = summary(key, &object);
    let blue_green = summary.strategy == "blueGreen";
    let revisions: Vec<RolloutRevision> = replica_sets
        .iter()
        .map(|rs| revision(rs, &summary, blue_green))
        .collect();
    Ok(RolloutView {
        weights: (!blue_green).then(|| weights(&object, &revisions)),
        revisions,
        steps: object["spec"]["strategy"]["canary"]["steps"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        analysis_runs: state
            .rollouts
            .analysis_runs(key)
            .iter()
            .map(analysis_run)
            .collect(),
        summary,
        object,
    })
}

/// A canary's traffic split: the router's weights where one carries them, else the canary's
/// and the stable's share of their desired pods (all stable when there is no canary).
fn weights(object: &Value, revisions: &[RolloutRevision]) -> RolloutWeights {
    let routed = &object["status"]["canary"]["weights"];
    if let Some(canary) = routed["canary"]["weight"].as_i64() {
        return RolloutWeights {
            canary,
            stable: routed["stable"]["weight"].as_i64().unwrap_or(100 - canary),
            source: "trafficRouting".into(),
        };
    }
    let pods = |role: &str| -> i64 {
        revisions
            .iter()
            .filter(|r| r.role == role)
            .map(|r| r.desired)
            .sum()
    };
    let (canary, stable) = (pods("canary"), pods("stable"));
    let canary = match canary + stable {
        0 => 0,
        total => (canary * 100 + total / 2) / total,
    };
    RolloutWeights {
        canary,
        stable: 100 - canary,
        source: "replicas".into(),
    }
}

/// The Rollouts named `namespace/name` on any cluster (an Application's managed Rollouts).
pub(crate) fn find(state: &Shared, namespace: &str, name: &str) -> Vec<RolloutKey> {
    state
        .rollouts
        .list()
        .into_iter()
        .map(|(key, _)| key)
        .filter(|key| key.namespace == namespace && key.name == name)
        .collect()
}

fn analysis_run(run: &Value) -> AnalysisRunSummary {
    let labels = &run["metadata"]["labels"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    AnalysisRunSummary {
        name: text(&run["metadata"]["name"]),
        rollout_type: text(&labels["rollout-type"]),
        step_index: labels["step-index"].as_str().and_then(|i| i.parse().ok()),
        pod_template_hash: text(&labels[HASH_LABEL]),
        phase: run["status"]["phase"]
            .as_str()
            .unwrap_or("Pending")
            .to_string(),
        message: text(&run["status"]["message"]),
        metric_results: run["status"]["metricResults"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
    }
}

#[utoipa::path(post, path = "/api/v1/rollouts/{cluster}/{namespace}/{name}/{action}", tag = "rollouts",
    summary = "promote, promote-full, abort, retry, pause, resume, undo or restart (deployer)",
    params(("cluster" = String, Path), ("namespace" = String, Path), ("name" = String, Path),
        ("action" = String, Path, description = "promote, promote-full, abort, retry, pause, resume, undo, restart")),
    request_body(content = Option<UndoRequest>, description = "undo only: the revision to go back to"),
    responses((status = 200, body = RolloutView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn act(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((cluster, namespace, name, action)): Path<(String, String, String, String)>,
    bytes: Bytes,
) -> ApiResult<Json<RolloutView>> {
    let key = key(cluster, namespace, name);
    let subject = format!("rollout/{key}");
    require(&state, &caller, Role::Deployer, &action, &subject)?;
    let mut parsed: RolloutAction = action
        .parse()
        .map_err(|e: String| ApiError(StatusCode::BAD_REQUEST, e))?;
    if let RolloutAction::Undo { to_revision } = &mut parsed {
        let request: UndoRequest = body(&bytes)?;
        *to_revision = request.to_revision;
    } else if !bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("request body: `{action}` takes no body"),
        ));
    }
    let _ = state.controller.audit(&caller.name, &action, &subject, "");
    state.rollouts.act(&key, &parsed).await?;
    get(State(state), Path((key.cluster, key.namespace, key.name))).await
}

#[derive(serde::Deserialize, Default)]
pub struct StreamQuery {
    #[serde(default)]
    changes: bool,
}

#[utoipa::path(get, path = "/api/v1/stream/rollouts", tag = "rollouts",
    summary = "Server-sent events: a RolloutWatchEvent at every change of phase, step or message",
    params(("changes" = Option<bool>, Query, description = "true: also at every other change of the Rollout, its ReplicaSets or its AnalysisRuns (weights, pods, measurements), each event saying where the Rollout is then")),
    responses((status = 200, description = "text/event-stream of RolloutWatchEvent"),
        (status = 401, body = ErrorBody)))]
pub async fn stream(
    State(state): State<Shared>,
    Query(query): Query<StreamQuery>,
) -> Sse<KeepAliveStream<futures::stream::BoxStream<'static, Result<Event, Infallible>>>> {
    let event = |wire: RolloutWatchEvent| -> Result<Event, Infallible> {
        Ok(Event::default().data(serde_json::to_string(&wire).unwrap_or_default()))
    };
    if query.changes {
        let receiver = state.rollouts.subscribe_changes();
        let events =
            futures::stream::unfold((receiver, state), move |(mut receiver, state)| async move {
                loop {
                    match receiver.recv().await {
                        Ok(key) => {
                            // Gone meanwhile: nothing to say.
                            let Ok((object, _)) = state.rollouts.get(&key) else {
                                continue;
                            };
                            let summary = summary(&key, &object);
                            let wire = RolloutWatchEvent {
                                cluster: summary.cluster,
                                namespace: summary.namespace,
                                name: summary.name,
                                phase: summary.phase,
                                message: summary.message,
                                step: summary.step,
                            };
                            return Some((event(wire), (receiver, state)));
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    }
                }
            });
        return Sse::new(events.boxed()).keep_alive(KeepAlive::default());
    }
    let receiver = state.rollouts.subscribe();
    let events = futures::stream::unfold(receiver, move |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(e) => {
                    let wire = RolloutWatchEvent {
                        cluster: e.key.cluster,
                        namespace: e.key.namespace,
                        name: e.key.name,
                        phase: e.phase,
                        message: e.message,
                        step: e.step,
                    };
                    return Some((event(wire), receiver));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(events.boxed()).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn revision(role: &str, desired: i64) -> RolloutRevision {
        RolloutRevision {
            revision: 1,
            replica_set: String::new(),
            hash: String::new(),
            role: role.into(),
            desired,
            ready: desired,
            available: desired,
            scale_down_deadline: None,
        }
    }

    #[test]
    fn weights_are_the_routers_else_the_split_of_the_pods() {
        let routed = json!({"status": {"canary": {"weights": {
            "canary": {"weight": 25}, "stable": {"weight": 75}}}}});
        let w = weights(&routed, &[revision("stable", 4), revision("canary", 1)]);
        assert_eq!(
            (w.canary, w.stable, w.source.as_str()),
            (25, 75, "trafficRouting")
        );
        let w = weights(
            &json!({}),
            &[
                revision("stable", 4),
                revision("canary", 1),
                revision("old", 3),
            ],
        );
        assert_eq!(
            (w.canary, w.stable, w.source.as_str()),
            (20, 80, "replicas")
        );
        let w = weights(&json!({}), &[revision("stable", 5)]);
        assert_eq!((w.canary, w.stable), (0, 100));
        let w = weights(&json!({}), &[]);
        assert_eq!((w.canary, w.stable), (0, 100));
    }
}
