//! One object of an Application, under Argo CD's paths: its live manifest
//! (`/api/v1/applications/{name}/resource`), its Kubernetes Events (`.../events`) and its Pods'
//! container logs (`.../logs`). Reading is enough (read-only role). The web UI's resource page
//! calls the functions below that build these answers, so both show the same thing.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use bosun_api::{ErrorBody, PodLogList, ResourceEventList, ResourceManifest};
use bosun_controller::inspect::{LogOptions, ObjectRef};
use serde::Deserialize;

use crate::api::{ApiError, ApiResult, Shared};

/// Which object: Argo CD's query parameters (`resourceNamespace` is the events endpoint's name
/// for `namespace`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ObjectQuery {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default, alias = "resourceNamespace")]
    pub namespace: String,
    #[serde(default)]
    pub resource_name: String,
    /// The resource endpoint's: leave `metadata.managedFields` out of the manifest.
    #[serde(default)]
    pub hide_managed_fields: bool,
}

impl ObjectQuery {
    pub(crate) fn object(&self) -> ApiResult<ObjectRef> {
        for (field, value) in [("kind", &self.kind), ("resourceName", &self.resource_name)] {
            if value.trim().is_empty() {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    format!("query: {field} is required"),
                ));
            }
        }
        Ok(ObjectRef {
            group: self.group.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.resource_name.clone(),
        })
    }
}

/// The log endpoint's query: a Pod (`podName`), or a workload whose Pods' logs are wanted
/// (`group`, `kind`, `resourceName`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogQuery {
    #[serde(default)]
    pub pod_name: String,
    // Not `#[serde(flatten)]` of an ObjectQuery: a flattened query reads every value as a
    // string, and `tailLines` and `previous` would not parse.
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub resource_name: String,
    #[serde(default)]
    pub container: String,
    pub tail_lines: Option<i64>,
    #[serde(default)]
    pub previous: bool,
}

impl LogQuery {
    pub(crate) fn object(&self) -> ApiResult<ObjectRef> {
        if !self.pod_name.is_empty() {
            return Ok(ObjectRef {
                group: String::new(),
                kind: "Pod".into(),
                namespace: self.namespace.clone(),
                name: self.pod_name.clone(),
            });
        }
        if self.resource_name.is_empty() {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                "query: podName, or kind and resourceName, is required".into(),
            ));
        }
        ObjectQuery {
            group: self.group.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            resource_name: self.resource_name.clone(),
            hide_managed_fields: false,
        }
        .object()
    }

    pub(crate) fn options(&self) -> ApiResult<LogOptions> {
        if let Some(n) = self.tail_lines
            && !(1..=bosun_controller::inspect::MAX_TAIL_LINES).contains(&n)
        {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!(
                    "query: tailLines: {n} is not between 1 and {}",
                    bosun_controller::inspect::MAX_TAIL_LINES
                ),
            ));
        }
        Ok(LogOptions {
            container: (!self.container.is_empty()).then(|| self.container.clone()),
            tail_lines: self.tail_lines,
            previous: self.previous,
        })
    }
}

/// The live manifest of `object` of `app`, as YAML, Secret values masked; without
/// `metadata.managedFields` when `hide_managed_fields` (long, and rarely what a reader wants).
pub(crate) async fn manifest_of(
    state: &Shared,
    app: &str,
    object: &ObjectRef,
    hide_managed_fields: bool,
) -> ApiResult<ResourceManifest> {
    let mut live = state.controller.resource(app, object).await?;
    if hide_managed_fields
        && let Some(metadata) = live
            .get_mut("metadata")
            .and_then(serde_json::Value::as_object_mut)
    {
        metadata.remove("managedFields");
    }
    Ok(ResourceManifest {
        manifest: bosun_plan::text::to_yaml(&live),
    })
}

pub(crate) async fn events_of(
    state: &Shared,
    app: &str,
    object: &ObjectRef,
) -> ApiResult<ResourceEventList> {
    Ok(ResourceEventList {
        items: state.controller.resource_events(app, object).await?,
    })
}

pub(crate) async fn logs_of(
    state: &Shared,
    app: &str,
    object: &ObjectRef,
    options: &LogOptions,
) -> ApiResult<PodLogList> {
    Ok(PodLogList {
        items: state.controller.pod_logs(app, object, options).await?,
    })
}

#[utoipa::path(get, path = "/api/v1/applications/{name}/resource", tag = "applications",
    summary = "One object of the Application's resource tree as it is live, as YAML; Secret values masked",
    params(("name" = String, Path, description = "the Application"),
        ("group" = Option<String>, Query, description = "API group; empty for the core group"),
        ("kind" = String, Query, description = "the object's kind"),
        ("namespace" = Option<String>, Query, description = "empty for a cluster-scoped object"),
        ("resourceName" = String, Query, description = "the object's name"),
        ("hideManagedFields" = Option<bool>, Query, description = "leave metadata.managedFields out")),
    responses((status = 200, body = ResourceManifest), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub(crate) async fn resource(
    State(state): State<Shared>,
    Path(name): Path<String>,
    Query(query): Query<ObjectQuery>,
) -> ApiResult<Json<ResourceManifest>> {
    let object = query.object()?;
    Ok(Json(
        manifest_of(&state, &name, &object, query.hide_managed_fields).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/applications/{name}/events", tag = "applications",
    summary = "The Kubernetes Events of one object of the Application's resource tree, oldest first",
    params(("name" = String, Path, description = "the Application"),
        ("group" = Option<String>, Query, description = "API group; empty for the core group"),
        ("kind" = String, Query, description = "the object's kind"),
        ("namespace" = Option<String>, Query, description = "empty for a cluster-scoped object (also resourceNamespace)"),
        ("resourceName" = String, Query, description = "the object's name")),
    responses((status = 200, body = ResourceEventList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub(crate) async fn events(
    State(state): State<Shared>,
    Path(name): Path<String>,
    Query(query): Query<ObjectQuery>,
) -> ApiResult<Json<ResourceEventList>> {
    Ok(Json(events_of(&state, &name, &query.object()?).await?))
}

#[utoipa::path(get, path = "/api/v1/applications/{name}/logs", tag = "applications",
    summary = "Container logs of a Pod of the Application, or of the Pods below one of its workloads",
    params(("name" = String, Path, description = "the Application"),
        ("podName" = Option<String>, Query, description = "a Pod of the Application's tree"),
        ("group" = Option<String>, Query, description = "without podName: the workload's API group"),
        ("kind" = Option<String>, Query, description = "without podName: the workload's kind"),
        ("namespace" = Option<String>, Query, description = "the Pod's or workload's namespace"),
        ("resourceName" = Option<String>, Query, description = "without podName: the workload's name"),
        ("container" = Option<String>, Query, description = "one container; all of each Pod's otherwise"),
        ("tailLines" = Option<i64>, Query, description = "the last this many lines (100; at most 10000)"),
        ("previous" = Option<bool>, Query, description = "the run before the last restart")),
    responses((status = 200, body = PodLogList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub(crate) async fn logs(
    State(state): State<Shared>,
    Path(name): Path<String>,
    Query(query): Query<LogQuery>,
) -> ApiResult<Json<PodLogList>> {
    let options = query.options()?;
    Ok(Json(
        logs_of(&state, &name, &query.object()?, &options).await?,
    ))
}
