//! `bosun render`, `bosun diff` and `bosun sync`: Application files in, the engine's answers out.
//! Exit codes follow `argocd app diff` / `kubectl diff`: 0 in sync, 1 different, 2 error.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bosun_apply::sync::{Action, SyncEvent};
use bosun_assess::HealthStatus;
use bosun_engine::load::load_applications;
use bosun_engine::pipeline::{Engine, SyncSettings, default_cache_dir};
use bosun_model::{Application, BosunConfig};

/// Exit code for an error, as `kubectl diff` uses it.
pub const EXIT_ERROR: i32 = 2;

#[derive(clap::Args, Debug)]
pub struct AppArgs {
    /// An Argo CD Application manifest, a multi-document file, or a directory of them.
    pub app_file: PathBuf,
    /// Only the Application with this name.
    #[arg(long)]
    pub app: Option<String>,
    /// bosun's config: clusters and repository credentials.
    #[arg(long, env = "BOSUN_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    #[command(flatten)]
    pub apps: AppArgs,
    /// `text` (a unified diff per object) or `json`.
    #[arg(short = 'o', long, default_value = "text")]
    pub output: String,
}

#[derive(clap::Args, Debug)]
pub struct SyncArgs {
    #[command(flatten)]
    pub apps: AppArgs,
    /// Server-side dry run: nothing changes.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete tracked objects that left Git (default: the Application's automated.prune).
    #[arg(long)]
    pub prune: bool,
    /// Wait until every resource is Healthy.
    #[arg(long)]
    pub wait: bool,
    /// Upper bound for the sync, waits included (`30s`, `5m`).
    #[arg(long, default_value = "5m")]
    pub timeout: String,
}

/// `bosun.yaml` read and validated; errors name the file (and the field).
pub fn read_config(path: &std::path::Path) -> anyhow::Result<BosunConfig> {
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let config = BosunConfig::parse(&text, &path.display().to_string())?;
    install_health_checks(path, &config)?;
    Ok(config)
}

/// The Lua health checks of the config's `argocd-cm` section, compiled and made the checks of
/// every health assessment in this process; customizations bosun does not act on are warned of.
fn install_health_checks(path: &std::path::Path, config: &BosunConfig) -> anyhow::Result<()> {
    let customizations = config.customizations()?;
    for (key, reason) in &customizations.ignored {
        eprintln!(
            "warning: {}: argocd-cm.{key}: accepted but not acted on ({reason})",
            path.display()
        );
    }
    let health = bosun_assess::custom::CustomHealth::new(customizations)
        .map_err(|e| anyhow::anyhow!("{}: argocd-cm.{e}", path.display()))?;
    bosun_assess::custom::install(health);
    Ok(())
}

