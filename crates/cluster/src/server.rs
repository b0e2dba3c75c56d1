//! Assembles the cluster: store, registry, HTTP routes, fault injection and the simulated
//! controllers, bound to a loopback port.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use tokio::sync::watch;

use crate::faults::{Decision, FaultConfig, Faults};
use crate::objects::Objects;
use crate::requests::{RequestLog, RequestRecord};
use crate::resources::Registry;
use crate::status::ApiError;
use crate::store::Store;
use crate::traffic::Traffic;
use crate::{api, controllers};

/// How the cluster is started.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Address to bind; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Where objects persist (SQLite); `None` keeps them in memory only.
    pub data_dir: Option<PathBuf>,
    /// Simulated nodes.
    pub nodes: usize,
    /// Events kept for watches that resume from a resourceVersion.
    pub history_limit: usize,
    pub faults: FaultConfig,
    pub timing: controllers::Timing,
    /// Simulated requests per second to each Service with ready endpoints (see `traffic`).
    pub requests_per_second: f64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: None,
            nodes: 1,
            history_limit: 100_000,
            faults: FaultConfig::default(),
            timing: controllers::Timing::default(),
            requests_per_second: 10.0,
        }
    }
}

/// Everything a request handler or controller can reach.
pub struct ClusterState {
    pub objects: Objects,
    pub faults: Arc<Faults>,
    /// The most recent requests and their users, served at `/admin/requests`.
    pub requests: RequestLog,
    pub timing: controllers::Timing,
    /// The simulated requests to Services, served at `/metrics`.
    pub traffic: Arc<Traffic>,
    /// Becomes true when the cluster stops, so long-lived watch streams end with it.
    pub stopping: watch::Receiver<bool>,
    /// What the simulated controllers' Events recorder remembers.
    pub events: controllers::events::Recorder,
}

pub type Shared = Arc<ClusterState>;

/// A running cluster; dropping it does not stop it, `shutdown` does.
pub struct RunningCluster {
    pub addr: SocketAddr,
    pub state: Shared,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    controllers: tokio::task::JoinSet<()>,
}

impl RunningCluster {
    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and stops the controllers; open watch streams end with the server.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        self.controllers.shutdown().await;
        let _ = self.server.await;
    }

    /// Resolves when the server has stopped.
    pub async fn wait(self) {
        let _ = self.server.await;
    }
}

pub async fn start(config: ClusterConfig) -> anyhow::Result<RunningCluster> {
    let store = match &config.data_dir {
        Some(dir) => Store::open(dir, config.history_limit)?,
        None => Store::in_memory(config.history_limit),
    };
    let (stop, stopping) = watch::channel(false);
    let state: Shared = Arc::new(ClusterState {
        objects: Objects::new(Registry::new(), store),
        faults: Arc::new(Faults::new(config.faults.clone())),
        requests: RequestLog::default(),
        timing: config.timing.clone(),
        traffic: Arc::new(Traffic::new(config.requests_per_second)),
        stopping: stopping.clone(),
        events: Default::default(),
    });
    let mut controller_tasks = tokio::task::JoinSet::new();
    controllers::start(state.clone(), config.nodes, &mut controller_tasks);
    controller_tasks.spawn(crate::traffic::run(state.clone(), state.traffic.clone()));

    let api_routes = Router::new()
        .route("/api", any(api::handle))
        .route("/api/{*rest}", any(api::handle))
        .route("/apis", any(api::handle))
        .route("/apis/{*rest}", any(api::handle))
        .layer(middleware::from_fn_with_state(state.clone(), inject_faults));
    let app = Router::new()
        .route(
            "/version",
            get(|| async { axum::Json(api::discovery::version()) }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/admin/faults", get(get_faults).put(put_faults))
        .route("/admin/requests", get(get_requests))
        .route("/metrics", get(metrics))
        .route("/openapi/v3", get(openapi_root))
        .route("/openapi/v3/{*gv}", get(openapi_group_version))
        .merge(api_routes)
        .fallback(|uri: axum::http::Uri| async move { ApiError::no_route(uri.path()) })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_request,
        ))
        .with_state(state.clone());

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let mut stopped = stopping;
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "cluster server failed");
        }
    });
    Ok(RunningCluster {
        addr,
        state,
        stop,
        server,
        controllers: controller_tasks,
    })
}

/// The simulated traffic in Prometheus' text format, for a Prometheus to scrape.
async fn metrics(State(state): State<Shared>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.traffic.exposition(),
    )
        .into_response()
}

/// Applies the configured faults to API requests (never to /admin, so tests can always heal).
async fn inject_faults(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let latency = state.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match state.faults.decide() {
        Decision::Pass => next.run(request).await,
        Decision::Error => ApiError::internal("injected fault: internal error").into_response(),
        Decision::Throttle => ApiError::too_many_requests().into_response(),
    }
}

/// Records each request with the user it claims to be (see `requests::user_of`; there is no real
/// authentication in the local cluster). Reading the log itself is not recorded.
async fn record_request(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let user = crate::requests::user_of(request.headers());
    let user_agent = request
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    let code = response.status().as_u16();
    tracing::debug!(%user, %method, %uri, status = code, "request");
    if uri.path() != "/admin/requests" {
        state.requests.record(RequestRecord {
            time: crate::objects::now(),
            user,
            user_agent,
            method: method.to_string(),
            uri: uri.to_string(),
            code,
        });
    }
    response
}

async fn get_requests(State(state): State<Shared>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "items": state.requests.recent(),
        "counts": state.requests.counts(),
    }))
}

async fn get_faults(State(state): State<Shared>) -> axum::Json<FaultConfig> {
    axum::Json(state.faults.get())
}

async fn put_faults(State(state): State<Shared>, body: axum::body::Bytes) -> Response {
    let config: FaultConfig = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => {
            return ApiError::bad_request(format!("invalid fault configuration: {e}"))
                .into_response();
        }
    };
    match state.faults.set(config.clone()) {
        Ok(()) => (StatusCode::OK, axum::Json(config)).into_response(),
        Err(e) => ApiError::bad_request(e).into_response(),
    }
}

async fn openapi_root(State(state): State<Shared>) -> axum::Json<serde_json::Value> {
    axum::Json(api::openapi::root(&state.objects.registry))
}

async fn openapi_group_version(
    State(state): State<Shared>,
    axum::extract::Path(gv): axum::extract::Path<String>,
) -> Response {
    let parts: Vec<&str> = gv.split('/').collect();
    let (group, version) = match parts.as_slice() {
        ["api", v] => ("", *v),
        ["apis", g, v] => (*g, *v),
        _ => return ApiError::no_route(&gv).into_response(),
    };
    match api::openapi::group_version(&state.objects.registry, group, version) {
        Some(doc) => axum::Json(doc).into_response(),
        None => ApiError::no_route(&gv).into_response(),
    }
}
