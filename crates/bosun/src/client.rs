//! `bosun app list|get|diff|sync|wait|refresh|history|rollback|create|delete`: a client of `bosun serve`'s API
//! (`--server`/`--token` or `BOSUN_SERVER`/`BOSUN_TOKEN`), printing tables or, with `-o json`,
//! the API's JSON.

use std::time::Duration;

use anyhow::Context;
use bosun_api::{
    Application, ApplicationList, ApplicationWatchEvent, Catalog, ErrorBody, HealthStatusCode,
    Operation, OperationList, OperationPhase, OperationResponse, RollbackRequest, SyncRequest,
    SyncResource, SyncStatusCode,
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
        /// Sync only this resource, as GROUP:KIND:NAME or GROUP:KIND:NAMESPACE/NAME (the group
        /// empty for the core group: `:ConfigMap:web/settings`); repeat for more. Nothing else
        /// is applied, --prune deletes only among them, and no hook runs (Argo CD's partial sync).
        #[arg(long = "resource", value_name = "GROUP:KIND:[NAMESPACE/]NAME", value_parser = SyncResource::parse)]
        resources: Vec<SyncResource>,
        /// After the sync, wait until the Application is Synced and Healthy with no operation
        /// running (as `bosun app wait NAME`); exit non-zero if it ends Degraded.
        #[arg(long)]
        wait: bool,
        /// With --wait: give up after this long (`90s`, `5m`, or seconds); none or 0: no limit.
        #[arg(long, requires = "wait", value_parser = timeout_arg)]
        timeout: Option<Duration>,
    },
    /// Wait until an Application is synced, healthy and has no operation running (or only what
    /// --sync, --health, --operation name); exit 0 when reached, 2 when it ends Degraded, its
    /// operation fails, or the timeout passes.
    Wait {
        name: String,
        #[command(flatten)]
        what: WaitArgs,
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

/// What `bosun app wait` waits for; none of the three flags means all three (as `argocd app wait`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct WaitArgs {
    /// Wait for sync status Synced.
    #[arg(long)]
    pub sync: bool,
    /// Wait for health Healthy; Degraded ends the wait with a failure.
    #[arg(long)]
    pub health: bool,
    /// Wait for the running operation to end; a Failed or Error one ends the wait with a failure.
    #[arg(long)]
    pub operation: bool,
    /// Give up after this long (`90s`, `5m`, or seconds as in `argocd app wait --timeout 300`);
    /// none or 0: no limit.
    #[arg(long, value_parser = timeout_arg)]
    pub timeout: Option<Duration>,
}

fn timeout_arg(text: &str) -> Result<Duration, String> {
    bosun_model::parse_backoff_duration(text).map_err(|e| e.to_string())
}

/// The conditions a wait is after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Want {
    sync: bool,
    health: bool,
    operation: bool,
}

impl Want {
    fn of(args: &WaitArgs) -> Want {
        if !(args.sync || args.health || args.operation) {
            return Want::ALL;
        }
        Want {
            sync: args.sync,
            health: args.health,
            operation: args.operation,
        }
    }

    const ALL: Want = Want {
        sync: true,
        health: true,
        operation: true,
    };
}

/// Where an Application stands against what a wait is after.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Reached,
    /// It will not get there by itself (Degraded, a failed operation): the message says why.
    Failed(String),
    /// What is still not reached.
    Waiting(Vec<String>),
}

/// Whether the health shown was assessed after the last operation ended. The status an operation
/// leaves can still carry the health of the objects as they were before it (a sync that fixes a
/// Degraded Deployment ends before the cluster has acted on it): such a Degraded is not final
/// until the Application has been reconciled again.
fn assessed_after(app: &Application) -> bool {
    let Some(op) = &app.status.operation_state else {
        return true;
    };
    let time = |t: Option<&String>| t.and_then(|t| t.parse::<jiff::Timestamp>().ok());
    match (
        time(op.finished_at.as_ref()),
        time(app.status.reconciled_at.as_ref()),
    ) {
        (Some(finished), Some(reconciled)) => reconciled > finished,
        // Still running (no end yet), or no reconcile recorded: nothing says it is stale.
        (None, _) => true,
        (Some(_), None) => false,
    }
}