fn load(args: &AppArgs) -> anyhow::Result<(Engine, Vec<Application>)> {
    let config = match &args.config {
        None => BosunConfig::default(),
        Some(path) => read_config(path)?,
    };
    let apps = load_applications(&args.app_file, args.app.as_deref())?;
    for app in &apps {
        for ignored in app.ignored_fields() {
            eprintln!(
                "warning: {}: {}: accepted but not acted on ({})",
                app.metadata.name, ignored.path, ignored.reason
            );
        }
    }
    Ok((Engine::new(config, default_cache_dir())?, apps))
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// `bosun render`: every object as one YAML stream, Secret values masked as in a diff.
pub fn render(args: AppArgs) -> anyhow::Result<i32> {
    let (engine, apps) = load(&args)?;
    runtime().block_on(async {
        let mut out = String::new();
        for app in &apps {
            let rendered = engine.render(app).await?;
            out.push_str(&yaml_stream(&rendered.objects));
        }
        print!("{out}");
        Ok(0)
    })
}

/// Objects as one YAML stream. Secrets never reach output in clear, so their `data` and
/// `stringData` values (and kubectl's last-applied copy of them) are masked as `bosun diff` masks
/// them; the stream is for reading, not for piping a Secret into `kubectl apply`.
fn yaml_stream(objects: &[serde_json::Value]) -> String {
    let mut out = String::new();
    for object in objects {
        let mut object = object.clone();
        bosun_plan::mask::mask(&mut object);
        out.push_str("---\n");
        out.push_str(&bosun_plan::text::to_yaml(&object));
    }
    out
}

/// `bosun diff`: 0 when everything is in sync, 1 when something differs.
pub fn diff(args: DiffArgs) -> anyhow::Result<i32> {
    let (engine, apps) = load(&args.apps)?;
    let json = match args.output.as_str() {
        "text" => false,
        "json" => true,
        other => anyhow::bail!("-o {other}: expected text or json"),
    };
    runtime().block_on(async {
        let mut differs = false;
        let mut reports = Vec::new();
        for app in &apps {
            let (_, plan) = engine.diff(app).await?;
            differs |= !plan.in_sync();
            shared_warnings(&plan);
            if json {
                reports.push(serde_json::json!({"application": app.metadata.name, "plan": bosun_plan::text::to_json(&plan)}));
            } else {
                let mut stdout = anstream::stdout();
                bosun_plan::text::write_coloured(&plan, &mut stdout)?;
            }
        }
        if json {
            println!("{}", serde_json::to_string_pretty(&reports)?);
        }
        Ok(if differs { 1 } else { 0 })
    })
}

/// Argo CD's SharedResourceWarning, on stderr: objects another Application owns, which a sync
/// takes over (or refuses to, with `FailOnSharedResource=true`).
fn shared_warnings(plan: &bosun_plan::Plan) {
    for warning in plan
        .resources
        .iter()
        .filter_map(|r| r.shared_warning(&plan.app))
    {
        eprintln!("warning: {}: SharedResourceWarning: {warning}", plan.app);
    }
}

fn parse_timeout(text: &str) -> anyhow::Result<Duration> {
    bosun_model::parse_go_duration(text).map_err(|e| anyhow::anyhow!("--timeout {text}: {e}"))
}

/// `bosun sync`: per-resource progress, then a table of resources with sync and health status.
pub fn sync(args: SyncArgs) -> anyhow::Result<i32> {
    let (engine, apps) = load(&args.apps)?;
    let timeout = parse_timeout(&args.timeout)?;
    let terminal = std::io::stderr().is_terminal();
    runtime().block_on(async {
        let mut failed = false;
        for app in &apps {
            let started = Instant::now();
            let bar = terminal.then(|| {
                let bar = indicatif::ProgressBar::new_spinner();
                bar.enable_steady_tick(Duration::from_millis(120));
                bar.set_message(format!("syncing {}", app.metadata.name));
                bar
            });
            let progress = |event: &SyncEvent| {
                let line = match event {
                    SyncEvent::Wave {
                        phase,
                        wave,
                        objects,
                    } => format!("{} wave {wave}: {objects} object(s)", phase.as_str()),
                    SyncEvent::Resource(r) => format!("{} {}", r.key, r.action.as_str()),
                    SyncEvent::Waiting { pending, .. } => {
                        format!("waiting: {}", pending.join("; "))
                    }
                    SyncEvent::Reached(_) => return,
                };
                match &bar {
                    Some(bar) => bar.set_message(line),
                    None => eprintln!("{line}"),
                }
            };
            let settings = SyncSettings {
                dry_run: args.dry_run,
                prune: args.prune.then_some(true),
                timeout,
                resume: None,
                started: std::time::SystemTime::now(),
                only: None,
            };
            let (rendered, plan) = engine.diff(app).await?;
            shared_warnings(&plan);
            let mut report = engine
                .sync_planned(app, rendered, &plan, &settings, &progress)
                .await?;
            if args.wait && report.outcome.succeeded && !args.dry_run {
                loop {
                    if report.health.status == HealthStatus::Healthy || started.elapsed() >= timeout
                    {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    report.health = engine.health(app, &report.rendered).await?;
                }
            }
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            print_table(app, &report);
            let unhealthy =
                args.wait && !args.dry_run && report.health.status != HealthStatus::Healthy;
            if !report.outcome.succeeded {
                eprintln!(
                    "{}: sync failed: {}",
                    app.metadata.name, report.outcome.message
                );
                failed = true;
            } else if unhealthy {
                eprintln!(
                    "{}: not healthy after {}: ",
                    app.metadata.name, args.timeout
                );
                for r in report.health.unhealthy() {
                    eprintln!(
                        "  {} is {}: {}",
                        r.reference(),
                        r.health.status,
                        r.health.message
                    );
                }
                failed = true;
            } else {
                println!(
                    "{}: {} (revision {}), health {}",
                    app.metadata.name,
                    report.outcome.message,
                    report.rendered.revisions.join(","),
                    report.health.status
                );
            }
        }
        Ok(if failed { EXIT_ERROR } else { 0 })
    })
}

fn print_table(app: &Application, report: &bosun_engine::pipeline::SyncReport) {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    table.set_header(vec![
        "KIND",
        "NAMESPACE",
        "NAME",
        "RESULT",
        "HEALTH",
        "MESSAGE",
    ]);
    for r in &report.outcome.resources {
        let health = report
            .health
            .resources
            .iter()
            .find(|h| {
                h.kind == r.key.kind
                    && h.name == r.key.name
                    && h.namespace == r.key.namespace.clone().unwrap_or_default()
            })
            .map(|h| h.health.status.to_string())
            .unwrap_or_default();
        let result = match r.action {
            Action::Created | Action::Configured | Action::Unchanged | Action::Skipped => {
                format!("Synced ({})", r.action.as_str())
            }
            other => other.as_str().to_string(),
        };
        table.add_row(vec![
            r.key.kind.clone(),
            r.key.namespace.clone().unwrap_or_default(),
            r.key.name.clone(),
            result,
            health,
            r.message.clone(),
        ]);
    }
    println!("Application {}:", app.metadata.name);
    println!("{table}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Secrets never reach output in clear: not `data`, not `stringData`, not kubectl's
    // last-applied copy. Other objects print as they are.
    #[test]
    fn yaml_stream_masks_secret_values() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{\"stringData\":{\"password\":\"hunter2\"}}"}},
            "data": {"token": "c2VjcmV0LXRva2Vu"}, "stringData": {"password": "hunter2"}});
        let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"greeting": "hello"}});
        let out = yaml_stream(&[secret, config]);
        for value in ["c2VjcmV0LXRva2Vu", "secret-token", "hunter2"] {
            assert!(!out.contains(value), "{value} in:\n{out}");
        }
        assert!(out.contains("token") && out.contains("password"), "{out}");
        assert!(out.contains("++++++++"), "{out}");
        assert!(out.contains("hello"), "{out}");
    }
}
