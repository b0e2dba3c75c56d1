//! The routes of `bosun serve`, under Argo CD's paths where the same thing exists
//! (`/api/v1/applications`, `/api/v1/applications/{name}/sync`, `/api/v1/stream/applications`).
//!
//! Without a valid bearer token only `/healthz`, `/readyz` and `/metrics` answer (and the
//! webhook, which proves itself with its signature). Read-only tokens read; deployer tokens also
//! sync, refresh and roll back; admin tokens also create, update and delete Applications and
//! read the audit log. Every refused call is
//! audited.

use std::convert::Infallible;
use std::sync::{Arc, LazyLock};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use bosun_api::{
    Application, ApplicationList, ApplicationWatchEvent, AuditEntry, AuditLog, Catalog, ErrorBody,
    OperationList, OperationResponse, Refreshed, RepositoryRefresh, ResourceTree, RollbackRequest,
    SyncRequest,
};
use bosun_controller::status::operation;
use bosun_controller::{Controller, ControllerError, ObjectWrite, OperationRequest};
use bosun_model::Role;
use bosun_record::OperationKind;
use futures::Stream;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::auth::{Caller, Tokens};
use crate::webhook;

/// Everything a handler needs.
pub struct ApiState {
    pub controller: Arc<Controller>,
    pub rollouts: Arc<bosun_rollout::RolloutController>,
    pub tokens: Tokens,
    /// GitHub's webhook secret; `None` refuses every webhook.
    pub webhook_secret: Option<Vec<u8>>,
    /// The image update loop (watched images, checks, registry pushes).
    pub images: Arc<bosun_images::updater::ImageUpdater>,
    /// The registry webhook's secret; `None` refuses every registry webhook.
    pub registry_webhook_secret: Option<Vec<u8>>,
    /// The web UI's signed-in browsers.
    pub sessions: crate::ui::Sessions,
    /// GitHub webhook deliveries received lately, so a replayed one is not acted on again.
    pub deliveries: webhook::Deliveries,
}

pub(crate) type Shared = Arc<ApiState>;

/// An error answer: [`ErrorBody`] `{"code": status, "message": ...}`.
pub struct ApiError(pub(crate) StatusCode, pub(crate) String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(ErrorBody {
                code: self.0.as_u16(),
                message: self.1,
            }),
        )
            .into_response()
    }
}

impl From<ControllerError> for ApiError {
    fn from(e: ControllerError) -> Self {
        let code = match &e {
            ControllerError::NotFound(_) | ControllerError::NoSuchResource(_) => {
                StatusCode::NOT_FOUND
            }
            ControllerError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ControllerError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ControllerError::StatusWrite(_) => StatusCode::BAD_GATEWAY,
            ControllerError::Conflict(_) => StatusCode::CONFLICT,
            ControllerError::Store(_) | ControllerError::Engine(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError(code, e.to_string())
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The OpenAPI description of this API, generated from the handlers' `#[utoipa::path]`s and
/// bosun-api's types.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "bosun API",
        version = "1",
        description = "bosun serve: Applications (Argo CD's paths and shapes where the same thing exists), sync, rollback, history, events, webhooks; Argo Rollouts' Rollouts and their actions. Bearer tokens from the config carry a role: read-only, deployer (sync, refresh, rollback) or admin. Every failure answers ErrorBody."
    ),
    paths(
        healthz, readyz, metrics, github_webhook, openapi, list, catalog, get_app, create_app,
        update_app,
        delete_app, resource_tree, diff, crate::inspect::resource, crate::inspect::events,
        crate::inspect::logs,
        history, sync, refresh, rollback, refresh_repository, stream, audit,
        crate::rollouts::list, crate::rollouts::get, crate::rollouts::act, crate::rollouts::stream,
        crate::images::list, crate::images::get, crate::images::check, crate::images::registry_webhook
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

/// The bearer-token scheme the document's `security` names, and a description for every
/// response (OpenAPI requires one; the status's reason phrase where a handler gives none).
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                for (status, response) in &mut operation.responses.responses {
                    if let RefOr::T(response) = response
                        && response.description.is_empty()
                    {
                        response.description = status
                            .parse::<StatusCode>()
                            .ok()
                            .and_then(|s| s.canonical_reason())
                            .unwrap_or("response")
                            .to_string();
                    }
                }
            }
        }
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

/// The document, generated once.
static OPENAPI: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .expect("the OpenAPI document serialises")
});

