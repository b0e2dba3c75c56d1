//! The routes of `bosun serve`, under Argo CD's paths where the same thing exists
//! (`/api/v1/applications`, `/api/v1/applications/{name}/sync`, `/api/v1/stream/applications`).
//!
//! Without a valid bearer token only `/healthz`, `/readyz` and `/metrics` answer (and the
//! webhook, which proves itself with its signature). Read-only tokens read; deployer tokens also
//! sync, refresh and roll back; admin tokens also read the audit log. Every refused call is
//! audited.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use bosun_controller::{Controller, ControllerError, OperationRequest};
use bosun_model::Role;
use bosun_record::OperationKind;
use futures::Stream;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::auth::{Caller, Tokens};
use crate::webhook;

/// Everything a handler needs.
pub struct ApiState {
    pub controller: Arc<Controller>,
    pub tokens: Tokens,
    /// GitHub's webhook secret; `None` refuses every webhook.
    pub webhook_secret: Option<Vec<u8>>,
}

type Shared = Arc<ApiState>;

/// An error answer: `{"error": message, "code": status}`.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(json!({"error": self.1, "code": self.0.as_u16()})),
        )
            .into_response()
    }
}

impl From<ControllerError> for ApiError {
    fn from(e: ControllerError) -> Self {
        let code = match &e {
            ControllerError::NotFound(_) => StatusCode::NOT_FOUND,
            ControllerError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ControllerError::Store(_) | ControllerError::Engine(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError(code, e.to_string())
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The OpenAPI description of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

pub fn router(state: Shared) -> Router {
    let authenticated = Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/applications", get(list))
        .route("/api/v1/applications/{name}", get(get_app))
        .route(
            "/api/v1/applications/{name}/resource-tree",
            get(resource_tree),
        )
        .route("/api/v1/applications/{name}/diff", get(diff))
        .route("/api/v1/applications/{name}/history", get(history))
        .route("/api/v1/applications/{name}/sync", post(sync))
        .route("/api/v1/applications/{name}/refresh", post(refresh))
        .route("/api/v1/applications/{name}/rollback", post(rollback))
        .route("/api/v1/refresh", post(refresh_repository))
        .route("/api/v1/stream/applications", get(stream))
        .route("/api/v1/audit", get(audit))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/api/webhook", post(github_webhook))
        .merge(authenticated)
        .with_state(state)
}

async fn authenticate(State(state): State<Shared>, mut request: Request, next: Next) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match state.tokens.caller(header) {
        Some(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        None => ApiError(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is required (Authorization: Bearer <token>)".into(),
        )
        .into_response(),
    }
}

fn require(
    state: &ApiState,
    caller: &Caller,
    role: Role,
    action: &str,
    app: &str,
) -> ApiResult<()> {
    if caller.role >= role {
        return Ok(());
    }
    let _ = state.controller.store().audit(
        &caller.name,
        &format!("{action}-refused"),
        app,
        &format!("role {} may not {action}", caller.role.as_str()),
    );
    Err(ApiError(
        StatusCode::FORBIDDEN,
        format!(
            "{} ({}) may not {action}: it needs the {} role",
            caller.name,
            caller.role.as_str(),
            role.as_str()
        ),
    ))
}

/// A JSON body decoded strictly: unknown fields and wrong types are 400s naming the field.
fn body<T: DeserializeOwned + Default>(bytes: &Bytes) -> ApiResult<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        ApiError(
            StatusCode::BAD_REQUEST,
            if path == "." {
                format!("request body: {}", e.inner())
            } else {
                format!("request body: {path}: {}", e.inner())
            },
        )
    })
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn metrics(State(state): State<Shared>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.controller.metrics_text(),
    )
        .into_response()
}

async fn list(State(state): State<Shared>) -> Json<Value> {
    Json(json!({"items": state.controller.list()}))
}

#[derive(Deserialize, Default)]
struct GetQuery {
    /// Argo CD's `?refresh=normal|hard`: compare now before answering.
    refresh: Option<String>,
}

async fn get_app(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(query): Query<GetQuery>,
) -> ApiResult<Json<Value>> {
    if query.refresh.is_some() {
        require(&state, &caller, Role::Deployer, "refresh", &name)?;
        return Ok(Json(state.controller.refresh(&name).await?));
    }
    Ok(Json(state.controller.get(&name)?))
}

/// The Application's managed resources and what their controllers created, as nodes with
/// `parentRefs` (Argo CD's resource tree).
async fn resource_tree(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let nodes = state.controller.resource_tree(&name).await?;
    Ok(Json(json!({"nodes": nodes})))
}

async fn diff(State(state): State<Shared>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(state.controller.diff(&name).await?))
}

