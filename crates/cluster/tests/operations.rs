//! Operations: fault injection (500 and 429 answers, added latency, all changeable at run time
//! through `/admin/faults`) and the record of who made each request (`/admin/requests`).

mod common;

use std::time::{Duration, Instant};

use bosun_cluster::faults::FaultConfig;
use bosun_cluster::server::ClusterConfig;
use common::{Answer, TestCluster, send};
use serde_json::{Value, json};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"}, "data": {"k": "v"}})
}

async fn put_faults(client: &kube::Client, faults: Value) -> Answer {
    send(client, "PUT", "/admin/faults", &[], Some(&faults)).await
}

/// Asserts that an answer is the `Status` a real apiserver sends with this code and reason.
fn assert_status(a: &Answer, code: u16, reason: &str) {
    assert_eq!(a.code, code, "{:?}", a.body);
    assert_eq!(a.body["kind"], "Status", "{:?}", a.body);
    assert_eq!(a.body["apiVersion"], "v1");
    assert_eq!(a.body["status"], "Failure");
    assert_eq!(a.body["code"], code);
    assert_eq!(a.body["reason"], reason);
}

/// Started with an error rate of 1 (as `--fault-error-rate 1` does), every API request is
/// answered 500 InternalError with a Status body, and a create stores nothing. Changed at run
/// time to a throttle rate of 1, every request is answered 429 TooManyRequests with
/// `Retry-After: 1` and `details.retryAfterSeconds: 1`, as the apiserver's max-in-flight filter
/// answers. Set back to 0, every request succeeds again. `/admin` is never faulted, so a test can
/// always heal the cluster, and an invalid configuration is refused without changing the faults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_errors_and_throttling_until_healed() {
    let c = TestCluster::start_with(ClusterConfig {
        timing: common::fast_timing(),
        faults: FaultConfig {
            error_rate: 1.0,
            ..FaultConfig::default()
        },
        ..ClusterConfig::default()
    })
    .await;
    let client = c.client_without_retry();

    let faults = send(&client, "GET", "/admin/faults", &[], None).await;
    assert_eq!(faults.code, 200);
    assert_eq!(faults.body["errorRate"], 1.0);
    assert_eq!(faults.body["throttleRate"], 0.0);

    // Rate 1: each of many requests fails, reads and writes alike.
    for _ in 0..20 {
        assert_status(
            &send(&client, "GET", CMS, &[], None).await,
            500,
            "InternalError",
        );
    }
    assert_status(
        &send(&client, "GET", "/apis/apps/v1/deployments", &[], None).await,
        500,
        "InternalError",
    );
    assert_status(
        &send(&client, "POST", CMS, &[], Some(&configmap("during-errors"))).await,
        500,
        "InternalError",
    );
    // Outside the API: /version and the health endpoints are not faulted.
    assert_eq!(send(&client, "GET", "/version", &[], None).await.code, 200);
    assert_eq!(send(&client, "GET", "/readyz", &[], None).await.code, 200);

    // Throttling instead of errors, changed at run time.
    let set = put_faults(&client, json!({"throttleRate": 1.0})).await;
    assert_eq!(set.code, 200, "{:?}", set.body);
    assert_eq!(set.body["throttleRate"], 1.0);
    assert_eq!(set.body["errorRate"], 0.0, "fields left out are 0");
    for _ in 0..20 {
        let a = send(&client, "GET", CMS, &[], None).await;
        assert_status(&a, 429, "TooManyRequests");
        assert_eq!(
            a.headers.get("retry-after").and_then(|v| v.to_str().ok()),
            Some("1"),
            "a 429 tells the client when to retry"
        );
        assert_eq!(a.body["details"]["retryAfterSeconds"], 1);
    }
    assert_status(
        &send(
            &client,
            "POST",
            CMS,
            &[],
            Some(&configmap("during-throttle")),
        )
        .await,
        429,
        "TooManyRequests",
    );

    // Invalid configurations are refused with 400 and change nothing.
    assert_status(
        &put_faults(&client, json!({"errorRate": 1.5})).await,
        400,
        "BadRequest",
    );
    assert_status(
        &put_faults(&client, json!({"errorRatio": 0.5})).await,
        400,
        "BadRequest",
    );
    let faults = send(&client, "GET", "/admin/faults", &[], None).await;
    assert_eq!(faults.body["throttleRate"], 1.0);
    assert_eq!(faults.body["errorRate"], 0.0);

    // Healed: rate 0 again, and every request succeeds.
    let set = put_faults(&client, json!({"errorRate": 0, "throttleRate": 0})).await;
    assert_eq!(set.code, 200, "{:?}", set.body);
    for _ in 0..20 {
        let a = send(&client, "GET", CMS, &[], None).await;
        assert_eq!(a.code, 200, "{:?}", a.body);
        assert_eq!(a.body["kind"], "ConfigMapList");
    }
    // The writes refused earlier stored nothing; a write now succeeds.
    for name in ["during-errors", "during-throttle"] {
        let a = send(&client, "GET", &format!("{CMS}/{name}"), &[], None).await;
        assert_status(&a, 404, "NotFound");
    }
    let created = send(&client, "POST", CMS, &[], Some(&configmap("healed"))).await;
    assert_eq!(created.code, 201, "{:?}", created.body);
    c.shutdown().await;
}