pub fn router(state: Shared) -> Router {
    let authenticated = Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/applications", get(list).post(create_app))
        .route("/api/v1/catalog", get(catalog))
        .route(
            "/api/v1/applications/{name}",
            get(get_app).put(update_app).delete(delete_app),
        )
        .route(
            "/api/v1/applications/{name}/resource-tree",
            get(resource_tree),
        )
        .route("/api/v1/applications/{name}/diff", get(diff))
        .route("/api/v1/applications/{name}/history", get(history))
        .route(
            "/api/v1/applications/{name}/resource",
            get(crate::inspect::resource),
        )
        .route(
            "/api/v1/applications/{name}/events",
            get(crate::inspect::events),
        )
        .route(
            "/api/v1/applications/{name}/logs",
            get(crate::inspect::logs),
        )
        .route("/api/v1/applications/{name}/sync", post(sync))
        .route("/api/v1/applications/{name}/refresh", post(refresh))
        .route("/api/v1/applications/{name}/rollback", post(rollback))
        .route("/api/v1/refresh", post(refresh_repository))
        .route("/api/v1/stream/applications", get(stream))
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/rollouts", get(crate::rollouts::list))
        .route(
            "/api/v1/rollouts/{cluster}/{namespace}/{name}",
            get(crate::rollouts::get),
        )
        .route(
            "/api/v1/rollouts/{cluster}/{namespace}/{name}/{action}",
            post(crate::rollouts::act),
        )
        .route("/api/v1/stream/rollouts", get(crate::rollouts::stream))
        .route("/api/v1/images", get(crate::images::list))
        .route("/api/v1/images/{name}", get(crate::images::get))
        .route("/api/v1/images/{name}/check", post(crate::images::check))
        // What reads or changes Applications waits for the first catalog load: before it, a
        // list would be empty and a get a 404. Who asks is checked first (the outer layer): a
        // bad token is refused at once, not after the wait.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            after_first_catalog_load,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    let ui = crate::ui::routes().layer(middleware::from_fn_with_state(
        state.clone(),
        after_first_catalog_load,
    ));
    // The webhooks check their signature, then wait (see [`first_catalog_load`]). The probes
    // and metrics answer at once.
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/webhook", post(github_webhook))
        .route(
            "/api/webhook/registry",
            post(crate::images::registry_webhook),
        )
        .merge(ui)
        .merge(authenticated)
        .with_state(state);
    with_error_bodies(routes)
}

/// How long a request waits for the first catalog load before it is answered 503: a source
/// that hangs (an app-of-apps repository behind a stalled network, up to the 5-minute Git
/// timeout) must not hold every API call and webhook as long. GitHub gives a webhook 10 s.
const FIRST_LOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

async fn after_first_catalog_load(
    State(state): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    match first_catalog_load(&state).await {
        Ok(()) => next.run(request).await,
        Err(response) => response,
    }
}

/// Waits for the first catalog load (up to [`FIRST_LOAD_WAIT`]), or the 503 to answer, with a
/// Retry-After. A webhook waits after its signature is checked and before its delivery id is
/// remembered, so a delivery answered 503 is acted on when it is sent again.
pub(crate) async fn first_catalog_load(state: &Shared) -> Result<(), Response> {
    first_load(state.controller.catalog_loaded(), FIRST_LOAD_WAIT)
        .await
        .map_err(|e| {
            let mut response = e.into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            response
        })
}

