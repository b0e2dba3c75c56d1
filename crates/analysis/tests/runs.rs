//! AnalysisRuns end to end on the local cluster (in-process) with the real reconciler: web
//! metrics against an HTTP server of the test's own on loopback, job metrics as Jobs the local
//! cluster runs, limits, and a controller replaced in the middle of a run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bosun_analysis::controller::{AnalysisController, analysis_run_resource};
use bosun_cluster::controllers::Timing;
use bosun_cluster::server::{ClusterConfig, RunningCluster, start};
use kube::api::{Api, DynamicObject, PostParams};
use serde_json::{Value, json};

async fn cluster() -> RunningCluster {
    start(ClusterConfig {
        timing: Timing {
            pod_ready_delay: Duration::from_millis(200),
            job_run_time: Duration::from_millis(300),
            resync: Duration::from_secs(1),
        },
        ..Default::default()
    })
    .await
    .expect("cluster starts")
}

fn client(c: &RunningCluster) -> kube::Client {
    kube::Client::try_from(kube::Config::new(c.url().parse().unwrap())).unwrap()
}

/// The AnalysisRun CRD (Argo's has no status subresource either).
async fn install_crd(client: &kube::Client) {
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "analysisruns.argoproj.io"},
        "spec": {"group": "argoproj.io", "scope": "Namespaced",
            "names": {"kind": "AnalysisRun", "plural": "analysisruns", "singular": "analysisrun", "listKind": "AnalysisRunList"},
            "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}});
    let api: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &kube::core::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk(
                "apiextensions.k8s.io",
                "v1",
                "CustomResourceDefinition",
            ),
            "customresourcedefinitions",
        ),
    );
    api.create(
        &PostParams::default(),
        &serde_json::from_value(crd).unwrap(),
    )
    .await
    .unwrap();
    let runs: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &analysis_run_resource());
    let deadline = Instant::now() + Duration::from_secs(20);
    while runs.list(&Default::default()).await.is_err() {
        assert!(Instant::now() < deadline, "the CRD was not served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn controller() -> Arc<AnalysisController> {
    let mut registry = prometheus_client::registry::Registry::default();
    let c = AnalysisController::new(bosun_runtime::RuntimeMetrics::register(&mut registry), 4);
    c.start();
    c
}

/// A web endpoint on loopback answering `{"data": {"rate": <rate>}}`, counting its requests;
/// `/broken` answers 500.
async fn endpoint(rate: f64) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let app = axum::Router::new()
        .route(
            "/rate",
            axum::routing::get(move || {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    axum::Json(json!({"data": {"rate": rate}}))
                }
            }),
        )
        .route(
            "/empty",
            axum::routing::get(|| async { axum::Json(json!([])) }),
        )
        .route("/plain", axum::routing::get(|| async { "OK" }))
        .route(
            "/broken",
            axum::routing::get(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "no") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

async fn create_run(client: &kube::Client, name: &str, spec: Value) {
    let runs: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &analysis_run_resource());
    let run = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
        "metadata": {"name": name, "namespace": "default"}, "spec": spec});
    runs.create(
        &PostParams::default(),
        &serde_json::from_value(run).unwrap(),
    )
    .await
    .unwrap();
}

