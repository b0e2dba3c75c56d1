//! Rollouts at scale: `bosun serve` drives N canary Rollouts of one local cluster; what does it
//! cost, and how late does a timed pause end?
//!
//! A fresh `bosun cluster up` (this build), then `bosun serve` with one trivial Application (so
//! that it connects to the cluster, installs the Argo Rollouts CRDs and drives that cluster's
//! Rollouts). The benchmark then creates N Rollouts (`BENCH_ROLLOUTS`, default 1000) directly,
//! each of `BENCH_REPLICAS` replicas (default 2) with the steps setWeight 25 → pause 5 s →
//! setWeight 75 → pause 5 s, and waits until all are Healthy (the first revision skips its
//! steps). Then it changes every Rollout's image at once and watches the Rollouts until all are
//! Healthy on the new revision.
//!
//! Recorded: time to all Healthy (create, update), the lateness of every timed pause — the
//! instant the watch sees `currentStepIndex` move past a pause minus (`pauseConditions[].
//! startTime` + duration), p50/p99/max, over 2 × N pauses — and peak RSS and CPU seconds of
//! `bosun serve` and of the cluster. Bounded by `BENCH_TIMEOUT` seconds per phase (default 900).
//!
//! Prints a Markdown table; serve's log goes to `BENCH_OUT` (default
//! `$TMPDIR/bosun-rollout-scale`), with `lateness.tsv`: every timed pause's Rollout, step,
//! deadline and lateness.
//!
//! Also recorded: the API requests of the image change per Rollout, by verb and resource (the
//! cluster's `/admin/requests` counts, from the image change to all Healthy; the benchmark's own
//! N patches included), printed after the table.
//!
//! `BENCH_CLUSTER_CPUS` and `BENCH_SERVE_CPUS` pin the cluster and serve (`taskset -c`), to see
//! serve's own latency apart from the cluster it shares the machine with. `BENCH_BOSUN` runs
//! another `bosun` binary (cluster and serve) than this build's, e.g. the previous commit's.
//!
//! Run: `BENCH_ROLLOUTS=1000 cargo bench -p bosun --bench rollout_scale`.

mod common;

use common::{
    clk_tck, kube_client, serve_one_application, start_cluster, usage, wait_for_crds_and_namespace,
};

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kube::Api;
use kube::api::{
    ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::{Value, json};

const NAMESPACE: &str = "bench";
const PAUSE_SECONDS: f64 = 5.0;

fn rollouts_resource() -> ApiResource {
    ApiResource {
        group: "argoproj.io".into(),
        version: "v1alpha1".into(),
        api_version: "argoproj.io/v1alpha1".into(),
        kind: "Rollout".into(),
        plural: "rollouts".into(),
    }
}

fn rollout(i: usize, replicas: u32) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": format!("r-{i}"), "namespace": NAMESPACE},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": format!("r-{i}")}},
            "template": {
                "metadata": {"labels": {"app": format!("r-{i}")}},
                "spec": {"containers": [{"name": "app", "image": "example/app:1"}]}
            },
            "strategy": {"canary": {"steps": [
                {"setWeight": 25},
                {"pause": {"duration": format!("{}s", PAUSE_SECONDS as u32)}},
                {"setWeight": 75},
                {"pause": {"duration": format!("{}s", PAUSE_SECONDS as u32)}}
            ]}}
        }
    })
}

/// What the watch saw of one Rollout.
#[derive(Default, Clone)]
struct Seen {
    healthy_hash: Option<String>,
    step: Option<i64>,
    /// Start of the pause at the step `step`, as written in status.pauseConditions.
    pause_start: Option<jiff::Timestamp>,
}

#[derive(Default)]
struct Watched {
    rollouts: HashMap<String, Seen>,
    /// Seconds each timed pause ended after its deadline.
    lateness: Vec<f64>,
    /// Each timed pause: its Rollout, the step it ended, its deadline and its lateness (for
    /// `lateness.tsv`, to see where the late ones are).
    pauses: Vec<(String, i64, jiff::Timestamp, f64)>,
}