/// Waits for `loaded` up to `bound`; then a 503 that says what is awaited and where to look.
async fn first_load(
    loaded: impl std::future::Future<Output = ()>,
    bound: std::time::Duration,
) -> Result<(), ApiError> {
    tokio::time::timeout(bound, loaded).await.map_err(|_| {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the Applications are still loading: the first catalog load has not finished after {} s (a slow or unreachable source; see /readyz); try again shortly",
                bound.as_secs()
            ),
        )
    })
}

/// Unknown paths and wrong methods answer [`ErrorBody`], and so does every other error response
/// that is not JSON yet (see [`error_bodies`]).
fn with_error_bodies(routes: Router) -> Router {
    routes
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(middleware::from_fn(error_bodies))
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!("no route for {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// The largest error body that is turned into a message; axum's rejections are one line.
const ERROR_TEXT_LIMIT: usize = 64 * 1024;

/// Every failure answers [`ErrorBody`]: an error response that is not JSON (axum's rejections —
/// a body over the limit, a query string or path that does not decode) is rewritten, its text
/// becoming the message. Headers other than the body's own are kept.
async fn error_bodies(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    // JSON already, or a page of the web UI (its sign-in refusal, its not-found page).
    let formed = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| {
            v.as_bytes().starts_with(b"application/json") || v.as_bytes().starts_with(b"text/html")
        });
    if !(status.is_client_error() || status.is_server_error()) || formed {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, ERROR_TEXT_LIMIT)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    let body = serde_json::to_vec(&ErrorBody {
        code: status.as_u16(),
        message,
    })
    .unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}

/// A bearer token, or a browser session of the web UI. A session is a cookie the browser sends
/// by itself, so a request that changes something must also carry the session's CSRF token
/// (`X-CSRF-Token`), which only the UI's own pages know.
async fn authenticate(State(state): State<Shared>, mut request: Request, next: Next) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(caller) = state.tokens.caller(header) {
        request.extensions_mut().insert(caller);
        return next.run(request).await;
    }
    if header.is_none()
        && let Some((_, session)) = state.sessions.from_headers(request.headers())
    {
        let safe = matches!(request.method().as_str(), "GET" | "HEAD" | "OPTIONS");
        let token = request
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !safe && !crate::ui::same(token, &session.csrf) {
            tracing::warn!(caller = %session.caller.name, path = %request.uri().path(), "refused: missing or wrong CSRF token");
            return ApiError(
                StatusCode::FORBIDDEN,
                "a browser session needs its CSRF token (X-CSRF-Token) to change anything".into(),
            )
            .into_response();
        }
        request.extensions_mut().insert(session.caller);
        return next.run(request).await;
    }
    ApiError(
        StatusCode::UNAUTHORIZED,
        "a valid bearer token is required (Authorization: Bearer <token>)".into(),
    )
    .into_response()
}

pub(crate) fn require(
    state: &ApiState,
    caller: &Caller,
    role: Role,
    action: &str,
    app: &str,
) -> ApiResult<()> {
    if caller.role >= role {
        return Ok(());
    }
    let _ = state.controller.audit(
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
pub(crate) fn body<T: DeserializeOwned + Default>(bytes: &Bytes) -> ApiResult<T> {
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

#[utoipa::path(get, path = "/healthz", summary = "Liveness", security(()),
    responses((status = 200, description = "ok", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/readyz",
    summary = "Readiness: 503 until the first load of the Applications, then ok (and the sources that failed to load, one per line)",
    security(()),
    responses((status = 200, description = "ok, then a line per source that failed to load", body = String),
        (status = 503, description = "the Applications are still being loaded", body = String)))]
async fn readyz(State(state): State<Shared>) -> Response {
    let catalog = state.controller.catalog();
    if !catalog.loaded {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: loading the Applications (the first catalog load has not finished)\n",
        )
            .into_response();
    }
    // Ready: the server serves what it has. A source that fails keeps its Applications from
    // the last load that worked, so it is named here rather than made a reason to stop serving.
    let mut body = String::from("ok\n");
    if !catalog.errors.is_empty() {
        body.push_str(&format!(
            "{} error(s) loading Applications:\n",
            catalog.errors.len()
        ));
        for error in &catalog.errors {
            body.push_str(&format!("{}: {}\n", error.source, error.message));
        }
    }
    body.into_response()
}

#[utoipa::path(get, path = "/api/openapi.json", summary = "This document",
    responses((status = 200, description = "OpenAPI document", body = Object),
        (status = 401, body = ErrorBody)))]