async fn history(State(state): State<Shared>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"items": state.controller.history(&name)?})))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SyncBody {
    #[serde(default)]
    prune: bool,
    #[serde(default)]
    dry_run: bool,
}

async fn sync(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let request: SyncBody = body(&bytes)?;
    require(&state, &caller, Role::Deployer, "sync", &name)?;
    state.controller.get(&name)?;
    let _ = state.controller.store().audit(
        &caller.name,
        "sync",
        &name,
        &format!("prune={} dryRun={}", request.prune, request.dry_run),
    );
    let op = state
        .controller
        .run(
            &name,
            OperationRequest {
                kind: OperationKind::Sync,
                initiated_by: caller.name.clone(),
                revisions: None,
                prune: request.prune,
                dry_run: request.dry_run,
                rollback_of: None,
            },
        )
        .await?;
    Ok(Json(
        json!({"operation": op, "application": state.controller.get(&name)?}),
    ))
}

async fn refresh(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    require(&state, &caller, Role::Deployer, "refresh", &name)?;
    Ok(Json(state.controller.refresh(&name).await?))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RollbackBody {
    id: i64,
    #[serde(default)]
    prune: bool,
}

async fn rollback(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let request: RollbackBody = body(&bytes)?;
    require(&state, &caller, Role::Deployer, "rollback", &name)?;
    let _ = state.controller.store().audit(
        &caller.name,
        "rollback",
        &name,
        &format!("to history entry {}", request.id),
    );
    let op = state
        .controller
        .rollback(&name, request.id, &caller.name, request.prune)
        .await?;
    Ok(Json(
        json!({"operation": op, "application": state.controller.get(&name)?}),
    ))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RepositoryRefresh {
    #[serde(rename = "repoURL")]
    repo_url: String,
    /// `refs/heads/main`; empty: every Application of the repository.
    #[serde(default, rename = "ref")]
    pushed_ref: String,
}

/// The generic, authenticated form of the webhook: "this repository changed".
async fn refresh_repository(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    bytes: Bytes,
) -> ApiResult<Json<Value>> {
    let request: RepositoryRefresh = body(&bytes)?;
    require(&state, &caller, Role::Deployer, "refresh", "")?;
    if request.repo_url.trim().is_empty() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "request body: repoURL: must not be empty".into(),
        ));
    }
    let refreshed = if request.pushed_ref.is_empty() {
        state.controller.repository_changed(&request.repo_url)
    } else {
        state
            .controller
            .pushed(&request.repo_url, &request.pushed_ref, "")
    };
    Ok(Json(json!({"refreshed": refreshed})))
}

async fn github_webhook(State(state): State<Shared>, headers: HeaderMap, bytes: Bytes) -> Response {
    let event = headers
        .get("x-github-event")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(secret) = &state.webhook_secret else {
        return ApiError(
            StatusCode::FORBIDDEN,
            webhook::WebhookError::NoSecret.to_string(),
        )
        .into_response();
    };
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if let Err(e) = webhook::verify(secret, &bytes, signature) {
        // Logged, not audited: anyone can send these, and the audit log must not be theirs to fill.
        tracing::warn!(error = %e, "webhook refused");
        return ApiError(StatusCode::UNAUTHORIZED, e.to_string()).into_response();
    }
    match event {
        "ping" => return Json(json!({"refreshed": []})).into_response(),
        "push" => {}
        other => {
            return ApiError(
                StatusCode::BAD_REQUEST,
                format!("X-GitHub-Event {other:?}: only push (and ping) events are handled"),
            )
            .into_response();
        }
    }
    let push = match webhook::parse_push(&bytes) {
        Ok(push) => push,
        Err(e) => return ApiError(StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let mut refreshed: Vec<String> = Vec::new();
    for url in &push.urls {
        for name in state
            .controller
            .pushed(url, &push.pushed_ref, &push.default_branch)
        {
            if !refreshed.contains(&name) {
                refreshed.push(name);
            }
        }
    }
    tracing::info!(r#ref = %push.pushed_ref, apps = ?refreshed, "webhook push");
    Json(json!({"refreshed": refreshed})).into_response()
}

/// Server-sent events: one `MODIFIED`/`DELETED` event per status change.
async fn stream(State(state): State<Shared>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.controller.subscribe();
    let events = futures::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(event) => {
                    let data = serde_json::to_string(&json!({"result": event})).unwrap_or_default();
                    return Some((Ok(Event::default().data(data)), receiver));
                }
                // A slow client missed events; the next one carries the full status anyway.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

#[derive(Deserialize, Default)]
struct AuditQuery {
    limit: Option<usize>,
}

async fn audit(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<Value>> {
    require(&state, &caller, Role::Admin, "read the audit log", "")?;
    let entries = state
        .controller
        .store()
        .audit_log(query.limit.unwrap_or(100))
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(json!({"items": entries})))
}