/// Polls the run until `done` holds for its status (bounded).
async fn wait_for(
    client: &kube::Client,
    name: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let runs: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &analysis_run_resource());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let run = runs.get(name).await.unwrap();
        let status = run.data["status"].clone();
        if done(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "gave up waiting for {what}: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_and_job_metrics_judge_a_run_by_argos_rules() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = cluster().await;
    let client = client(&c);
    install_crd(&client).await;
    let (url, hits) = endpoint(0.995).await;
    let analysis = controller();
    analysis.add_cluster("local".into(), client.clone()).await;

    // A passing run: a web metric measured three times a second apart, and a Job that succeeds.
    create_run(&client, "good", json!({"metrics": [
        {"name": "rate", "interval": "1s", "count": 3, "successCondition": "result >= 0.99",
         "provider": {"web": {"url": format!("{url}/rate"), "jsonPath": "{$.data.rate}"}}},
        {"name": "smoke", "provider": {"job": {"spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "t", "image": "busybox"}]}}}}}}
    ]})).await;
    let status = wait_for(&client, "good", "the good run to end", |s| {
        s["phase"] == "Successful"
    })
    .await;
    let rate = &status["metricResults"][0];
    assert_eq!(rate["count"], 3, "{status}");
    assert_eq!(rate["measurements"][0]["value"], "0.995");
    assert!(hits.load(Ordering::SeqCst) >= 3);
    let smoke = &status["metricResults"][1];
    assert_eq!(smoke["phase"], "Successful", "{status}");
    assert!(
        smoke["measurements"][0]["metadata"]["job-name"]
            .as_str()
            .unwrap()
            .ends_with(".smoke.1"),
        "{status}"
    );
    assert_eq!(status["runSummary"]["count"], 2);
    assert_eq!(status["runSummary"]["successful"], 2);

    // A failing Job fails its metric and the run, with Argo's message.
    create_run(&client, "bad-job", json!({"metrics": [
        {"name": "smoke", "provider": {"job": {"spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "t", "image": "busybox:fail"}]}}}}}}
    ]})).await;
    let status = wait_for(&client, "bad-job", "the failing job's run", |s| {
        s["phase"] == "Failed"
    })
    .await;
    assert_eq!(
        status["message"],
        "Metric \"smoke\" assessed Failed due to failed (1) > failureLimit (0)"
    );

    // An endpoint answering 500: errors, never a pass; after consecutiveErrorLimit (here 1) + 1
    // errors the run is Error.
    create_run(&client, "broken", json!({"metrics": [
        {"name": "rate", "interval": "1s", "consecutiveErrorLimit": 1, "successCondition": "result >= 0.99",
         "provider": {"web": {"url": format!("{url}/broken")}}}
    ]})).await;
    let status = wait_for(&client, "broken", "the broken endpoint's run", |s| {
        s["phase"] == "Error"
    })
    .await;
    let m = &status["metricResults"][0];
    assert_eq!(m["error"], 2, "{status}");
    assert_eq!(
        m["measurements"][0]["message"],
        "received non 2xx response code: 500"
    );
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .starts_with("Metric \"rate\" assessed Error due to consecutiveErrors (2) > consecutiveErrorLimit (1)"),
        "{status}"
    );

    // No data, with both conditions guarded against it: neither holds, so the measurement is
    // Inconclusive (never a pass), and so is the run.
    create_run(
        &client,
        "no-data",
        json!({"metrics": [
            {"name": "rate",
             "successCondition": "len(result) > 0 && result[0] >= 0.99",
             "failureCondition": "len(result) > 0 && result[0] < 0.9",
             "provider": {"web": {"url": format!("{url}/empty")}}}
        ]}),
    )
    .await;
    let status = wait_for(&client, "no-data", "the run without data", |s| {
        s["phase"] == "Inconclusive"
    })
    .await;
    assert_eq!(status["metricResults"][0]["measurements"][0]["value"], "[]");
    assert_eq!(
        status["message"],
        "Metric \"rate\" assessed Inconclusive due to inconclusive (1) > inconclusiveLimit (0)"
    );

    // A plain-text answer is judged as a string.
    create_run(
        &client,
        "plain",
        json!({"metrics": [
            {"name": "health", "successCondition": "result == \"OK\"",
             "provider": {"web": {"url": format!("{url}/plain")}}}
        ]}),
    )
    .await;
    let status = wait_for(&client, "plain", "the plain-text run", |s| {
        s["phase"] == "Successful"
    })
    .await;
    assert_eq!(status["metricResults"][0]["measurements"][0]["value"], "OK");

    // A spec Argo rejects is an Error that says why, at once.
    create_run(
        &client,
        "invalid",
        json!({"metrics": [
            {"name": "rate", "count": 2, "provider": {"web": {"url": format!("{url}/rate")}}}
        ]}),
    )
    .await;
    let status = wait_for(&client, "invalid", "the invalid run", |s| {
        s["phase"] == "Error"
    })
    .await;
    assert_eq!(
        status["message"],
        "Analysis spec invalid: metrics[0]: interval must be specified when count > 1"
    );

    // ttlStrategy: a completed run is deleted once its time is up (here at once after success);
    // the run without one above stays.
    create_run(
        &client,
        "short-lived",
        json!({
            "ttlStrategy": {"secondsAfterSuccess": 0, "secondsAfterCompletion": 3600},
            "metrics": [{"name": "rate", "successCondition": "result >= 0.99",
                "provider": {"web": {"url": format!("{url}/rate"), "jsonPath": "{$.data.rate}"}}}]
        }),
    )
    .await;
    let runs: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &analysis_run_resource());
    let deadline = Instant::now() + Duration::from_secs(60);
    while runs.get_opt("short-lived").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the expired run was not deleted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(runs.get_opt("good").await.unwrap().is_some());
    drop(analysis);
    c.shutdown().await;
}

/// A controller that stops in the middle of a run (its tasks dropped, as a killed server's) and
/// a new one that takes over: the measurements already taken stay and count, and the run ends
/// after the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_controller_resumes_a_run_with_its_measurements() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = cluster().await;
    let client = client(&c);
    install_crd(&client).await;
    let (url, _) = endpoint(1.0).await;
    let first = controller();
    first.add_cluster("local".into(), client.clone()).await;
    create_run(
        &client,
        "long",
        json!({"metrics": [
            {"name": "rate", "interval": "1s", "count": 4, "successCondition": "result >= 0.99",
             "provider": {"web": {"url": format!("{url}/rate"), "jsonPath": "{$.data.rate}"}}}
        ]}),
    )
    .await;
    let status = wait_for(&client, "long", "two measurements", |s| {
        s["metricResults"][0]["count"].as_i64().unwrap_or(0) >= 2
    })
    .await;
    let first_measurement = status["metricResults"][0]["measurements"][0].clone();
    drop(first);
    let second = controller();
    second.add_cluster("local".into(), client.clone()).await;
    let status = wait_for(&client, "long", "the run to end", |s| {
        s["phase"] == "Successful"
    })
    .await;
    let m = &status["metricResults"][0];
    assert_eq!(m["count"], 4, "{status}");
    assert_eq!(
        m["measurements"][0], first_measurement,
        "the first measurement kept"
    );
    drop(second);
    c.shutdown().await;
}
