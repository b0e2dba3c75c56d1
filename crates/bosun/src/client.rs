//! `bosun app list|get|diff|sync|refresh|history|rollback`: a client of `bosun serve`'s API
//! (`--server`/`--token` or `BOSUN_SERVER`/`BOSUN_TOKEN`), printing tables or, with `-o json`,
//! the API's JSON.

use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};

use crate::apps::EXIT_ERROR;

#[derive(clap::Args, Debug)]
pub struct AppCommand {
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
    #[command(subcommand)]
    pub action: AppAction,
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
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
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
        let value: Value = serde_json::from_slice(&bytes).unwrap_or_else(
            |_| json!({"error": String::from_utf8_lossy(&bytes), "code": status.as_u16()}),
        );
        if !status.is_success() {
            anyhow::bail!(
                "{} {}: {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or(""),
                value["error"].as_str().unwrap_or(&value.to_string())
            );
        }
        Ok(value)
    }
}

fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    table.set_header(header.to_vec());
    for row in rows {
        table.add_row(row);
    }
    table.to_string()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn short(rev: &Value) -> String {
    text(rev).chars().take(8).collect()
}

fn print_app(app: &Value) {
    let status = &app["status"];
    println!("Name:        {}", text(&app["metadata"]["name"]));
    let source = if app["spec"]["sources"].is_array() {
        app["spec"]["sources"][0].clone()
    } else {
        app["spec"]["source"].clone()
    };
    println!(
        "Source:      {} {} {}",
        text(&source["repoURL"]),
        text(&source["targetRevision"]),
        text(&source["path"])
    );
    println!(
        "Destination: {} {}",
        text(&app["spec"]["destination"]["server"]) + &text(&app["spec"]["destination"]["name"]),
        text(&app["spec"]["destination"]["namespace"])
    );
    let automated = app["spec"]["syncPolicy"]["automated"].is_object();
    println!(
        "Sync policy: {}",
        if automated { "automated" } else { "manual" }
    );
    println!(
        "Sync:        {} ({})",
        text(&status["sync"]["status"]),
        short(&status["sync"]["revision"])
    );
    println!(
        "Health:      {} {}",
        text(&status["health"]["status"]),
        text(&status["health"]["message"])
    );
    if let Some(op) = status["operationState"].as_object() {
        println!(
            "Operation:   #{} {} {} by {}: {}",
            text(&op["id"]),
            text(&op["kind"]),
            text(&op["phase"]),
            text(&op["initiatedBy"]),
            text(&op["message"])
        );
    }
    for c in status["conditions"].as_array().into_iter().flatten() {
        println!("Condition:   {}: {}", text(&c["type"]), text(&c["message"]));
    }
    let rows = status["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            vec![
                text(&r["kind"]),
                text(&r["namespace"]),
                text(&r["name"]),
                text(&r["status"])
                    + if r["requiresPruning"] == true {
                        " (prune)"
                    } else {
                        ""
                    },
                text(&r["health"]["status"]),
                text(&r["health"]["message"]),
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

fn print_operation(op: &Value) {
    println!(
        "operation #{} ({}) {}: {} (revision {})",
        text(&op["id"]),
        text(&op["kind"]),
        text(&op["phase"]),
        text(&op["message"]),
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

fn revisions(op: &Value) -> String {
    op["revisions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(short)
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
    let v = client.call(reqwest::Method::POST, path, Some(body)).await?;
    if !json {
        print_operation(&v["operation"]);
    }
    let ok = v["operation"]["phase"] == "Succeeded";
    Ok((v, if ok { 0 } else { EXIT_ERROR }))
}

pub fn run(command: AppCommand) -> anyhow::Result<i32> {
    let json = match command.output.as_str() {
        "table" | "wide" => false,
        "json" => true,
        other => anyhow::bail!("-o {other}: expected table or json"),
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(900))
            .build()?,
        base: command.server.clone(),
        token: command.token.clone(),
    };
    crate::apps::runtime().block_on(async move {
        use reqwest::Method;
        let app_path = |name: &str, rest: &str| format!("/api/v1/applications/{name}{rest}");
        let (value, code) = match &command.action {
            AppAction::List => {
                let v = client
                    .call(Method::GET, "/api/v1/applications", None)
                    .await?;
                if !json {
                    let rows = v["items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| {
                            vec![
                                text(&a["metadata"]["name"]),
                                text(&a["status"]["sync"]["status"]),
                                text(&a["status"]["health"]["status"]),
                                short(&a["status"]["sync"]["revision"]),
                                text(&a["status"]["operationState"]["phase"]),
                                text(&a["spec"]["destination"]["namespace"]),
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
                }
                (v, 0)
            }
            AppAction::Get { name } => {
                let v = client.call(Method::GET, &app_path(name, ""), None).await?;
                if !json {
                    print_app(&v);
                }
                (v, 0)
            }
            AppAction::Refresh { name } => {
                let v = client
                    .call(Method::POST, &app_path(name, "/refresh"), None)
                    .await?;
                if !json {
                    print_app(&v);
                }
                (v, 0)
            }
            AppAction::Diff { name } => {
                let v = client
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
                operate(
                    &client,
                    &app_path(name, "/sync"),
                    json!({"prune": prune, "dryRun": dry_run}),
                    json,
                )
                .await?
            }
            AppAction::History { name } => {
                let v = client
                    .call(Method::GET, &app_path(name, "/history"), None)
                    .await?;
                if !json {
                    let rows = v["items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|op| {
                            vec![
                                text(&op["id"]),
                                text(&op["kind"]),
                                text(&op["phase"]),
                                revisions(op),
                                text(&op["initiatedBy"]),
                                text(&op["startedAt"]),
                                op["durationMs"].as_i64().map(took).unwrap_or_default(),
                                text(&op["message"]),
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
                (v, 0)
            }
            AppAction::Rollback { name, id, prune } => {
                operate(
                    &client,
                    &app_path(name, "/rollback"),
                    json!({"id": id, "prune": prune}),
                    json,
                )
                .await?
            }
        };
        if json {
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
        Ok(code)
    })
}