fn judge(app: &Application, want: Want) -> Verdict {
    let name = &app.metadata.name;
    let status = &app.status;
    let op = status.operation_state.as_ref();
    if want.operation
        && let Some(op) = op
        && matches!(op.phase, OperationPhase::Failed | OperationPhase::Error)
    {
        return Verdict::Failed(format!(
            "application '{name}': operation #{} ({}) {}: {}",
            op.id,
            op.kind.as_str(),
            op.phase.as_str(),
            op.message
        ));
    }
    if want.health && status.health.status == HealthStatusCode::Degraded && assessed_after(app) {
        let mut message = format!("application '{name}' is Degraded");
        if !status.health.message.is_empty() {
            message.push_str(&format!(": {}", status.health.message));
        }
        for r in &status.resources {
            if let Some(h) = r.health.as_ref()
                && h.status == HealthStatusCode::Degraded
            {
                let at = if r.namespace.is_empty() {
                    String::new()
                } else {
                    format!("{}/", r.namespace)
                };
                message.push_str(&format!("\n  {} {at}{} Degraded", r.kind, r.name));
                if !h.message.is_empty() {
                    message.push_str(&format!(": {}", h.message));
                }
            }
        }
        return Verdict::Failed(message);
    }
    let mut waiting = Vec::new();
    if want.operation
        && let Some(op) = op
        && matches!(
            op.phase,
            OperationPhase::Running | OperationPhase::Interrupted
        )
    {
        waiting.push(format!(
            "operation #{} ({}) to end (now {})",
            op.id,
            op.kind.as_str(),
            op.phase.as_str()
        ));
    }
    if want.sync && status.sync.status != SyncStatusCode::Synced {
        waiting.push(format!("Synced (now {})", status.sync.status.as_str()));
    }
    if want.health && status.health.status != HealthStatusCode::Healthy {
        let mut now = status.health.status.as_str().to_string();
        if !status.health.message.is_empty() {
            now.push_str(&format!(": {}", status.health.message));
        }
        waiting.push(format!("Healthy (now {now})"));
    }
    if waiting.is_empty() {
        Verdict::Reached
    } else {
        Verdict::Waiting(waiting)
    }
}

/// One line of progress: what the status says now.
fn progress(app: &Application) -> String {
    let status = &app.status;
    let mut line = format!(
        "{}: {} {}",
        app.metadata.name,
        status.sync.status.as_str(),
        status.health.status.as_str()
    );
    if !status.health.message.is_empty() {
        line.push_str(&format!(" ({})", status.health.message));
    }
    if let Some(op) = &status.operation_state {
        line.push_str(&format!(
            ", operation #{} {} {}",
            op.id,
            op.kind.as_str(),
            op.phase.as_str()
        ));
    }
    line
}

/// Reads `bosun serve`'s server-sent events one `data:` payload at a time.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    async fn next(&mut self) -> anyhow::Result<Option<String>> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(|l| l.strip_prefix(' ').unwrap_or(l))
                    .collect();
                if !data.is_empty() {
                    return Ok(Some(data.join("\n")));
                }
                continue;
            }
            match self.response.chunk().await? {
                Some(bytes) => self
                    .buffer
                    .push_str(&String::from_utf8_lossy(&bytes).replace("\r\n", "\n")),
                None => return Ok(None),
            }
        }
    }
}