/// Added latency delays every API request by at least the configured time (only a lower bound is
/// asserted: a loaded machine may add more), and is changed at run time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn added_latency_delays_api_requests() {
    let c = TestCluster::start().await;
    let client = c.client_without_retry();
    let set = put_faults(&client, json!({"latencyMs": 300})).await;
    assert_eq!(set.code, 200, "{:?}", set.body);
    assert_eq!(set.body["latencyMs"], 300);
    for (method, body) in [("GET", None), ("POST", Some(configmap("slow")))] {
        let started = Instant::now();
        let a = send(&client, method, CMS, &[], body.as_ref()).await;
        let took = started.elapsed();
        assert!(a.code < 300, "{method}: {:?}", a.body);
        assert!(
            took >= Duration::from_millis(300),
            "{method} took {took:?}, less than the 300 ms of added latency"
        );
    }
    // Latency delays, it does not fail: the create above was stored.
    let got = send(&client, "GET", &format!("{CMS}/slow"), &[], None).await;
    assert_eq!(got.code, 200);
    assert_eq!(
        put_faults(&client, json!({"latencyMs": 0})).await.body["latencyMs"],
        0
    );
    c.shutdown().await;
}

/// Each request is recorded at `GET /admin/requests` (oldest first) with its method, path, answer
/// code, User-Agent and user. There is no authentication, so the user is the one the request
/// names: its Impersonate-User header (kubectl's `--as`, or `as:` in the kubeconfig), else its
/// bearer token, else `system:anonymous`, the user the apiserver gives unauthenticated requests.
/// kubectl sends a kubeconfig's token only over TLS, so it is named by the kubeconfig's `as:`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_recorded_with_their_user() {
    let c = TestCluster::start().await;
    let kubectl = &common::kubectls()[0];
    // The kubeconfig of TestCluster names the user `tester`.
    c.kubectl_ok(kubectl, &["get", "configmaps", "-n", "default"])
        .await;
    c.kubectl_ok(kubectl, &["get", "secrets", "-n", "default", "--as", "bob"])
        .await;
    // kube-rs from the same kubeconfig (it sends both the token and Impersonate-User).
    let kubeconfig = kube::config::Kubeconfig::read_from(&c.kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    let from_kubeconfig = kube::Client::try_from(config).expect("client");
    let nodes = send(&from_kubeconfig, "GET", "/api/v1/nodes", &[], None).await;
    assert_eq!(nodes.code, 200);
    let client = c.client_without_retry();
    let alice = [("authorization", "Bearer alice")];
    let created = send(&client, "POST", CMS, &alice, Some(&configmap("by-alice"))).await;
    assert_eq!(created.code, 201, "{:?}", created.body);
    let missing = send(&client, "GET", &format!("{CMS}/nothing"), &alice, None).await;
    assert_eq!(missing.code, 404);
    let anonymous = send(&client, "GET", &format!("{CMS}/by-alice"), &[], None).await;
    assert_eq!(anonymous.code, 200);

    let log = send(&client, "GET", "/admin/requests", &[], None).await;
    assert_eq!(log.code, 200);
    let items = log.body["items"].as_array().expect("items").clone();
    let find = |user: &str, method: &str, uri_prefix: &str| -> Vec<Value> {
        items
            .iter()
            .filter(|r| {
                r["user"] == user
                    && r["method"] == method
                    && r["uri"].as_str().is_some_and(|u| u.starts_with(uri_prefix))
            })
            .cloned()
            .collect()
    };
    let by_kubectl = find("tester", "GET", CMS);
    assert!(
        by_kubectl.iter().any(|r| r["code"] == 200
            && r["userAgent"]
                .as_str()
                .is_some_and(|a| a.starts_with("kubectl/"))),
        "kubectl's list is recorded under the kubeconfig's user: {items:?}"
    );
    assert_eq!(
        find("tester", "GET", "/api/v1/nodes").len(),
        1,
        "kube-rs with the kubeconfig is recorded under its user: {items:?}"
    );
    assert!(
        !find("bob", "GET", "/api/v1/namespaces/default/secrets").is_empty(),
        "kubectl --as names the user: {items:?}"
    );
    let posted = find("alice", "POST", CMS);
    assert_eq!(posted.len(), 1, "{items:?}");
    assert_eq!(posted[0]["code"], 201);
    assert!(posted[0]["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    let not_found = find("alice", "GET", &format!("{CMS}/nothing"));
    assert_eq!(not_found.len(), 1, "{items:?}");
    assert_eq!(not_found[0]["code"], 404, "refusals are recorded too");
    let anon = find("system:anonymous", "GET", &format!("{CMS}/by-alice"));
    assert_eq!(anon.len(), 1, "{items:?}");
    // Order is the order of the answers, and reading the log is not itself recorded.
    let position = |r: &Value| items.iter().position(|i| i == r).expect("in the log");
    assert!(position(&posted[0]) < position(&not_found[0]));
    assert!(position(&not_found[0]) < position(&anon[0]));
    let again = send(&client, "GET", "/admin/requests", &[], None).await;
    assert!(
        again.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|r| r["uri"] != "/admin/requests"),
        "{:?}",
        again.body
    );
    c.shutdown().await;
}