async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        OPENAPI.as_str(),
    )
        .into_response()
}

#[utoipa::path(get, path = "/metrics", summary = "Prometheus metrics (OpenMetrics text)", security(()),
    responses((status = 200, description = "metrics", body = String,
        content_type = "application/openmetrics-text")))]
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

#[utoipa::path(get, path = "/api/v1/applications", tag = "applications",
    summary = "List Applications",
    responses((status = 200, body = ApplicationList), (status = 401, body = ErrorBody)))]
async fn list(State(state): State<Shared>) -> Json<ApplicationList> {
    Json(ApplicationList {
        items: state.controller.list(),
    })
}

#[utoipa::path(get, path = "/api/v1/catalog", tag = "applications",
    summary = "Where the Applications come from: whether the first load finished, and the errors of the last one",
    responses((status = 200, body = Catalog), (status = 401, body = ErrorBody)))]
async fn catalog(State(state): State<Shared>) -> Json<Catalog> {
    Json(state.controller.catalog())
}

#[derive(Deserialize, Default)]
struct GetQuery {
    /// Argo CD's `?refresh=normal|hard`: compare now before answering.
    refresh: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/applications/{name}", tag = "applications",
    summary = "Get an Application (refresh=normal|hard compares first; deployer)",
    params(
        ("name" = String, Path, description = "the Application"),
        ("refresh" = Option<String>, Query, description = "normal or hard: compare with Git and the cluster first (deployer)")
    ),
    responses((status = 200, body = Application), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn get_app(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(query): Query<GetQuery>,
) -> ApiResult<Json<Application>> {
    if query.refresh.is_some() {
        require(&state, &caller, Role::Deployer, "refresh", &name)?;
        return Ok(Json(state.controller.refresh(&name).await?));
    }
    Ok(Json(state.controller.get(&name)?))
}

/// A request body that must be JSON (an Application manifest): a syntax error is a 400 naming
/// its line and column.
fn manifest(bytes: &Bytes) -> ApiResult<Value> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("request body: {e}")))
}

#[derive(Deserialize, Default)]
struct CreateQuery {
    /// Argo CD's `?upsert=true`: replace an existing Application whose spec differs.
    #[serde(default)]
    upsert: bool,
}

