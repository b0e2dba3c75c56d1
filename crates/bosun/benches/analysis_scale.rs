//! Analysis at scale: `bosun serve` runs N AnalysisRuns that each measure a Prometheus query
//! every 10 s, against one real Prometheus (Debian's `prometheus`) scraping the local cluster.
//!
//! A fresh `bosun cluster up` (this build), a Prometheus on a free loopback port, and `bosun
//! serve` with one trivial Application (so that it connects and installs the Argo Rollouts
//! CRDs). The benchmark creates N runs (`BENCH_RUNS`, default 1000) of one metric
//! (`interval: 10s`, no count: they measure until stopped; the query is the seeds' success-rate
//! shape over the simulated traffic), waits until every run has its first measurement, then
//! watches a window of `BENCH_WINDOW` seconds (default 60).
//!
//! Recorded: time to every run's first measurement; over the window, the queries Prometheus
//! answered per second (its own `prometheus_http_requests_total{handler="/api/v1/query"}`),
//! measurements taken (from the runs' counts), and CPU seconds and peak RSS of `bosun serve`, of
//! Prometheus and of the cluster.
//!
//! Run: `BENCH_RUNS=1000 cargo bench -p bosun --bench analysis_scale`.

mod common;

use common::{
    Process, clk_tck, kube_client, serve_one_application, start_cluster, usage,
    wait_for_crds_and_namespace,
};

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, ListParams, PostParams};
use serde_json::{Value, json};

const NAMESPACE: &str = "bench";

fn runs_resource() -> ApiResource {
    ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "AnalysisRun".into(),
        plural: "analysisruns".into(),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Prometheus' count of answered instant queries.
async fn queries_answered(http: &reqwest::Client, prometheus: &str) -> f64 {
    let Ok(r) = http.get(format!("{prometheus}/metrics")).send().await else {
        return 0.0;
    };
    let text = r.text().await.unwrap_or_default();
    text.lines()
        .filter(|l| {
            l.starts_with("prometheus_http_requests_total{")
                && l.contains("handler=\"/api/v1/query\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// (runs with at least one measurement, measurements in all).
async fn measured(api: &Api<DynamicObject>) -> (usize, i64) {
    let Ok(list) = api.list(&ListParams::default()).await else {
        return (0, 0);
    };
    let counts: Vec<i64> = list
        .items
        .iter()
        .map(|r| {
            let m = &r.data["status"]["metricResults"][0];
            m["count"].as_i64().unwrap_or(0) + m["error"].as_i64().unwrap_or(0)
        })
        .collect();
    (
        counts.iter().filter(|c| **c > 0).count(),
        counts.iter().sum(),
    )
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let n: usize = var("BENCH_RUNS")
        .map(|v| v.replace('_', "").parse().expect("BENCH_RUNS: a number"))
        .unwrap_or(1000);
    let window = Duration::from_secs(
        var("BENCH_WINDOW")
            .and_then(|v| v.parse().ok())
            .unwrap_or(60),
    );
    let out = var("BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("bosun-analysis-scale"));
    std::fs::create_dir_all(&out).unwrap();
    let bosun = PathBuf::from(env!("CARGO_BIN_EXE_bosun"));
    let clk = clk_tck();
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_cluster(&bosun, dir.path());
    let client = kube_client(&cluster.kubeconfig).await;

    // Prometheus, scraping the cluster's simulated traffic.
    let prometheus_port = free_port();
    let prometheus_url = format!("http://127.0.0.1:{prometheus_port}");
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 2s\nscrape_configs:\n- job_name: bosun-cluster\n  static_configs:\n  - targets: ['127.0.0.1:{}']\n",
            cluster.port()
        ),
    )
    .unwrap();
    let prometheus = Process(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (scripts/install-tools installs it)"),
    );
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !http
        .get(format!("{prometheus_url}/-/ready"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "Prometheus did not start");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let log_path = out.join("serve.log");
    let serve = serve_one_application(
        &bosun,
        dir.path(),
        &cluster.kubeconfig,
        NAMESPACE,
        // One Deployment and its Service: the traffic the query measures.
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: web:1\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports:\n  - port: 80\n",
        &log_path,
    );
    let serve_pid = serve.0.id();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, &runs_resource());
    wait_for_crds_and_namespace(&api, &client, NAMESPACE, &log_path).await;
    eprintln!("analysis_scale: creating {n} AnalysisRuns …");
    let query = "sum(rate(http_requests_total{service=\"web\", status=~\"2..\"}[1m])) / sum(rate(http_requests_total{service=\"web\"}[1m]))";
    let started = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            let prometheus_url = prometheus_url.clone();
            async move {
                let run: Value = json!({
                    "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
                    "metadata": {"name": format!("run-{i}"), "namespace": NAMESPACE},
                    "spec": {"metrics": [{
                        "name": "success-rate", "interval": "10s",
                        "successCondition": "len(result) == 0 || result[0] >= 0.99",
                        "provider": {"prometheus": {"address": prometheus_url, "query": query}}
                    }]}
                });
                api.create(
                    &PostParams::default(),
                    &serde_json::from_value(run).unwrap(),
                )
                .await
                .unwrap();
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    let deadline = Instant::now() + Duration::from_secs(600);
    let first_measured = loop {
        let (runs, _) = measured(&api).await;
        if runs >= n {
            break Some(started.elapsed().as_secs_f64());
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let (serve_rss0, serve_cpu0) = usage(serve_pid, clk);
    let (_, prom_cpu0) = usage(prometheus.0.id(), clk);
    let (_, cluster_cpu0) = usage(cluster.child.id(), clk);
    let queries0 = queries_answered(&http, &prometheus_url).await;
    let (_, measurements0) = measured(&api).await;
    tokio::time::sleep(window).await;
    let queries1 = queries_answered(&http, &prometheus_url).await;
    let (_, measurements1) = measured(&api).await;
    let (serve_rss, serve_cpu1) = usage(serve_pid, clk);
    let (prom_rss, prom_cpu1) = usage(prometheus.0.id(), clk);
    let (cluster_rss, cluster_cpu1) = usage(cluster.child.id(), clk);
    let seconds = window.as_secs_f64();
    println!("## Analysis at scale (`cargo bench -p bosun --bench analysis_scale`)\n");
    println!(
        "| runs (1 metric, every 10 s) | create → all measured | queries/s to Prometheus | measurements/s | serve CPU (share of a core) | serve peak RSS | Prometheus CPU / RSS | cluster CPU / RSS |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {n} | {} | {:.1} | {:.1} | {:.2} | {serve_rss:.0} MiB (at first measurement {serve_rss0:.0}) | {:.2} / {prom_rss:.0} MiB | {:.2} / {cluster_rss:.0} MiB |",
        first_measured.map_or("timeout".to_string(), |s| format!("{s:.1} s")),
        (queries1 - queries0) / seconds,
        (measurements1 - measurements0) as f64 / seconds,
        (serve_cpu1 - serve_cpu0) / seconds,
        (prom_cpu1 - prom_cpu0) / seconds,
        (cluster_cpu1 - cluster_cpu0) / seconds,
    );
    eprintln!("serve's log: {}", log_path.display());
}