fn observe(watched: &Mutex<Watched>, object: &DynamicObject) {
    let Some(name) = object.metadata.name.clone() else {
        return;
    };
    let status = &object.data["status"];
    let step = status["currentStepIndex"].as_i64();
    let start = status["pauseConditions"]
        .as_array()
        .and_then(|c| c.first())
        .and_then(|c| c["startTime"].as_str())
        .and_then(|s| s.parse::<jiff::Timestamp>().ok());
    let now = jiff::Timestamp::now();
    let mut w = watched.lock().unwrap();
    let seen = w.rollouts.entry(name.clone()).or_default().clone();
    let mut next = seen.clone();
    if let (Some(before), Some(after), Some(started)) = (seen.step, step, seen.pause_start)
        && after > before
    {
        let deadline = started + jiff::SignedDuration::from_secs_f64(PAUSE_SECONDS);
        let late = now.duration_since(deadline).as_secs_f64();
        w.lateness.push(late);
        w.pauses.push((name.clone(), before, deadline, late));
        next.pause_start = None;
    }
    if step != seen.step {
        next.pause_start = None;
    }
    next.step = step;
    if start.is_some() {
        next.pause_start = start;
    }
    next.healthy_hash = (status["phase"] == "Healthy"
        && status["observedGeneration"].as_str().map(str::to_string)
            == object.metadata.generation.map(|g| g.to_string()))
    .then(|| status["stableRS"].as_str().unwrap_or_default().to_string());
    let name = object.metadata.name.clone().unwrap();
    w.rollouts.insert(name, next);
}

/// Follows every Rollout of the namespace into `watched` (list, then watch from its version,
/// re-listing when the watch ends).
async fn follow(api: Api<DynamicObject>, watched: Arc<Mutex<Watched>>) {
    loop {
        let Ok(list) = api.list(&ListParams::default()).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        for object in &list.items {
            observe(&watched, object);
        }
        let mut version = list.metadata.resource_version.unwrap_or_default();
        loop {
            let Ok(stream) = api
                .watch(&WatchParams::default().timeout(290), &version)
                .await
            else {
                break;
            };
            let mut stream = std::pin::pin!(stream);
            let mut ended_cleanly = true;
            while let Ok(Some(event)) = stream.try_next().await {
                match event {
                    WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                        if let Some(v) = &o.metadata.resource_version {
                            version = v.clone();
                        }
                        observe(&watched, &o);
                    }
                    WatchEvent::Error(_) => {
                        ended_cleanly = false;
                        break;
                    }
                    _ => {}
                }
            }
            if !ended_cleanly {
                break;
            }
        }
    }
}

