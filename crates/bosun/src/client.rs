//! `bosun app list|get|diff|sync|refresh|history|rollback|create|delete`: a client of `bosun serve`'s API
//! (`--server`/`--token` or `BOSUN_SERVER`/`BOSUN_TOKEN`), printing tables or, with `-o json`,
//! the API's JSON.

use std::time::Duration;

use anyhow::Context;
use bosun_api::{
    Application, ApplicationList, Catalog, ErrorBody, Operation, OperationList, OperationPhase,
    OperationResponse, RollbackRequest, SyncRequest,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::apps::EXIT_ERROR;

#[derive(clap::Args, Debug)]
pub struct AppCommand {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub action: AppAction,
}

/// Where `bosun serve` answers, with what token, and how to print its answers.
#[derive(clap::Args, Debug)]
pub struct ApiArgs {
    /// The API of `bosun serve`.
    #[arg(
        long,
        env = "BOSUN_SERVER",
        global = true,
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// A bearer token from the server's config.
    #[arg(long, env = "BOSUN_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// `table` or `json`.
    #[arg(short = 'o', long, global = true, default_value = "table")]
    pub output: String,
}

impl ApiArgs {
    /// `true` for `-o json`.
    pub(crate) fn json(&self) -> anyhow::Result<bool> {
        match self.output.as_str() {
            "table" | "wide" => Ok(false),
            "json" => Ok(true),
            other => anyhow::bail!("-o {other}: expected table or json"),
        }
    }

    pub(crate) fn client(&self) -> anyhow::Result<Client> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(900))
                .build()?,
            base: self.server.clone(),
            token: self.token.clone(),
        })
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum AppAction {
    /// Every Application with its sync and health status.
    List,
    /// One Application: status, conditions, last operation, resources.
    Get { name: String },
    /// Desired versus live (exit 0 in sync, 1 different).
    Diff { name: String },
    /// Sync now.
    Sync {
        name: String,
        #[arg(long)]
        prune: bool,
        #[arg(long)]
        dry_run: bool,
    },
    /// Compare with Git and the cluster now.
    Refresh { name: String },
    /// Operations, newest first.
    History { name: String },
    /// Sync the revision of history entry ID.
    Rollback {
        name: String,
        id: i64,
        #[arg(long)]
        prune: bool,
    },
    /// Create the Applications of a manifest file (kept as objects in a namespace source).
    Create {
        /// A YAML file of one or more Argo CD Applications.
        #[arg(short = 'f', long = "file")]
        file: std::path::PathBuf,
        /// Replace an existing Application whose spec differs.
        #[arg(long)]
        upsert: bool,
    },
    /// Delete an Application object; with --cascade (the default) its resources first.
    Delete {
        name: String,
        /// Delete the Application's resources first (`--cascade=false` leaves them).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
        cascade: bool,
        /// `foreground` or `background`: how the resources' deletion propagates.
        #[arg(short = 'p', long)]
        propagation_policy: Option<String>,
    },
}

pub(crate) struct Client {
    pub(crate) http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    /// Calls the API and decodes its answer as `T`; a failure is the server's [`ErrorBody`]
    /// message (or the raw text, from something that is not `bosun serve`).
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base.trim_end_matches('/'));
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.with_context(|| {
            format!("calling {url} (is `bosun serve` running? --server / BOSUN_SERVER)")
        })?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            anyhow::bail!("{}", failure(&url, status, &bytes));
        }
        serde_json::from_slice(&bytes).with_context(|| format!("reading the answer of {url}"))
    }
}

/// What a failed call prints. `bosun serve` answers an [`ErrorBody`], whose message names what
/// went wrong. Anything else came from something that is not bosun's API (a proxy, a server
/// whose URL carries a path, another program on the port): the URL called is named, and a 404
/// suggests that `--server` be the server's root.
fn failure(url: &str, status: reqwest::StatusCode, body: &[u8]) -> String {
    let code = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    if let Ok(error) = serde_json::from_slice::<ErrorBody>(body) {
        return format!("{code}: {}", error.message);
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut message = format!("{code} from {url}");
    if !text.is_empty() {
        message.push_str(&format!(": {text}"));
    }
    if status == reqwest::StatusCode::NOT_FOUND {
        message.push_str(
            " (not an answer of `bosun serve`: --server / BOSUN_SERVER is the server's root, such as http://127.0.0.1:8080, without a path)",
        );
    }
    message
}

pub(crate) fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    table.set_header(header.to_vec());
    for row in rows {
        table.add_row(row);
    }
    table.to_string()
}

/// A field of the spec, which stays Argo CD's JSON (the model crate owns its type).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The lines `bosun app list` prints after its table: the sources that did not load.
fn catalog_errors(catalog: &Catalog) -> String {
    if catalog.errors.is_empty() {
        return String::new();
    }
    let mut text = format!(
        "\n{} error(s) loading Applications (a failing source keeps the Applications it loaded before):\n",
        catalog.errors.len()
    );
    for error in &catalog.errors {
        text.push_str(&format!("  {}: {}\n", error.source, error.message));
    }
    text
}

