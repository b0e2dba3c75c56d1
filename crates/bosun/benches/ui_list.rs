//! The web UI's Application list at scale, measured in the browser: headless Chromium (Debian's,
//! through chromedriver) loads `/ui/applications` of a `bosun serve` that manages N Applications,
//! and the page's own Performance API says when its first contentful paint came, when it became
//! interactive (`domInteractive`) and loaded (`loadEventEnd`), and how big it was on the wire.
//! The search-as-you-type request (`?q=…&partial=rows`) is timed too.
//!
//! The Applications read a repository that does not exist, so `bosun serve` lists them at once
//! (with their Unknown status and a ComparisonError) without a cluster: what is measured is the
//! UI, not the sync. For each N in `BENCH_UI_APPS` (default `100,1000,10000`): 7 loads, medians.
//!
//! Run: `cargo bench -p bosun --bench ui_list`. Prints a Markdown table.

#[allow(dead_code)] // the tests use more of it than this benchmark
#[path = "../tests/common/browser.rs"]
mod browser;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::Value;

const TOKEN: &str = "bench-ui-admin-token-0123456789";
const LOADS: usize = 7;

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The median of the figures that were measured (NaN when none was).
fn median(v: Vec<f64>) -> f64 {
    let mut v: Vec<f64> = v.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `bosun serve` over N Applications; its address.
fn serve(dir: &std::path::Path, n: usize) -> (Serve, String) {
    let apps = dir.join("apps");
    std::fs::create_dir_all(&apps).unwrap();
    for i in 0..n {
        std::fs::write(
            apps.join(format!("app-{i:05}.yaml")),
            format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: app-{i:05}\n  labels: {{team: t{}}}\nspec:\n  project: default\n  source:\n    repoURL: file://{}/missing-repo\n    targetRevision: main\n    path: app\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: ns-{}\n",
                i % 10,
                dir.display(),
                i % 50
            ),
        )
        .unwrap();
    }
    let config = dir.join("bosun.yaml");
    std::fs::write(
        &config,
        "applications:\n- path: apps\nserver:\n  refreshInterval: 1h\n  tokens:\n  - {name: admin, role: admin, tokenEnv: T_ADMIN}\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bosun"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .env("T_ADMIN", TOKEN)
        .env("BOSUN_CACHE", dir.join("cache"))
        .env("KUBECONFIG", dir.join("no-kubeconfig"))
        .env("BOSUN_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let api = line
        .trim()
        .strip_prefix("bosun serve: listening on ")
        .expect("serve's address")
        .to_string();
    (Serve(child), api)
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_UI_APPS")
        .unwrap_or_else(|_| "100,1000,10000".into())
        .split(',')
        .map(|n| n.trim().parse().unwrap())
        .collect();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let mut rows = Vec::new();
    for n in sizes {
        let dir = tempfile::tempdir().unwrap();
        let (_serve, api) = serve(dir.path(), n);
        // Every Application listed by the API first.
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let list: Value = http
                .get(format!("{api}/api/v1/applications"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap_or(Value::Null);
            if list["items"].as_array().map_or(0, Vec::len) == n {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "serve never listed {n} Applications"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let browser = browser::Browser::start().await;
        let b = &browser.client;
        b.goto(&format!("{api}/ui/login")).await.unwrap();
        browser.submit_token(TOKEN).await;
        b.wait().for_element(Locator::Id("count")).await.unwrap();
        let (mut paint, mut interactive, mut loaded, mut bytes, mut search) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..LOADS {
            b.goto(&format!("{api}/ui/applications")).await.unwrap();
            b.wait().for_element(Locator::Id("count")).await.unwrap();
            // The figures exist once the page has loaded and painted: ask until they do.
            let timing = b
                .execute_async(
                    "const done = arguments[0];
                     const look = () => {
                       const nav = performance.getEntriesByType('navigation')[0];
                       const fcp = performance.getEntriesByName('first-contentful-paint')[0];
                       if (nav && nav.loadEventEnd > 0 && fcp) {
                         done({fcp: fcp.startTime, interactive: nav.domInteractive,
                               loaded: nav.loadEventEnd, bytes: nav.transferSize});
                       } else { setTimeout(look, 50); }
                     };
                     look();",
                    vec![],
                )
                .await
                .unwrap();
            paint.push(timing["fcp"].as_f64().unwrap_or(f64::NAN));
            interactive.push(timing["interactive"].as_f64().unwrap_or(f64::NAN));
            loaded.push(timing["loaded"].as_f64().unwrap_or(f64::NAN));
            bytes.push(timing["bytes"].as_f64().unwrap_or(f64::NAN));
            let took = b
                .execute_async(
                    "const done = arguments[0]; const t = performance.now();
                     fetch('/ui/applications?q=app-0001&partial=rows').then(r => r.text())
                       .then(() => done(performance.now() - t));",
                    vec![],
                )
                .await
                .unwrap();
            search.push(took.as_f64().unwrap_or(f64::NAN));
        }
        rows.push(format!(
            "| {n} | {:.0} | {:.0} | {:.0} | {:.1} | {:.0} |",
            median(paint),
            median(interactive),
            median(loaded),
            median(bytes) / 1024.0,
            median(search)
        ));
    }
    println!(
        "| Applications | first contentful paint (ms) | interactive (ms) | loaded (ms) | page on the wire (KiB) | search request (ms) |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for row in rows {
        println!("{row}");
    }
}