/// Waits for `want` on Application `name`: follows the server's event stream (with a GET every
/// few seconds in case an event was missed), or polls once a second where there is no stream.
/// Prints a progress line when the status changes; exit 0 when reached, [`EXIT_ERROR`] when the
/// Application ends Degraded, its operation fails, it is deleted, or `timeout` passes.
async fn wait(
    client: &Client,
    name: &str,
    want: Want,
    timeout: Option<Duration>,
    json: bool,
) -> anyhow::Result<(Value, i32)> {
    let started = tokio::time::Instant::now();
    let deadline = timeout.filter(|t| !t.is_zero()).map(|t| (started + t, t));
    let path = format!("/api/v1/applications/{name}");
    // Subscribed before the first GET, so that no change falls between the two.
    let mut stream = client
        .stream("/api/v1/stream/applications")
        .await
        .ok()
        .map(|response| EventStream {
            response,
            buffer: String::new(),
        });
    let mut app: Application = client.call(reqwest::Method::GET, &path, None).await?;
    let mut last_line = String::new();
    loop {
        let line = progress(&app);
        if !json && line != last_line {
            println!("{:>5.1}s {line}", started.elapsed().as_secs_f64());
            last_line = line;
        }
        let waiting = match judge(&app, want) {
            Verdict::Reached => return Ok((serde_json::to_value(&app)?, 0)),
            Verdict::Failed(message) => {
                eprintln!("error: {message}");
                return Ok((serde_json::to_value(&app)?, EXIT_ERROR));
            }
            Verdict::Waiting(waiting) => waiting,
        };
        let poll = if stream.is_some() {
            Duration::from_secs(5)
        } else {
            Duration::from_secs(1)
        };
        let mut until = tokio::time::Instant::now() + poll;
        if let Some((at, _)) = deadline {
            until = until.min(at);
        }
        let next = async {
            match stream.as_mut() {
                Some(events) => events.next().await,
                None => std::future::pending().await,
            }
        };
        let event = tokio::select! {
            event = next => Some(event),
            _ = tokio::time::sleep_until(until) => None,
        };
        if let Some((at, limit)) = deadline
            && tokio::time::Instant::now() >= at
        {
            eprintln!(
                "error: timed out after {} waiting for application '{name}': still not {}",
                humane(limit),
                waiting.join(", ")
            );
            return Ok((serde_json::to_value(&app)?, EXIT_ERROR));
        }
        match event {
            // The stream carries every Application; only this one's events matter.
            Some(Ok(Some(data))) => {
                let Ok(event) = serde_json::from_str::<ApplicationWatchEvent>(&data) else {
                    continue;
                };
                let event = event.result;
                if event.application["metadata"]["name"] != name {
                    continue;
                }
                if event.kind == "DELETED" {
                    eprintln!("error: application '{name}' was deleted while waiting");
                    return Ok((Value::Null, EXIT_ERROR));
                }
                if let Ok(changed) = serde_json::from_value::<Application>(event.application) {
                    app = changed;
                }
            }
            // The stream ended or broke: poll from now on.
            Some(_) => {
                stream = None;
                app = client.call(reqwest::Method::GET, &path, None).await?;
            }
            None => app = client.call(reqwest::Method::GET, &path, None).await?,
        }
    }
}

/// `2m`, `90s`, `1.5s`: a timeout as it was most likely written.
fn humane(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if d.subsec_nanos() == 0 && d.as_secs().is_multiple_of(60) {
        format!("{}m", d.as_secs() / 60)
    } else if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{secs}s")
    }
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
        // reqwest's error names the URL too; the context already does, once.
        let response = request
            .send()
            .await
            .map_err(reqwest::Error::without_url)
            .with_context(|| {
                format!("calling {url} (is `bosun serve` running? --server / BOSUN_SERVER)")
            })?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            anyhow::bail!("{}", failure(&url, status, &bytes));
        }
        serde_json::from_slice(&bytes).with_context(|| format!("reading the answer of {url}"))
    }

    /// Opens a server-sent-events stream; an answer other than 2xx is an error.
    async fn stream(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}{path}", self.base.trim_end_matches('/'));
        let mut request = self
            .http
            .get(&url)
            .header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await.unwrap_or_default();
            anyhow::bail!("{}", failure(&url, status, &bytes));
        }
        Ok(response)
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
        operation_kind(op),
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