fn short(rev: &str) -> String {
    rev.chars().take(8).collect()
}

fn print_app(app: &Application) {
    let status = &app.status;
    let spec = &app.spec;
    println!("Name:        {}", app.metadata.name);
    let source = if spec["sources"].is_array() {
        &spec["sources"][0]
    } else {
        &spec["source"]
    };
    println!(
        "Source:      {} {} {}",
        text(&source["repoURL"]),
        text(&source["targetRevision"]),
        text(&source["path"])
    );
    println!(
        "Destination: {} {}",
        text(&spec["destination"]["server"]) + &text(&spec["destination"]["name"]),
        text(&spec["destination"]["namespace"])
    );
    let automated = spec["syncPolicy"]["automated"].is_object();
    println!(
        "Sync policy: {}",
        if automated { "automated" } else { "manual" }
    );
    println!(
        "Sync:        {} ({})",
        status.sync.status.as_str(),
        short(&status.sync.revision)
    );
    println!(
        "Health:      {} {}",
        status.health.status.as_str(),
        status.health.message
    );
    if let Some(op) = &status.operation_state {
        println!(
            "Operation:   #{} {} {} by {}: {}",
            op.id,
            op.kind.as_str(),
            op.phase.as_str(),
            op.initiated_by,
            op.message
        );
    }
    for c in &status.conditions {
        println!("Condition:   {}: {}", c.kind, c.message);
    }
    let rows = status
        .resources
        .iter()
        .map(|r| {
            vec![
                r.kind.clone(),
                r.namespace.clone(),
                r.name.clone(),
                r.status.as_str().to_string() + if r.requires_pruning { " (prune)" } else { "" },
                r.health
                    .as_ref()
                    .map(|h| h.status.as_str().to_string())
                    .unwrap_or_default(),
                r.health
                    .as_ref()
                    .map(|h| h.message.clone())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    println!();
    println!(
        "{}",
        table(
            &["KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH", "MESSAGE"],
            rows
        )
    );
}

fn print_operation(op: &Operation) {
    println!(
        "operation #{} ({}) {}: {} (revision {})",
        op.id,
        op.kind.as_str(),
        op.phase.as_str(),
        op.message,
        revisions(op)
    );
}

/// `850ms`, `12.3s`: sub-second syncs are common, and `0.0s` would hide them.
fn took(ms: i64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

fn revisions(op: &Operation) -> String {
    op.revisions
        .iter()
        .map(|r| short(r))
        .collect::<Vec<_>>()
        .join(",")
}

/// Starts an operation (sync, rollback); exit 0 when it succeeded, 2 otherwise.
async fn operate(
    client: &Client,
    path: &str,
    body: Value,
    json: bool,
) -> anyhow::Result<(Value, i32)> {
    let answer: OperationResponse = client.call(reqwest::Method::POST, path, Some(body)).await?;
    if !json {
        print_operation(&answer.operation);
    }
    let ok = answer.operation.phase == OperationPhase::Succeeded;
    Ok((
        serde_json::to_value(answer)?,
        if ok { 0 } else { EXIT_ERROR },
    ))
}

pub fn run(command: AppCommand) -> anyhow::Result<i32> {
    let json = command.api.json()?;
    let client = command.api.client()?;
    crate::apps::runtime().block_on(async move {
        use reqwest::Method;
        let app_path = |name: &str, rest: &str| format!("/api/v1/applications/{name}{rest}");
        let (value, code) = match &command.action {
            AppAction::List => {
                let list: ApplicationList = client
                    .call(Method::GET, "/api/v1/applications", None)
                    .await?;
                if !json {
                    let rows = list
                        .items
                        .iter()
                        .map(|a| {
                            vec![
                                a.metadata.name.clone(),
                                a.status.sync.status.as_str().to_string(),
                                a.status.health.status.as_str().to_string(),
                                short(&a.status.sync.revision),
                                a.status
                                    .operation_state
                                    .as_ref()
                                    .map(|op| op.phase.as_str().to_string())
                                    .unwrap_or_default(),
                                text(&a.spec["destination"]["namespace"]),
                            ]
                        })
                        .collect();
                    println!(
                        "{}",
                        table(
                            &[
                                "NAME",
                                "SYNC",
                                "HEALTH",
                                "REVISION",
                                "LAST OPERATION",
                                "NAMESPACE"
                            ],
                            rows
                        )
                    );
                    // A source that fails keeps its earlier Applications, so the table alone
                    // cannot show it. (A server without /api/v1/catalog says nothing here.)
                    if let Ok(catalog) = client
                        .call::<Catalog>(Method::GET, "/api/v1/catalog", None)
                        .await
                    {
                        print!("{}", catalog_errors(&catalog));
                    }
                }
                (serde_json::to_value(list)?, 0)
            }
            AppAction::Get { name } => {
                let app: Application = client.call(Method::GET, &app_path(name, ""), None).await?;
                if !json {
                    print_app(&app);
                }
                (serde_json::to_value(app)?, 0)
            }
            AppAction::Refresh { name } => {
                let app: Application = client
                    .call(Method::POST, &app_path(name, "/refresh"), None)
                    .await?;
                if !json {
                    print_app(&app);
                }
                (serde_json::to_value(app)?, 0)
            }
            AppAction::Diff { name } => {
                // The plan's JSON is bosun-plan's (`inSync`, `resources[].diff`), not a wire type.
                let v: Value = client
                    .call(Method::GET, &app_path(name, "/diff"), None)
                    .await?;
                let differs = v["inSync"] != true;
                if !json {
                    for r in v["resources"].as_array().into_iter().flatten() {
                        if r["status"] != "Synced" {
                            println!(
                                "===== {} {}/{} {} =====",
                                text(&r["kind"]),
                                text(&r["namespace"]),
                                text(&r["name"]),
                                text(&r["status"])
                            );
                            if let Some(diff) = r["diff"].as_str() {
                                println!("{diff}");
                            }
                        }
                    }
                }
                (v, i32::from(differs))
            }
            AppAction::Sync {
                name,
                prune,
                dry_run,
            } => {
                let request = SyncRequest {
                    prune: *prune,
                    dry_run: *dry_run,
                };
                operate(
                    &client,
                    &app_path(name, "/sync"),
                    serde_json::to_value(request)?,
                    json,
                )
                .await?
            }
            AppAction::History { name } => {
                let history: OperationList = client
                    .call(Method::GET, &app_path(name, "/history"), None)
                    .await?;
                if !json {
                    let rows = history
                        .items
                        .iter()
                        .map(|op| {
                            vec![
                                op.id.to_string(),
                                op.kind.as_str().to_string(),
                                op.phase.as_str().to_string(),
                                revisions(op),
                                op.initiated_by.clone(),
                                op.started_at.clone(),
                                op.duration_ms.map(took).unwrap_or_default(),
                                op.message.clone(),
                            ]
                        })
                        .collect();
                    println!(
                        "{}",
                        table(
                            &[
                                "ID", "KIND", "PHASE", "REVISION", "BY", "STARTED", "TOOK",
                                "MESSAGE"
                            ],
                            rows
                        )
                    );
                }
                (serde_json::to_value(history)?, 0)
            }
            AppAction::Rollback { name, id, prune } => {
                let request = RollbackRequest {
                    id: *id,
                    prune: *prune,
                };
                operate(
                    &client,
                    &app_path(name, "/rollback"),
                    serde_json::to_value(request)?,
                    json,
                )
                .await?
            }
            AppAction::Create { file, upsert } => {
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("reading {}", file.display()))?;
                let manifests =
                    bosun_model::application_manifests(&text, &file.display().to_string())?;
                let mut created = Vec::new();
                for manifest in manifests {
                    let app: Application = client
                        .call(
                            Method::POST,
                            &format!("/api/v1/applications?upsert={upsert}"),
                            Some(manifest),
                        )
                        .await?;
                    if !json {
                        println!("application '{}' created", app.metadata.name);
                    }
                    created.push(app);
                }
                (serde_json::to_value(ApplicationList { items: created })?, 0)
            }
            AppAction::Delete {
                name,
                cascade,
                propagation_policy,
            } => {
                let mut query = format!("?cascade={cascade}");
                if let Some(policy) = propagation_policy {
                    query.push_str(&format!("&propagationPolicy={policy}"));
                }
                let answer: Value = client
                    .call(Method::DELETE, &app_path(name, &query), None)
                    .await?;
                if !json {
                    println!("application '{name}' deleted");
                }
                (answer, 0)
            }
        };
        if json {
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
        Ok(code)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_from_bosun_is_its_message_and_anything_else_names_the_url() {
        let not_found = reqwest::StatusCode::NOT_FOUND;
        assert_eq!(
            failure(
                "http://127.0.0.1:8080/api/v1/applications/web",
                not_found,
                br#"{"code":404,"message":"application web not found"}"#
            ),
            "404 Not Found: application web not found"
        );
        let url = "http://127.0.0.1:8080/bosun/api/v1/applications";
        let e = failure(url, not_found, b"");
        assert_eq!(
            e,
            format!(
                "404 Not Found from {url} (not an answer of `bosun serve`: --server / BOSUN_SERVER is the server's root, such as http://127.0.0.1:8080, without a path)"
            )
        );
        let e = failure(
            url,
            reqwest::StatusCode::BAD_GATEWAY,
            b"<html>bad gateway</html>\n",
        );
        assert_eq!(
            e,
            format!("502 Bad Gateway from {url}: <html>bad gateway</html>")
        );
    }
}