/// Waits until every Rollout is Healthy on a stable hash that `done` accepts; the time it took,
/// or None after `timeout` (with how many were done).
async fn wait_healthy(
    watched: &Mutex<Watched>,
    n: usize,
    timeout: Duration,
    done: impl Fn(&str) -> bool,
) -> Result<f64, usize> {
    let started = Instant::now();
    loop {
        let count = watched
            .lock()
            .unwrap()
            .rollouts
            .values()
            .filter(|s| s.healthy_hash.as_deref().is_some_and(&done))
            .count();
        if count >= n {
            return Ok(started.elapsed().as_secs_f64());
        }
        if started.elapsed() > timeout {
            return Err(count);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The cluster's count of every request so far, by (verb, resource): `GET /admin/requests`
/// over plain HTTP/1.0 (the answer ends with the connection).
fn request_counts(port: u16) -> BTreeMap<(String, String), u64> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(b"GET /admin/requests HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (_, text) = answer.split_once("\r\n\r\n").unwrap_or_default();
    let body: Value = serde_json::from_str(text).unwrap_or_default();
    body["counts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                (
                    c["verb"].as_str().unwrap_or_default().to_string(),
                    c["resource"].as_str().unwrap_or_default().to_string(),
                ),
                c["count"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let n: usize = var("BENCH_ROLLOUTS")
        .map(|v| {
            v.replace('_', "")
                .parse()
                .expect("BENCH_ROLLOUTS: a number")
        })
        .unwrap_or(1000);
    let replicas: u32 = var("BENCH_REPLICAS")
        .map(|v| v.parse().expect("BENCH_REPLICAS: a number"))
        .unwrap_or(2);
    let timeout = Duration::from_secs(
        var("BENCH_TIMEOUT")
            .and_then(|v| v.parse().ok())
            .unwrap_or(900),
    );
    let out = var("BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("bosun-rollout-scale"));
    std::fs::create_dir_all(&out).unwrap();
    let bosun = var("BENCH_BOSUN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_bosun")));
    let clk = clk_tck();

    let dir = tempfile::tempdir().unwrap();
    let cluster = start_cluster(&bosun, dir.path());
    let client = kube_client(&cluster.kubeconfig).await;

    let log_path = out.join("serve.log");
    let serve = serve_one_application(
        &bosun,
        dir.path(),
        &cluster.kubeconfig,
        NAMESPACE,
        // One ConfigMap: serve connects to the cluster and takes its Rollouts.
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bench\ndata:\n  a: b\n",
        &log_path,
    );
    let serve_pid = serve.0.id();
    let cluster_pid = cluster.child.id();

    // The CRD is served once serve has connected.
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), NAMESPACE, &rollouts_resource());
    wait_for_crds_and_namespace(&api, &client, NAMESPACE, &log_path).await;

    let watched = Arc::new(Mutex::new(Watched::default()));
    let follower = tokio::spawn(follow(api.clone(), watched.clone()));

    eprintln!("rollout_scale: creating {n} Rollouts of {replicas} replicas …");
    let started = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            async move {
                let object: DynamicObject = serde_json::from_value(rollout(i, replicas)).unwrap();
                api.create(&PostParams::default(), &object).await.unwrap();
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    let created_in = started.elapsed().as_secs_f64();
    let first = wait_healthy(&watched, n, timeout, |h| !h.is_empty()).await;
    let first_total = started.elapsed().as_secs_f64();
    let stable_before: HashMap<String, String> = watched
        .lock()
        .unwrap()
        .rollouts
        .iter()
        .filter_map(|(k, s)| Some((k.clone(), s.healthy_hash.clone()?)))
        .collect();
    let (rss_first, cpu_first) = usage(serve_pid, clk);
    eprintln!(
        "rollout_scale: first revision {first:?} ({first_total:.1} s with creation); updating the image …"
    );

    let requests_before = request_counts(cluster.port());
    let started = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            async move {
                let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "example/app:2"}]}}}});
                api.patch(&format!("r-{i}"), &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .unwrap();
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    let patched_in = started.elapsed().as_secs_f64();
    // Done when the stable hash is no longer the one before, for every Rollout.
    let second = {
        let started_wait = Instant::now();
        loop {
            let count = {
                let w = watched.lock().unwrap();
                w.rollouts
                    .iter()
                    .filter(|(k, s)| {
                        s.healthy_hash
                            .as_ref()
                            .is_some_and(|h| stable_before.get(*k) != Some(h))
                    })
                    .count()
            };
            if count >= n {
                break Ok(started.elapsed().as_secs_f64());
            }
            if started_wait.elapsed() > timeout {
                break Err(count);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let (rss, cpu) = usage(serve_pid, clk);
    let (cluster_rss, cluster_cpu) = usage(cluster_pid, clk);
    let requests_after = request_counts(cluster.port());
    follower.abort();
    let pauses: String = watched
        .lock()
        .unwrap()
        .pauses
        .iter()
        .map(|(name, step, deadline, late)| format!("{name}\t{step}\t{deadline}\t{late:.3}\n"))
        .collect();
    std::fs::write(out.join("lateness.tsv"), pauses).unwrap();
    let mut lateness = watched.lock().unwrap().lateness.clone();
    lateness.sort_by(f64::total_cmp);

    let describe = |r: Result<f64, usize>| match r {
        Ok(s) => format!("{s:.1} s"),
        Err(done) => format!("timeout ({done}/{n})"),
    };
    println!("## Rollouts at scale (`cargo bench -p bosun --bench rollout_scale`)\n");
    println!(
        "| Rollouts × replicas | create ({created_in:.1} s) → all Healthy | image change ({patched_in:.1} s) → all Healthy on the new revision | pauses ended late by p50 / p99 / max (of {}) | serve peak RSS | serve CPU | cluster peak RSS / CPU |",
        lateness.len()
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {n} × {replicas} | {} | {} | {:.2} / {:.2} / {:.2} s | {rss:.0} MiB (after the first revision {rss_first:.0}) | {cpu:.1} s (first revision {cpu_first:.1}) | {cluster_rss:.0} MiB / {cluster_cpu:.1} s |",
        describe(first),
        describe(second),
        percentile(&lateness, 0.5),
        percentile(&lateness, 0.99),
        lateness.last().copied().unwrap_or(f64::NAN),
    );
    println!("\nAPI requests of the image change per Rollout (verb resource: count / {n}):\n");
    let mut total = 0;
    for (kind, after) in &requests_after {
        let count = after - requests_before.get(kind).copied().unwrap_or(0);
        if count > 0 {
            total += count;
            println!("- {} {}: {:.2}", kind.0, kind.1, count as f64 / n as f64);
        }
    }
    println!("- all: {:.2}", total as f64 / n as f64);
    eprintln!("serve's log: {}", log_path.display());
}