/// The KIND column of history: a dry run is its own kind of entry (it applied nothing and is
/// never a rollback target), as the web UI shows it.
fn operation_kind(op: &Operation) -> String {
    let mut kind = op.kind.as_str().to_string();
    if op.dry_run {
        kind.push_str(" (dry run)");
    }
    // A partial sync names what it was limited to.
    if !op.selected_resources.is_empty() {
        let selected: Vec<String> = op
            .selected_resources
            .iter()
            .map(|r| r.to_string())
            .collect();
        kind.push_str(&format!(" of {}", selected.join(", ")));
    }
    kind
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
                resources,
                wait: and_wait,
                timeout,
            } => {
                let request = SyncRequest {
                    prune: *prune,
                    dry_run: *dry_run,
                    resources: resources.clone(),
                };
                let (value, code) = operate(
                    &client,
                    &app_path(name, "/sync"),
                    serde_json::to_value(request)?,
                    json,
                )
                .await?;
                // A failed sync is the answer already; a successful one waits for health.
                if *and_wait && code == 0 {
                    wait(&client, name, Want::ALL, *timeout, json).await?
                } else {
                    (value, code)
                }
            }
            AppAction::Wait { name, what } => {
                wait(&client, name, Want::of(what), what.timeout, json).await?
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
                                operation_kind(op),
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

    fn app(sync: &str, health: &str, op: Option<&str>) -> Application {
        let mut status = serde_json::json!({
            "sync": {"status": sync, "revision": "abc", "revisions": ["abc"]},
            "health": {"status": health, "message": if health == "Degraded" { "it broke" } else { "" }},
            "conditions": [],
            "resources": [{"group": "apps", "kind": "Deployment", "namespace": "web", "name": "web",
                "status": sync, "health": {"status": health, "message": "deadline"}}],
        });
        if let Some(phase) = op {
            status["operationState"] = serde_json::json!({"id": 4, "kind": "sync", "phase": phase,
                "message": "boom", "initiatedBy": "ci", "revisions": ["abc"], "startedAt": "t"});
        }
        serde_json::from_value(
            serde_json::json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
                "metadata": {"name": "web"}, "spec": {}, "status": status}),
        )
        .unwrap()
    }

    #[test]
    fn a_wait_is_reached_fails_or_names_what_is_missing() {
        let only = |sync, health, operation| Want {
            sync,
            health,
            operation,
        };
        assert_eq!(
            Want::of(&WaitArgs::default()),
            Want::ALL,
            "no flag waits for all three"
        );
        assert_eq!(
            judge(&app("Synced", "Healthy", Some("Succeeded")), Want::ALL),
            Verdict::Reached
        );
        assert_eq!(
            judge(&app("OutOfSync", "Progressing", Some("Running")), Want::ALL),
            Verdict::Waiting(vec![
                "operation #4 (sync) to end (now Running)".into(),
                "Synced (now OutOfSync)".into(),
                "Healthy (now Progressing)".into(),
            ])
        );
        assert_eq!(
            judge(&app("Synced", "Degraded", None), only(false, true, false)),
            Verdict::Failed(
                "application 'web' is Degraded: it broke\n  Deployment web/web Degraded: deadline"
                    .into()
            )
        );
        // A Degraded read from before the last operation ended is not final: it waits for the
        // next assessment.
        let mut stale = app("Synced", "Degraded", Some("Succeeded"));
        let op = stale.status.operation_state.as_mut().unwrap();
        op.finished_at = Some("2026-12-06T10:00:05Z".into());
        stale.status.reconciled_at = Some("2026-12-06T10:00:04.5Z".into());
        assert_eq!(
            judge(&stale, only(false, true, false)),
            Verdict::Waiting(vec!["Healthy (now Degraded: it broke)".into()])
        );
        stale.status.reconciled_at = Some("2026-12-06T10:00:06Z".into());
        assert!(matches!(
            judge(&stale, only(false, true, false)),
            Verdict::Failed(_)
        ));
        // Degraded does not end a wait for sync alone.
        assert_eq!(
            judge(&app("Synced", "Degraded", None), only(true, false, false)),
            Verdict::Reached
        );
        assert_eq!(
            judge(&app("Synced", "Healthy", Some("Failed")), Want::ALL),
            Verdict::Failed("application 'web': operation #4 (sync) Failed: boom".into())
        );
        assert_eq!(humane(Duration::from_secs(120)), "2m");
        assert_eq!(humane(Duration::from_secs(90)), "90s");
    }

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
