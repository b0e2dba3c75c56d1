//! `bosun rollout list|get|watch|promote|abort|retry|pause|resume|undo|restart`: Argo Rollouts'
//! kubectl plugin verbs, as a client of `bosun serve`'s API.

use bosun_api::{RolloutList, RolloutSummary, RolloutView, UndoRequest};
use reqwest::Method;
use serde_json::Value;

use crate::client::{ApiArgs, Client, table};

#[derive(clap::Args, Debug)]
pub struct RolloutCommand {
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(subcommand)]
    pub action: RolloutAction,
}

/// Which Rollout: its name, and where the name alone is ambiguous, its namespace and cluster.
#[derive(clap::Args, Debug)]
pub struct Which {
    pub name: String,
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// bosun.yaml's name of the cluster.
    #[arg(long)]
    pub cluster: Option<String>,
}

#[derive(clap::Subcommand, Debug)]
pub enum RolloutAction {
    /// Every Rollout bosun drives, with its phase and step.
    List,
    /// One Rollout: steps, current step, revisions and their pods.
    Get(Which),
    /// `get`, again at every change, until Ctrl-C (as Argo's `get rollout --watch`).
    Watch {
        #[command(flatten)]
        which: Which,
        /// Stop once the Rollout is Healthy (exit 0) or Degraded (exit 1), as Argo's `status`.
        #[arg(long)]
        until_done: bool,
    },
    /// End the current pause (or skip the current step); `--full` skips every step left.
    Promote {
        #[command(flatten)]
        which: Which,
        #[arg(long)]
        full: bool,
    },
    /// Put everything back on the stable revision.
    Abort(Which),
    /// Run an aborted revision's steps again.
    Retry(Which),
    /// Hold the Rollout where it is.
    Pause(Which),
    /// Let a paused Rollout go on.
    Resume(Which),
    /// Recreate every pod, a few at a time.
    Restart(Which),
    /// Go back to an earlier revision's pod template (the previous one by default).
    Undo {
        #[command(flatten)]
        which: Which,
        #[arg(long)]
        to_revision: Option<u64>,
    },
}

fn path(summary: &RolloutSummary, rest: &str) -> String {
    format!(
        "/api/v1/rollouts/{}/{}/{}{rest}",
        summary.cluster, summary.namespace, summary.name
    )
}

