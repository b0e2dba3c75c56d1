//! `GET /api/v1/namespaces/{ns}/pods/{name}/log`: what the simulated container "printed", made
//! from the Pod's status as the simulated kubelet wrote it (no container runs, so there is no
//! real output): a line when it started, one when its readiness probe first passed (or failed,
//! for `never-ready`), one when it exited with its code. `previous=true` answers the run
//! before the last restart (`lastState.terminated`). `container`, `tailLines` and `timestamps`
//! are honoured; `follow=true` answers what exists and closes; `sinceSeconds`, `sinceTime` and
//! `limitBytes` are ignored. The errors are the apiserver's: 404 for an unknown Pod, 400 for a
//! container that is not the Pod's, has not started, or has no previous run.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::Request;
use crate::controllers::builtin;
use crate::controllers::kubelet::{Rule, SIMULATE_ANNOTATION};
use crate::server::Shared;
use crate::status::{ApiError, ApiResult};

pub fn pod_log(state: &Shared, namespace: &str, name: &str, req: &Request) -> ApiResult<Response> {
    let pods = builtin(state, "", "v1", "pods");
    let pod = state.objects.get(&pods, namespace, name)?;
    let empty = Vec::new();
    let containers = pod["spec"]["containers"].as_array().unwrap_or(&empty);
    let names: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    let container = match req.param("container") {
        Some(c) => c,
        None if names.len() == 1 => names[0],
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                names.join(" ")
            )));
        }
    };
    let Some(spec) = containers.iter().find(|c| c["name"] == container) else {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        )));
    };
    let status = pod["status"]["containerStatuses"]
        .as_array()
        .and_then(|l| l.iter().find(|c| c["name"] == container));
    let previous = matches!(req.param("previous"), Some("true" | "1"));
    let image = spec["image"].as_str().unwrap_or_default();
    let rule = Rule::of(
        image,
        pod["metadata"]["annotations"][SIMULATE_ANNOTATION].as_str(),
    );
    let delay = state.timing.pod_ready_delay;
    let mut lines: Vec<(jiff::Timestamp, String)> = Vec::new();
    if previous {
        let Some(run) = status
            .map(|s| &s["lastState"]["terminated"])
            .filter(|t| t.is_object())
        else {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )));
        };
        run_lines(&mut lines, container, image, rule, delay, run, true);
    } else {
        let state_of = status.map(|s| &s["state"]);
        match state_of {
            Some(s) if s["running"].is_object() => run_lines(
                &mut lines,
                container,
                image,
                rule,
                delay,
                &s["running"],
                false,
            ),
            Some(s) if s["terminated"].is_object() => run_lines(
                &mut lines,
                container,
                image,
                rule,
                delay,
                &s["terminated"],
                true,
            ),
            // Between two runs (CrashLoopBackOff) the logs are the last run's.
            Some(_) if status.is_some_and(|c| c["lastState"]["terminated"].is_object()) => {
                let run = &status.expect("checked")["lastState"]["terminated"];
                run_lines(&mut lines, container, image, rule, delay, run, true)
            }
            _ => {
                let reason = match state_of.and_then(|s| s["waiting"]["reason"].as_str()) {
                    Some("ErrImagePull" | "ImagePullBackOff") => "trying and failing to pull image",
                    Some(other) => other,
                    None => "ContainerCreating",
                };
                return Err(ApiError::bad_request(format!(
                    "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
                )));
            }
        }
    }
    let now = jiff::Timestamp::now();
    lines.retain(|(t, _)| *t <= now);
    if let Some(tail) = req.param("tailLines").and_then(|n| n.parse::<usize>().ok()) {
        let skip = lines.len().saturating_sub(tail);
        lines.drain(..skip);
    }
    let timestamps = req.param("timestamps") == Some("true");
    let mut body = String::new();
    for (t, line) in lines {
        if timestamps {
            body.push_str(&t.strftime("%Y-%m-%dT%H:%M:%S.%fZ").to_string());
            body.push(' ');
        }
        body.push_str(&line);
        body.push('\n');
    }
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

/// The lines of one run of a container; `run` is its `state.running` or `state.terminated`.
fn run_lines(
    lines: &mut Vec<(jiff::Timestamp, String)>,
    container: &str,
    image: &str,
    rule: Rule,
    ready_delay: Duration,
    run: &Value,
    ended: bool,
) {
    let time = |v: &Value| v.as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let Some(started) = time(&run["startedAt"]) else {
        return;
    };
    lines.push((
        started,
        format!("bosun: container {container:?} started (image {image}, simulated)"),
    ));
    let finished = if ended {
        time(&run["finishedAt"])
    } else {
        None
    };
    let probe_at = started
        .checked_add(jiff::SignedDuration::try_from(ready_delay).unwrap_or_default())
        .unwrap_or(started);
    let exit_code = run["exitCode"].as_i64().unwrap_or(0);
    let probed = finished.is_none_or(|f| probe_at <= f);
    match rule {
        Rule::Normal if exit_code == 0 && probed => {
            lines.push((probe_at, "bosun: readiness probe succeeded".to_string()))
        }
        Rule::NeverReady if probed => lines.push((
            probe_at,
            "bosun: readiness probe failed (simulated: rule never-ready)".to_string(),
        )),
        _ => {}
    }
    if let Some(finished) = finished {
        let why = match rule {
            Rule::CrashLoop => " (simulated: rule crashloop)",
            Rule::Fail => " (simulated: rule fail)",
            _ => "",
        };
        lines.push((
            finished,
            format!("bosun: container {container:?} exited with code {exit_code}{why}"),
        ));
    }
}