#[utoipa::path(post, path = "/api/v1/applications", tag = "applications",
    summary = "Create an Application object in a namespace source (admin)",
    description = "The body is an Argo CD Application manifest. It is kept as an argoproj.io/v1alpha1 Application in the namespace it names (or the first `namespace:` entry of bosun.yaml's applications) and managed from there. An existing Application with a different spec is a 409 unless upsert=true.",
    params(("upsert" = Option<bool>, Query, description = "replace an existing Application whose spec differs")),
    request_body(content = Object, description = "an Argo CD Application manifest"),
    responses((status = 200, body = Application), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn create_app(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<CreateQuery>,
    bytes: Bytes,
) -> ApiResult<Json<Application>> {
    let manifest = manifest(&bytes)?;
    let name = manifest["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    require(&state, &caller, Role::Admin, "create", &name)?;
    let app = state
        .controller
        .put_object(
            manifest,
            ObjectWrite::Create {
                upsert: query.upsert,
            },
        )
        .await?;
    let _ = state.controller.audit(
        &caller.name,
        "create",
        &name,
        &format!("upsert={}", query.upsert),
    );
    Ok(Json(app))
}

#[utoipa::path(put, path = "/api/v1/applications/{name}", tag = "applications",
    summary = "Update an Application object: its spec, labels, annotations and finalizers (admin)",
    params(("name" = String, Path, description = "the Application")),
    request_body(content = Object, description = "an Argo CD Application manifest"),
    responses((status = 200, body = Application), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn update_app(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<Application>> {
    let manifest = manifest(&bytes)?;
    require(&state, &caller, Role::Admin, "update", &name)?;
    let app = state
        .controller
        .put_object(manifest, ObjectWrite::Update(&name))
        .await?;
    let _ = state.controller.audit(&caller.name, "update", &name, "");
    Ok(Json(app))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteQuery {
    /// Argo CD's `cascade` (default true): delete the Application's resources first.
    #[serde(default = "yes")]
    cascade: bool,
    /// `foreground` (default) or `background`.
    #[serde(default)]
    propagation_policy: Option<String>,
}

fn yes() -> bool {
    true
}

#[utoipa::path(delete, path = "/api/v1/applications/{name}", tag = "applications",
    summary = "Delete an Application object; with cascade (the default) its resources first (admin)",
    params(("name" = String, Path, description = "the Application"),
        ("cascade" = Option<bool>, Query, description = "delete the resources first (default true)"),
        ("propagationPolicy" = Option<String>, Query, description = "foreground (default) or background")),
    responses((status = 200, description = "the deletion is under way", body = Object),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn delete_app(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(query): Query<DeleteQuery>,
) -> ApiResult<Json<Value>> {
    let propagation = match query.propagation_policy.as_deref() {
        None | Some("foreground") => bosun_model::PropagationPolicy::Foreground,
        Some("background") => bosun_model::PropagationPolicy::Background,
        Some(other) => {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!("propagationPolicy: {other:?} is not foreground or background"),
            ));
        }
    };
    require(&state, &caller, Role::Admin, "delete", &name)?;
    state
        .controller
        .delete_object(&name, query.cascade, propagation)
        .await?;
    let _ = state.controller.audit(
        &caller.name,
        "delete",
        &name,
        &format!(
            "cascade={} propagationPolicy={}",
            query.cascade,
            query.propagation_policy.as_deref().unwrap_or("foreground")
        ),
    );
    Ok(Json(json!({})))
}

/// The Application's managed resources and what their controllers created, as nodes with
/// `parentRefs` (Argo CD's resource tree).
#[utoipa::path(get, path = "/api/v1/applications/{name}/resource-tree", tag = "applications",
    summary = "Managed resources and what their controllers created, as nodes",
    params(("name" = String, Path, description = "the Application")),
    responses((status = 200, body = ResourceTree), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 500, body = ErrorBody)))]
async fn resource_tree(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> ApiResult<Json<ResourceTree>> {
    let nodes = state.controller.resource_tree(&name).await?;
    // The controller builds the nodes as JSON from the live objects; reading them back through
    // the wire type is what holds them to the documented shape.
    let nodes = serde_json::from_value(Value::Array(nodes)).map_err(|e| {
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("resource tree: {e}"),
        )
    })?;
    Ok(Json(ResourceTree { nodes }))
}

#[utoipa::path(get, path = "/api/v1/applications/{name}/diff", tag = "applications",
    summary = "Desired versus live, Secret values masked",
    params(("name" = String, Path, description = "the Application")),
    responses((status = 200, description = "the plan: inSync and one entry per resource", body = Object),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 500, body = ErrorBody)))]
async fn diff(State(state): State<Shared>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(state.controller.diff(&name).await?))
}