/// The Rollout `which` names, among those the server drives.
async fn find(client: &Client, which: &Which) -> anyhow::Result<RolloutSummary> {
    let list: RolloutList = client.call(Method::GET, "/api/v1/rollouts", None).await?;
    let matching: Vec<RolloutSummary> = list
        .items
        .into_iter()
        .filter(|r| r.name == which.name)
        .filter(|r| which.namespace.as_ref().is_none_or(|n| &r.namespace == n))
        .filter(|r| which.cluster.as_ref().is_none_or(|c| &r.cluster == c))
        .collect();
    match matching.len() {
        0 => anyhow::bail!("no Rollout named {} (see `bosun rollout list`)", which.name),
        1 => Ok(matching.into_iter().next().expect("one")),
        _ => anyhow::bail!(
            "{} Rollouts are named {}: say which with -n NAMESPACE or --cluster ({})",
            matching.len(),
            which.name,
            matching
                .iter()
                .map(|r| format!("{}/{}", r.cluster, r.namespace))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn step_text(summary: &RolloutSummary) -> String {
    match summary.step {
        Some(step) if summary.strategy == "canary" => format!("{step}/{}", summary.steps),
        _ => "-".into(),
    }
}

fn describe_step(step: &Value) -> String {
    if let Some(w) = step.get("setWeight") {
        return format!("setWeight: {w}");
    }
    if let Some(p) = step.get("pause") {
        return match p.get("duration") {
            Some(d) => format!(
                "pause: {}",
                d.as_str().map_or(d.to_string(), str::to_string)
            ),
            None => "pause (until promoted)".into(),
        };
    }
    if let Some(s) = step.get("setCanaryScale") {
        return format!("setCanaryScale: {s}");
    }
    step.as_object()
        .and_then(|m| m.keys().next().cloned())
        .unwrap_or_default()
}

fn print_view(view: &RolloutView) {
    let s = &view.summary;
    println!("Name:      {}", s.name);
    println!("Namespace: {}", s.namespace);
    println!("Cluster:   {}", s.cluster);
    println!("Strategy:  {}", s.strategy);
    println!(
        "Status:    {}{}",
        s.phase,
        if s.message.is_empty() {
            String::new()
        } else {
            format!(" ({})", s.message)
        }
    );
    println!(
        "Replicas:  desired {} ready {} available {}",
        s.desired, s.ready, s.available
    );
    if !view.steps.is_empty() {
        println!("Steps:     {}", step_text(s));
        for (i, step) in view.steps.iter().enumerate() {
            let mark = match s.step {
                Some(at) if (i as u64) < at => "✔",
                Some(at) if i as u64 == at => "▶",
                _ => " ",
            };
            println!("  {mark} {i}: {}", describe_step(step));
        }
    }
    let rows = view
        .revisions
        .iter()
        .map(|r| {
            vec![
                r.revision.to_string(),
                r.replica_set.clone(),
                r.role.clone(),
                format!("{}/{}", r.ready, r.desired),
                r.available.to_string(),
                r.scale_down_deadline.clone().unwrap_or_default(),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &[
                "REVISION",
                "REPLICASET",
                "ROLE",
                "READY",
                "AVAILABLE",
                "SCALE DOWN AT"
            ],
            rows
        )
    );
    if !view.analysis_runs.is_empty() {
        println!("Analysis runs:");
        for run in &view.analysis_runs {
            let at = match run.step_index {
                Some(i) => format!("step {i}"),
                None => run.rollout_type.to_lowercase(),
            };
            println!(
                "  {} ({at}, revision {}): {}{}",
                run.name,
                run.pod_template_hash,
                run.phase,
                if run.message.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", run.message)
                }
            );
            for metric in &run.metric_results {
                let values: Vec<String> = metric["measurements"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|m| {
                        let value = m["value"].as_str().unwrap_or_default();
                        let phase = m["phase"].as_str().unwrap_or_default();
                        if value.is_empty() {
                            phase.to_string()
                        } else {
                            format!("{value} {phase}")
                        }
                    })
                    .collect();
                println!(
                    "    {}: {} ({} measured: {})",
                    metric["name"].as_str().unwrap_or_default(),
                    metric["phase"].as_str().unwrap_or_default(),
                    metric["count"].as_i64().unwrap_or(0) + metric["error"].as_i64().unwrap_or(0),
                    values.join(", ")
                );
            }
        }
    }
}

/// POSTs `action` for the Rollout `which` names; the answer is the Rollout after it.
async fn act(
    client: &Client,
    which: &Which,
    action: &str,
    body: Option<Value>,
) -> anyhow::Result<RolloutView> {
    let summary = find(client, which).await?;
    client
        .call(Method::POST, &path(&summary, &format!("/{action}")), body)
        .await
}

pub fn run(command: RolloutCommand) -> anyhow::Result<i32> {
    let json = command.api.json()?;
    let client = command.api.client()?;
    crate::apps::runtime().block_on(async move {
        let show = |view: &RolloutView| -> anyhow::Result<()> {
            if json {
                println!("{}", serde_json::to_string_pretty(view)?);
            } else {
                print_view(view);
            }
            Ok(())
        };
        match &command.action {
            RolloutAction::List => {
                let list: RolloutList = client.call(Method::GET, "/api/v1/rollouts", None).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&list)?);
                } else {
                    let rows = list
                        .items
                        .iter()
                        .map(|r| {
                            vec![
                                r.name.clone(),
                                r.namespace.clone(),
                                r.cluster.clone(),
                                r.strategy.clone(),
                                r.phase.clone(),
                                step_text(r),
                                format!("{}/{}", r.available, r.desired),
                                r.message.clone(),
                            ]
                        })
                        .collect();
                    println!(
                        "{}",
                        table(
                            &[
                                "NAME",
                                "NAMESPACE",
                                "CLUSTER",
                                "STRATEGY",
                                "STATUS",
                                "STEP",
                                "AVAILABLE",
                                "MESSAGE"
                            ],
                            rows
                        )
                    );
                }
                Ok(0)
            }
            RolloutAction::Get(which) => {
                let summary = find(&client, which).await?;
                let view: RolloutView = client.call(Method::GET, &path(&summary, ""), None).await?;
                show(&view)?;
                Ok(0)
            }
            RolloutAction::Watch { which, until_done } => {
                let summary = find(&client, which).await?;
                let url = format!(
                    "{}/api/v1/stream/rollouts",
                    command.api.server.trim_end_matches('/')
                );
                let mut request = client.http.get(&url);
                if let Some(token) = &command.api.token {
                    request = request.bearer_auth(token);
                }
                let mut events = request.send().await?.error_for_status()?;
                loop {
                    let view: RolloutView =
                        client.call(Method::GET, &path(&summary, ""), None).await?;
                    show(&view)?;
                    match view.summary.phase.as_str() {
                        "Healthy" if *until_done => return Ok(0),
                        "Degraded" if *until_done => return Ok(crate::apps::EXIT_ERROR),
                        _ => {}
                    }
                    // The next change of this Rollout (any event line naming it).
                    loop {
                        let Some(chunk) = events.chunk().await? else {
                            anyhow::bail!("the server closed the event stream");
                        };
                        let text = String::from_utf8_lossy(&chunk);
                        if text.contains(&format!("\"name\":\"{}\"", summary.name)) {
                            break;
                        }
                    }
                    println!();
                }
            }
            RolloutAction::Promote { which, full } => {
                let view = act(
                    &client,
                    which,
                    if *full { "promote-full" } else { "promote" },
                    None,
                )
                .await?;
                show(&view)?;
                Ok(0)
            }
            RolloutAction::Abort(which)
            | RolloutAction::Retry(which)
            | RolloutAction::Pause(which)
            | RolloutAction::Resume(which)
            | RolloutAction::Restart(which) => {
                let verb = match &command.action {
                    RolloutAction::Abort(_) => "abort",
                    RolloutAction::Retry(_) => "retry",
                    RolloutAction::Pause(_) => "pause",
                    RolloutAction::Resume(_) => "resume",
                    _ => "restart",
                };
                show(&act(&client, which, verb, None).await?)?;
                Ok(0)
            }
            RolloutAction::Undo { which, to_revision } => {
                let body = serde_json::to_value(UndoRequest {
                    to_revision: *to_revision,
                })?;
                show(&act(&client, which, "undo", Some(body)).await?)?;
                Ok(0)
            }
        }
    })
}
