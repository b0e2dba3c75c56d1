//! Load benchmark of the local cluster (`bosun cluster up`, release build, its own process):
//! writes 10,000 ConfigMaps, lists them and watches them, through kube-rs with bounded
//! concurrency, and records requests per second and the server's peak RSS. Then runs the same
//! workload with the real kubectl as the client, for the ratio. Prints a Markdown section for
//! docs/benchmarks.md.
//!
//! Run: `cargo bench -p bosun --bench cluster_load` (set `BENCH_OBJECTS` for another size).

mod common;

use common::{Server, start_server, tools};

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};

/// Peak resident set size of a process, from /proc (VmHWM), in MiB.
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn configmap(i: usize) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("cm-{i:05}"), "namespace": "default", "labels": {"bench": "load", "shard": (i % 10).to_string()}},
        "data": {"index": i.to_string(), "payload": "x".repeat(256)},
    }))
    .unwrap()
}

struct Figures {
    create_secs: f64,
    list_secs: f64,
    paged_list_secs: f64,
    watch_secs: f64,
    rss_mib: f64,
}

async fn kube_workload(server: &Server, n: usize) -> Figures {
    let config = kube::Config::new(server.url.parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            async move {
                api.create(&PostParams::default(), &configmap(i))
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .expect("create");
    let create_secs = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let all = api
        .list(&ListParams::default().labels("bench=load"))
        .await
        .expect("list");
    assert_eq!(all.items.len(), n);
    let list_secs = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let mut seen = 0;
    let mut params = ListParams::default().limit(500);
    loop {
        let page = api.list(&params).await.expect("paged list");
        seen += page.items.len();
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    assert_eq!(seen, n);
    let paged_list_secs = start.elapsed().as_secs_f64();

    // A watch from resourceVersion 0 replays every object as ADDED.
    let start = Instant::now();
    let mut stream = api
        .watch(&WatchParams::default().labels("bench=load"), "0")
        .await
        .expect("watch")
        .boxed();
    let mut added = 0;
    while added < n {
        match stream.try_next().await.expect("watch event") {
            Some(WatchEvent::Added(_)) => added += 1,
            Some(_) => {}
            None => panic!("watch ended after {added} events"),
        }
    }
    let watch_secs = start.elapsed().as_secs_f64();
    Figures {
        create_secs,
        list_secs,
        paged_list_secs,
        watch_secs,
        rss_mib: peak_rss_mib(server.child.id()),
    }
}

/// The same workload with kubectl: one `kubectl create -f` of a multi-document file (kubectl
/// sends one request per object, in order), then `kubectl get` of all of them.
fn kubectl_workload(kubectl: &Path, server: &Server, dir: &Path, n: usize) -> (f64, f64) {
    let file = dir.join("objects.yaml");
    let mut out = std::fs::File::create(&file).unwrap();
    for i in 0..n {
        let cm = configmap(i);
        writeln!(out, "---\n{}", serde_json::to_string(&cm).unwrap()).unwrap();
    }
    drop(out);
    let run = |args: &[&str]| {
        let start = Instant::now();
        let status = Command::new(kubectl)
            .args(args)
            .env("KUBECONFIG", &server.kubeconfig)
            .stdout(Stdio::null())
            .status()
            .expect("kubectl");
        assert!(status.success(), "kubectl {args:?} failed");
        start.elapsed().as_secs_f64()
    };
    let create = run(&["create", "-f", file.to_str().unwrap()]);
    let list = run(&[
        "get",
        "configmaps",
        "-n",
        "default",
        "-l",
        "bench=load",
        "-o",
        "name",
    ]);
    (create, list)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let n: usize = std::env::var("BENCH_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let tools = tools();
    let kubectl = tools.join("bin/kubectl");
    assert!(
        kubectl.exists(),
        "run scripts/install-test-deps first (kubectl v1.35)"
    );
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let server = start_server(dir.path());
    let f = runtime.block_on(kube_workload(&server, n));
    drop(server);

    let kubectl_dir = tempfile::tempdir().unwrap();
    let server = start_server(kubectl_dir.path());
    let (k_create, k_list) = kubectl_workload(&kubectl, &server, kubectl_dir.path(), n);
    let k_rss = peak_rss_mib(server.child.id());
    drop(server);

    let rps = |secs: f64, requests: usize| requests as f64 / secs;
    println!("## Local cluster: {n} objects (`cargo bench -p bosun --bench cluster_load`)\n");
    println!(
        "Server: `bosun cluster up` (release build, in-memory store), its own process; clients on loopback.\n"
    );
    println!("| step | client | time | rate |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| create {n} ConfigMaps | kube-rs, 16 in flight | {:.2} s | {:.0} requests/s |",
        f.create_secs,
        rps(f.create_secs, n)
    );
    println!(
        "| create {n} ConfigMaps | kubectl create -f (sequential) | {k_create:.2} s | {:.0} requests/s |",
        rps(k_create, n)
    );
    println!(
        "| list {n} (one request) | kube-rs | {:.3} s | {:.0} objects/s |",
        f.list_secs,
        rps(f.list_secs, n)
    );
    println!(
        "| list {n} (one request) | kubectl get -o name | {k_list:.3} s | {:.0} objects/s |",
        rps(k_list, n)
    );
    println!(
        "| list {n} in pages of 500 | kube-rs | {:.3} s | {:.0} objects/s |",
        f.paged_list_secs,
        rps(f.paged_list_secs, n)
    );
    println!(
        "| watch from 0 ({n} ADDED events) | kube-rs | {:.3} s | {:.0} events/s |",
        f.watch_secs,
        rps(f.watch_secs, n)
    );
    println!();
    println!(
        "Peak server RSS: {:.1} MiB after the kube-rs workload, {k_rss:.1} MiB after the kubectl workload.",
        f.rss_mib
    );
    println!(
        "Client ratio for creating (kubectl time / kube-rs time): {:.1}x.",
        k_create / f.create_secs
    );
}