#[utoipa::path(get, path = "/api/v1/applications/{name}/history", tag = "applications",
    summary = "Operations, newest first",
    params(("name" = String, Path, description = "the Application")),
    responses((status = 200, body = OperationList), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn history(
    State(state): State<Shared>,
    Path(name): Path<String>,
) -> ApiResult<Json<OperationList>> {
    let items = state.controller.history(&name)?;
    Ok(Json(OperationList {
        items: items.iter().map(operation).collect(),
    }))
}

#[utoipa::path(post, path = "/api/v1/applications/{name}/sync", tag = "applications",
    summary = "Sync to the revision targetRevision resolves to (deployer)",
    params(("name" = String, Path, description = "the Application")),
    request_body(content = Option<SyncRequest>, description = "empty: every resource, no prune, no dry run"),
    responses((status = 200, body = OperationResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn sync(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<OperationResponse>> {
    let request: SyncRequest = body(&bytes)?;
    require(&state, &caller, Role::Deployer, "sync", &name)?;
    state.controller.get(&name)?;
    let _ = state.controller.audit(
        &caller.name,
        "sync",
        &name,
        &format!(
            "prune={} dryRun={}{}",
            request.prune,
            request.dry_run,
            if request.resources.is_empty() {
                String::new()
            } else {
                format!(
                    " resources={}",
                    request
                        .resources
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                )
            }
        ),
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
                selected: request
                    .resources
                    .iter()
                    .map(|r| bosun_record::SelectedResource {
                        group: r.group.clone(),
                        kind: r.kind.clone(),
                        namespace: r.namespace.clone(),
                        name: r.name.clone(),
                    })
                    .collect(),
            },
        )
        .await?;
    Ok(Json(OperationResponse {
        operation: operation(&op),
        application: state.controller.get(&name)?,
    }))
}

#[utoipa::path(post, path = "/api/v1/applications/{name}/refresh", tag = "applications",
    summary = "Compare with Git and the cluster now (deployer)",
    params(("name" = String, Path, description = "the Application")),
    responses((status = 200, body = Application), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn refresh(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<Json<Application>> {
    require(&state, &caller, Role::Deployer, "refresh", &name)?;
    Ok(Json(state.controller.refresh(&name).await?))
}

#[utoipa::path(post, path = "/api/v1/applications/{name}/rollback", tag = "applications",
    summary = "Sync the revisions of a history entry (deployer)",
    params(("name" = String, Path, description = "the Application")),
    request_body = RollbackRequest,
    responses((status = 200, body = OperationResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn rollback(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    bytes: Bytes,
) -> ApiResult<Json<OperationResponse>> {
    let request: RollbackRequest = body(&bytes)?;
    require(&state, &caller, Role::Deployer, "rollback", &name)?;
    let _ = state.controller.audit(
        &caller.name,
        "rollback",
        &name,
        &format!("to history entry {}", request.id),
    );
    let op = state
        .controller
        .rollback(&name, request.id, &caller.name, request.prune)
        .await?;
    Ok(Json(OperationResponse {
        operation: operation(&op),
        application: state.controller.get(&name)?,
    }))
}

/// The generic, authenticated form of the webhook: "this repository changed".
#[utoipa::path(post, path = "/api/v1/refresh",
    summary = "A repository changed: refresh its Applications (deployer)",
    request_body = RepositoryRefresh,
    responses((status = 200, body = Refreshed), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody)))]
async fn refresh_repository(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    bytes: Bytes,
) -> ApiResult<Json<Refreshed>> {
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
    Ok(Json(Refreshed {
        refreshed,
        ..Refreshed::default()
    }))
}

#[utoipa::path(post, path = "/api/webhook",
    summary = "GitHub push webhook, verified by X-Hub-Signature-256", security(()),
    params(
        ("X-Hub-Signature-256" = String, Header, description = "sha256=HMAC of the body"),
        ("X-GitHub-Event" = String, Header, description = "push (or ping)"),
        ("X-GitHub-Delivery" = Option<String>, Header, description = "the delivery's id: one received within the last ten minutes is answered 200 with alreadyReceived and not acted on again")
    ),
    request_body(content = Object, description = "GitHub's push event"),
    responses((status = 200, body = Refreshed), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
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
        "ping" => return Json(Refreshed::default()).into_response(),
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
    if let Err(response) = first_catalog_load(&state).await {
        return response;
    }
    // After the signature and the payload are checked: a forged or refused delivery neither
    // takes an id nor is remembered, so GitHub's "Redeliver" of a refused one still works.
    let delivery = delivery_id(&headers);
    if let Some(answer) = already_received(&state, delivery) {
        return answer;
    }
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
    tracing::info!(r#ref = %push.pushed_ref, delivery = ?delivery, apps = ?refreshed, "webhook push");
    Json(Refreshed {
        refreshed,
        ..Refreshed::default()
    })
    .into_response()
}

/// The id a webhook sender gives a delivery: GitHub's `X-GitHub-Delivery`, or `X-Delivery-Id`
/// from a generic sender.
pub(crate) fn delivery_id(headers: &HeaderMap) -> Option<&str> {
    ["x-github-delivery", "x-delivery-id"]
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|id| !id.is_empty())
}

/// The answer to a signed delivery already received within the window (a replay, or the
/// sender's retry): 200 with `alreadyReceived`, and nothing done again. `None` records `id` as
/// received now. Call it only once the signature and payload are checked.
pub(crate) fn already_received(state: &ApiState, id: Option<&str>) -> Option<Response> {
    let id = id?;
    let first = state
        .deliveries
        .first_time(id, std::time::Instant::now())
        .err()?;
    let ago = first.elapsed().as_secs();
    tracing::info!(delivery = %id, first_received_secs_ago = ago, "webhook delivery already received; ignored");
    Some(
        Json(Refreshed {
            refreshed: Vec::new(),
            already_received: true,
            message: Some(format!(
                "delivery {id} was already received {ago}s ago; nothing was done again"
            )),
        })
        .into_response(),
    )
}

/// Server-sent events: one `MODIFIED`/`DELETED` event per status change.
#[utoipa::path(get, path = "/api/v1/stream/applications", tag = "applications",
    summary = "Server-sent events: one per status change",
    responses((status = 200, description = "each event's data", body = ApplicationWatchEvent,
        content_type = "text/event-stream"), (status = 401, body = ErrorBody)))]
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

#[utoipa::path(get, path = "/api/v1/audit", summary = "Audit log, newest first (admin)",
    params(("limit" = Option<usize>, Query, description = "at most this many entries (100)")),
    responses((status = 200, body = AuditLog), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn audit(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<AuditLog>> {
    require(&state, &caller, Role::Admin, "read the audit log", "")?;
    let entries = state
        .controller
        .audit_log(query.limit.unwrap_or(100))
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(AuditLog {
        items: entries
            .into_iter()
            .map(|e| AuditEntry {
                at: e.at,
                who: e.who,
                action: e.action,
                app: e.app,
                detail: e.detail,
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test(start_paused = true)]
    async fn a_first_load_that_hangs_is_answered_503_after_the_bound() {
        let started = tokio::time::Instant::now();
        let Err(e) = first_load(std::future::pending(), FIRST_LOAD_WAIT).await else {
            panic!("a load that never ends let the request through");
        };
        assert_eq!(started.elapsed(), FIRST_LOAD_WAIT);
        assert_eq!(e.0, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            e.1.contains("still loading") && e.1.contains("/readyz"),
            "{}",
            e.1
        );
        // A load that finishes within the bound lets the request through when it does.
        let loaded = async { tokio::time::sleep(std::time::Duration::from_secs(3)).await };
        let started = tokio::time::Instant::now();
        assert!(first_load(loaded, FIRST_LOAD_WAIT).await.is_ok());
        assert_eq!(started.elapsed(), std::time::Duration::from_secs(3));
    }

    /// The routes the router serves, as the OpenAPI document must list them.
    const ROUTES: &[(&str, &str)] = &[
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("post", "/api/webhook"),
        ("get", "/api/openapi.json"),
        ("get", "/api/v1/applications"),
        ("get", "/api/v1/catalog"),
        ("get", "/api/v1/applications/{name}"),
        ("post", "/api/v1/applications"),
        ("put", "/api/v1/applications/{name}"),
        ("delete", "/api/v1/applications/{name}"),
        ("get", "/api/v1/applications/{name}/resource-tree"),
        ("get", "/api/v1/applications/{name}/diff"),
        ("get", "/api/v1/applications/{name}/history"),
        ("get", "/api/v1/applications/{name}/resource"),
        ("get", "/api/v1/applications/{name}/events"),
        ("get", "/api/v1/applications/{name}/logs"),
        ("post", "/api/v1/applications/{name}/sync"),
        ("post", "/api/v1/applications/{name}/refresh"),
        ("post", "/api/v1/applications/{name}/rollback"),
        ("post", "/api/v1/refresh"),
        ("get", "/api/v1/stream/applications"),
        ("get", "/api/v1/audit"),
        ("get", "/api/v1/rollouts"),
        ("get", "/api/v1/rollouts/{cluster}/{namespace}/{name}"),
        (
            "post",
            "/api/v1/rollouts/{cluster}/{namespace}/{name}/{action}",
        ),
        ("get", "/api/v1/stream/rollouts"),
        ("get", "/api/v1/images"),
        ("get", "/api/v1/images/{name}"),
        ("post", "/api/v1/images/{name}/check"),
        ("post", "/api/webhook/registry"),
    ];

    #[test]
    fn the_document_lists_every_route_and_the_error_body() {
        let doc: Value = serde_json::from_str(&OPENAPI).unwrap();
        for (method, path) in ROUTES {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} missing"
            );
        }
        let documented: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        assert_eq!(documented, ROUTES.len(), "a documented route is not served");
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["ErrorBody"]["required"],
            json!(["code", "message"]),
            "{}",
            schemas["ErrorBody"]
        );
        for name in [
            "Application",
            "ApplicationStatus",
            "OperationResponse",
            "ResourceTree",
        ] {
            assert!(schemas[name].is_object(), "{name} missing");
        }
        assert_eq!(
            doc["paths"]["/api/v1/applications/{name}/sync"]["post"]["responses"]["404"]["content"]
                ["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        for (method, path) in ROUTES {
            for (status, response) in doc["paths"][path][method]["responses"].as_object().unwrap() {
                assert!(
                    response["description"].is_string(),
                    "{method} {path} {status}: no description"
                );
            }
        }
        assert_eq!(
            schemas["HealthStatusCode"]["enum"],
            json!([
                "Healthy",
                "Progressing",
                "Degraded",
                "Suspended",
                "Missing",
                "Unknown"
            ])
        );
        assert_eq!(
            schemas["OperationKind"]["enum"],
            json!(["sync", "auto-sync", "self-heal", "rollback"])
        );
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Limit {
        limit: usize,
    }

    async fn answer(router: &Router, method: &str, uri: &str, body: Vec<u8>) -> (u16, ErrorBody) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body))
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: ErrorBody = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&bytes)));
        assert_eq!(body.code, status);
        (status, body)
    }

    #[tokio::test]
    async fn axums_own_refusals_answer_error_bodies() {
        let router = with_error_bodies(
            Router::new()
                .route("/body", post(|_: Bytes| async { "ok" }))
                .route("/query", get(|_: Query<Limit>| async { "ok" })),
        );
        let (status, body) = answer(&router, "GET", "/nowhere", vec![]).await;
        assert_eq!(
            (status, body.message.as_str()),
            (404, "no route for GET /nowhere")
        );
        let (status, body) = answer(&router, "DELETE", "/body", vec![]).await;
        assert_eq!(
            (status, body.message.as_str()),
            (405, "DELETE is not allowed on /body")
        );
        let (status, body) = answer(&router, "POST", "/body", vec![b' '; 3 << 20]).await;
        assert_eq!(status, 413, "{}", body.message);
        let (status, body) = answer(&router, "GET", "/query?limit=many", vec![]).await;
        assert_eq!(status, 400);
        assert!(body.message.contains("limit"), "{}", body.message);
    }
}
