//! The workload simulation end to end: a cluster started in-process with short delays, driven
//! through the same `Objects` API the HTTP handlers use, watched until the controllers and the
//! simulated kubelet reach the state a real cluster would. Every wait is bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use bosun_cluster::controllers::Timing;
use bosun_cluster::objects::{DeleteOptions, Propagation, WriteOptions};
use bosun_cluster::resources::ResourceType;
use bosun_cluster::server::{ClusterConfig, RunningCluster, start};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(30);

async fn cluster(nodes: usize) -> RunningCluster {
    start(ClusterConfig {
        nodes,
        timing: Timing {
            pod_ready_delay: Duration::from_millis(300),
            job_run_time: Duration::from_millis(500),
            resync: Duration::from_secs(1),
        },
        ..Default::default()
    })
    .await
    .expect("cluster starts")
}

fn rt(c: &RunningCluster, group: &str, version: &str, plural: &str) -> ResourceType {
    c.state
        .objects
        .registry
        .by_plural(group, version, plural)
        .expect("built-in type")
}

fn client() -> WriteOptions {
    WriteOptions::manager("test")
}

/// Polls `check` until it returns Some, failing after DEADLINE with `what`.
async fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let until = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the store has taken no write for `quiet`, failing after DEADLINE.
async fn wait_quiet(c: &RunningCluster, quiet: Duration) {
    let until = tokio::time::Instant::now() + DEADLINE;
    let mut rv = c.state.objects.store.current_rv();
    let mut since = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = tokio::time::Instant::now();
        let current = c.state.objects.store.current_rv();
        if current != rv {
            (rv, since) = (current, now);
        } else if now - since >= quiet {
            return;
        }
        assert!(
            now < until,
            "the store never went {quiet:?} without a write"
        );
    }
}

fn get(c: &RunningCluster, t: &ResourceType, ns: &str, name: &str) -> Option<Arc<Value>> {
    c.state.objects.get(t, ns, name).ok()
}

fn list(c: &RunningCluster, t: &ResourceType, ns: &str) -> Vec<Arc<Value>> {
    c.state.objects.list(t, Some(ns)).items
}

fn condition<'a>(o: &'a Value, kind: &str) -> Option<&'a Value> {
    o["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

fn is_ready(pod: &Value) -> bool {
    condition(pod, "Ready").is_some_and(|c| c["status"] == "True")
}

fn deployment(name: &str, replicas: i64, image: &str, strategy: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": strategy,
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]}},
        },
    })
}

fn set_image(c: &RunningCluster, name: &str, image: &str) {
    let deployments = rt(c, "apps", "v1", "deployments");
    c.state
        .objects
        .modify(&deployments, "default", name, None, &client(), |live| {
            let mut next = live.clone();
            next["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
            Ok(next)
        })
        .expect("update the image");
}

fn replica_sets_of(c: &RunningCluster, name: &str) -> Vec<Arc<Value>> {
    let replicasets = rt(c, "apps", "v1", "replicasets");
    list(c, &replicasets, "default")
        .into_iter()
        .filter(|rs| rs["metadata"]["ownerReferences"][0]["name"] == name)
        .collect()
}

fn revision(rs: &Value) -> &str {
    rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        .as_str()
        .unwrap_or_default()
}

fn rs_with_image(c: &RunningCluster, name: &str, image: &str) -> Option<Arc<Value>> {
    replica_sets_of(c, name)
        .into_iter()
        .find(|rs| rs["spec"]["template"]["spec"]["containers"][0]["image"] == image)
}

/// Waits until the Deployment reports every replica updated and available at its generation.
async fn wait_complete(c: &RunningCluster, name: &str, replicas: i64) -> Arc<Value> {
    let deployments = rt(c, "apps", "v1", "deployments");
    wait_for(&format!("deployment {name} complete"), || {
        let d = get(c, &deployments, "default", name)?;
        let s = &d["status"];
        let done = s["observedGeneration"] == d["metadata"]["generation"]
            && s["updatedReplicas"].as_i64().unwrap_or(0) == replicas
            && s["replicas"].as_i64().unwrap_or(0) == replicas
            && s["availableReplicas"].as_i64().unwrap_or(0) == replicas
            && condition(&d, "Progressing")
                .is_some_and(|p| p["reason"] == "NewReplicaSetAvailable");
        done.then_some(d)
    })
    .await
}

#[tokio::test]
async fn deployment_scales_up_and_becomes_available() {
    let c = cluster(2).await;
    let deployments = rt(&c, "apps", "v1", "deployments");
    let pods = rt(&c, "", "v1", "pods");
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
    c.state
        .objects
        .create(
            &deployments,
            "default",
            deployment("web", 3, "nginx:1.27", strategy),
            &client(),
        )
        .unwrap();
    let d = wait_complete(&c, "web", 3).await;
    let available = condition(&d, "Available").unwrap();
    assert_eq!(available["status"], "True");
    assert_eq!(available["reason"], "MinimumReplicasAvailable");
    assert_eq!(d["status"]["readyReplicas"], 3);
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );

    let sets = replica_sets_of(&c, "web");
    assert_eq!(sets.len(), 1);
    let rs = &sets[0];
    let hash = rs["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap();
    assert_eq!(rs["metadata"]["name"], format!("web-{hash}"));
    assert_eq!(
        rs["spec"]["selector"]["matchLabels"]["pod-template-hash"],
        hash
    );
    assert_eq!(rs["metadata"]["ownerReferences"][0]["controller"], true);
    assert_eq!(
        rs["metadata"]["ownerReferences"][0]["blockOwnerDeletion"],
        true
    );
    assert_eq!(revision(rs), "1");
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"],
        "3"
    );
    assert_eq!(
        rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"],
        "4"
    );

    let running = list(&c, &pods, "default");
    assert_eq!(running.len(), 3);
    let mut nodes: Vec<&str> = running
        .iter()
        .map(|p| p["spec"]["nodeName"].as_str().unwrap())
        .collect();
    nodes.sort();
    nodes.dedup();
    assert_eq!(nodes.len(), 2, "round-robin over both nodes");
    for pod in &running {
        assert!(is_ready(pod));
        assert_eq!(pod["status"]["phase"], "Running");
        assert!(
            pod["status"]["podIP"]
                .as_str()
                .unwrap()
                .starts_with("10.244.")
        );
        assert_eq!(pod["metadata"]["labels"]["pod-template-hash"], hash);
        assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
    }

    // kubectl scale: the one active ReplicaSet follows.
    c.state
        .objects
        .modify(&deployments, "default", "web", None, &client(), |live| {
            let mut next = live.clone();
            next["spec"]["replicas"] = json!(1);
            Ok(next)
        })
        .unwrap();
    wait_complete(&c, "web", 1).await;
    wait_for("two pods gone", || {
        (list(&c, &pods, "default").len() == 1).then_some(())
    })
    .await;
    c.shutdown().await;
}

#[tokio::test]
async fn rolling_update_respects_surge_and_unavailable_and_tracks_revisions() {
    let c = cluster(1).await;
    let deployments = rt(&c, "apps", "v1", "deployments");
    let pods = rt(&c, "", "v1", "pods");
    let strategy =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
    c.state
        .objects
        .create(
            &deployments,
            "default",
            deployment("api", 4, "api:v1", strategy),
            &client(),
        )
        .unwrap();
    wait_complete(&c, "api", 4).await;

    // Watch every change during the rollout: never more than replicas + maxSurge Pods, never
    // fewer than replicas - maxUnavailable ready ones.
    let most = Arc::new(AtomicI64::new(0));
    let fewest_ready = Arc::new(AtomicI64::new(i64::MAX));
    let mut events = c.state.objects.store.subscribe();
    let state = c.state.clone();
    let (most2, fewest2) = (most.clone(), fewest_ready.clone());
    let watcher = tokio::spawn(async move {
        let pods_gr = bosun_cluster::resources::GroupResource::new("", "pods");
        while let Ok(event) = events.recv().await {
            if event.gr != pods_gr {
                continue;
            }
            let all = state.store_pods();
            let count = all.len() as i64;
            let ready = all.iter().filter(|p| is_ready(p)).count() as i64;
            most2.fetch_max(count, Ordering::SeqCst);
            fewest2.fetch_min(ready, Ordering::SeqCst);
        }
    });
    set_image(&c, "api", "api:v2");
    let d = wait_complete(&c, "api", 4).await;
    watcher.abort();
    assert!(
        most.load(Ordering::SeqCst) <= 5,
        "at most replicas + maxSurge pods: {}",
        most.load(Ordering::SeqCst)
    );
    assert!(
        fewest_ready.load(Ordering::SeqCst) >= 4,
        "never below replicas - maxUnavailable ready"
    );
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );

    let old = rs_with_image(&c, "api", "api:v1").unwrap();
    let new = rs_with_image(&c, "api", "api:v2").unwrap();
    assert_eq!(revision(&old), "1");
    assert_eq!(revision(&new), "2");
    wait_for("old replica set scaled to 0", || {
        let old = rs_with_image(&c, "api", "api:v1")?;
        (old["spec"]["replicas"] == 0 && old["status"]["replicas"] == 0).then_some(())
    })
    .await;
    let all = list(&c, &pods, "default");
    assert_eq!(all.len(), 4);
    assert!(
        all.iter()
            .all(|p| p["spec"]["containers"][0]["image"] == "api:v2")
    );

    // `kubectl rollout undo` puts the old template back: the old ReplicaSet becomes the new one
    // with the next revision, remembering its earlier one.
    set_image(&c, "api", "api:v1");
    let d = wait_complete(&c, "api", 4).await;
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );
    let back = rs_with_image(&c, "api", "api:v1").unwrap();
    assert_eq!(revision(&back), "3");
    assert_eq!(
        back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"],
        "1"
    );
    assert_eq!(replica_sets_of(&c, "api").len(), 2, "no third replica set");
    c.shutdown().await;
}

trait StorePods {
    fn store_pods(&self) -> Vec<Arc<Value>>;
}

impl StorePods for bosun_cluster::server::ClusterState {
    fn store_pods(&self) -> Vec<Arc<Value>> {
        self.objects
            .store
            .list(
                &bosun_cluster::resources::GroupResource::new("", "pods"),
                Some("default"),
            )
            .items
    }
}

#[tokio::test]
async fn bad_image_exceeds_the_progress_deadline_and_keeps_old_pods() {
    let c = cluster(1).await;
    let deployments = rt(&c, "apps", "v1", "deployments");
    let mut d = deployment(
        "shop",
        2,
        "shop:v1",
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
    );
    d["spec"]["progressDeadlineSeconds"] = json!(3);
    c.state
        .objects
        .create(&deployments, "default", d, &client())
        .unwrap();
    wait_complete(&c, "shop", 2).await;

    set_image(&c, "shop", "shop:crashloop");
    let d = wait_for("ProgressDeadlineExceeded", || {
        let d = get(&c, &deployments, "default", "shop")?;
        let p = condition(&d, "Progressing")?;
        (p["status"] == "False" && p["reason"] == "ProgressDeadlineExceeded").then_some(d)
    })
    .await;
    let new = rs_with_image(&c, "shop", "shop:crashloop").unwrap();
    assert_eq!(
        condition(&d, "Progressing").unwrap()["message"],
        format!(
            "ReplicaSet \"{}\" has timed out progressing.",
            new["metadata"]["name"].as_str().unwrap()
        )
    );
    // 25% of 2 rounds down to 0 unavailable: the old ReplicaSet keeps both ready Pods.
    let old = rs_with_image(&c, "shop", "shop:v1").unwrap();
    assert_eq!(old["spec"]["replicas"], 2);
    assert_eq!(old["status"]["readyReplicas"], 2);
    assert_eq!(d["status"]["availableReplicas"], 2);
    assert_eq!(condition(&d, "Available").unwrap()["status"], "True");
    let pods = rt(&c, "", "v1", "pods");
    let crashing = list(&c, &pods, "default")
        .into_iter()
        .find(|p| p["spec"]["containers"][0]["image"] == "shop:crashloop")
        .unwrap();
    assert_eq!(
        crashing["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
        "CrashLoopBackOff"
    );
    assert!(!is_ready(&crashing));
    c.shutdown().await;
}

#[tokio::test]
async fn paused_deployment_does_not_roll_out() {
    let c = cluster(1).await;
    let deployments = rt(&c, "apps", "v1", "deployments");
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
    c.state
        .objects
        .create(
            &deployments,
            "default",
            deployment("p", 1, "p:v1", strategy),
            &client(),
        )
        .unwrap();
    wait_complete(&c, "p", 1).await;
    c.state
        .objects
        .modify(&deployments, "default", "p", None, &client(), |live| {
            let mut next = live.clone();
            next["spec"]["paused"] = json!(true);
            next["spec"]["template"]["spec"]["containers"][0]["image"] = json!("p:v2");
            Ok(next)
        })
        .unwrap();
    wait_for("DeploymentPaused", || {
        let d = get(&c, &deployments, "default", "p")?;
        (condition(&d, "Progressing")?["reason"] == "DeploymentPaused").then_some(())
    })
    .await;
    assert!(
        rs_with_image(&c, "p", "p:v2").is_none(),
        "no new replica set while paused"
    );
    c.state
        .objects
        .modify(&deployments, "default", "p", None, &client(), |live| {
            let mut next = live.clone();
            next["spec"]["paused"] = json!(false);
            Ok(next)
        })
        .unwrap();
    wait_complete(&c, "p", 1).await;
    assert!(rs_with_image(&c, "p", "p:v2").is_some());
    c.shutdown().await;
}

#[tokio::test]
async fn foreground_deletion_removes_replica_sets_and_pods_first() {
    let c = cluster(1).await;
    let deployments = rt(&c, "apps", "v1", "deployments");
    let pods = rt(&c, "", "v1", "pods");
    let strategy = json!({"type": "Recreate"});
    c.state
        .objects
        .create(
            &deployments,
            "default",
            deployment("gone", 2, "gone:v1", strategy),
            &client(),
        )
        .unwrap();
    wait_complete(&c, "gone", 2).await;
    c.state
        .objects
        .delete(
            &deployments,
            "default",
            "gone",
            &DeleteOptions {
                propagation: Propagation::Foreground,
                ..DeleteOptions::default()
            },
        )
        .unwrap();
    wait_for("deployment, replica sets and pods gone", || {
        (get(&c, &deployments, "default", "gone").is_none()
            && replica_sets_of(&c, "gone").is_empty()
            && list(&c, &pods, "default").is_empty())
        .then_some(())
    })
    .await;
    c.shutdown().await;
}

#[tokio::test]
async fn statefulset_creates_pods_in_order() {
    let c = cluster(1).await;
    let sets = rt(&c, "apps", "v1", "statefulsets");
    let claims = rt(&c, "", "v1", "persistentvolumeclaims");
    // Replay the event stream: when web-i appears, web-0..i-1 must already be Ready.
    let mut events = c.state.objects.store.subscribe();
    let order = tokio::spawn(async move {
        let mut ready = std::collections::BTreeMap::new();
        let mut created = Vec::new();
        while let Ok(e) = events.recv().await {
            if e.gr.resource != "pods" {
                continue;
            }
            let i: usize = e.name.trim_start_matches("web-").parse().unwrap();
            if e.event_type == bosun_cluster::store::EventType::Added {
                assert!(
                    (0..i).all(|j| ready.get(&j) == Some(&true)),
                    "web-{i} created before its predecessors were ready"
                );
                created.push(e.name.clone());
            }
            ready.insert(i, is_ready(&e.object));
            if created.len() == 3 && ready.values().all(|r| *r) && ready.len() == 3 {
                return created;
            }
        }
        created
    });
    let set = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "serviceName": "web", "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "db:1"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}}}}]}});
    c.state
        .objects
        .create(&sets, "default", set, &client())
        .unwrap();
    let created = tokio::time::timeout(DEADLINE, order)
        .await
        .expect("three ready pods")
        .unwrap();
    assert_eq!(created, ["web-0", "web-1", "web-2"]);
    let s = wait_for("statefulset status", || {
        let s = get(&c, &sets, "default", "web")?;
        (s["status"]["readyReplicas"] == 3
            && s["status"]["currentRevision"] == s["status"]["updateRevision"])
            .then_some(s)
    })
    .await;
    assert_eq!(s["status"]["replicas"], 3);
    let pvc = wait_for("bound claim", || {
        let p = get(&c, &claims, "default", "data-web-1")?;
        (p["status"]["phase"] == "Bound").then_some(p)
    })
    .await;
    assert_eq!(pvc["status"]["capacity"]["storage"], "1Gi");
    let pods = rt(&c, "", "v1", "pods");
    let web1 = get(&c, &pods, "default", "web-1").unwrap();
    assert_eq!(web1["spec"]["hostname"], "web-1");
    assert_eq!(
        web1["metadata"]["labels"]["apps.kubernetes.io/pod-index"],
        "1"
    );

    // A rolling update with partition 2 replaces only web-2.
    c.state
        .objects
        .modify(&sets, "default", "web", None, &client(), |live| {
            let mut next = live.clone();
            next["spec"]["updateStrategy"] =
                json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 2}});
            next["spec"]["template"]["spec"]["containers"][0]["image"] = json!("db:2");
            Ok(next)
        })
        .unwrap();
    wait_for("web-2 updated and ready", || {
        let p = get(&c, &pods, "default", "web-2")?;
        (p["spec"]["containers"][0]["image"] == "db:2" && is_ready(&p)).then_some(())
    })
    .await;
    let s = wait_for("one updated replica", || {
        let s = get(&c, &sets, "default", "web")?;
        (s["status"]["updatedReplicas"] == 1 && s["status"]["readyReplicas"] == 3).then_some(s)
    })
    .await;
    assert_ne!(
        s["status"]["currentRevision"],
        s["status"]["updateRevision"]
    );
    assert_eq!(
        get(&c, &pods, "default", "web-0").unwrap()["spec"]["containers"][0]["image"],
        "db:1"
    );
    c.shutdown().await;
}

#[tokio::test]
async fn daemonset_runs_one_pod_per_node() {
    let c = cluster(3).await;
    let sets = rt(&c, "apps", "v1", "daemonsets");
    let pods = rt(&c, "", "v1", "pods");
    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "c", "image": "agent:1"}]}}}});
    c.state
        .objects
        .create(&sets, "default", ds, &client())
        .unwrap();
    let ds = wait_for("daemonset ready on 3 nodes", || {
        let d = get(&c, &sets, "default", "agent")?;
        (d["status"]["numberReady"] == 3 && d["status"]["numberAvailable"] == 3).then_some(d)
    })
    .await;
    assert_eq!(ds["status"]["desiredNumberScheduled"], 3);
    assert_eq!(ds["status"]["updatedNumberScheduled"], 3);
    let mut nodes: Vec<String> = list(&c, &pods, "default")
        .iter()
        .map(|p| p["spec"]["nodeName"].as_str().unwrap().to_string())
        .collect();
    nodes.sort();
    assert_eq!(nodes, ["bosun-node-0", "bosun-node-1", "bosun-node-2"]);
    c.shutdown().await;
}

fn job(name: &str, image: &str, backoff_limit: i64) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"backoffLimit": backoff_limit, "template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": image}]}}}})
}

#[tokio::test]
async fn jobs_complete_or_hit_their_backoff_limit() {
    let c = cluster(1).await;
    let jobs = rt(&c, "batch", "v1", "jobs");
    let pods = rt(&c, "", "v1", "pods");
    c.state
        .objects
        .create(&jobs, "default", job("ok", "busybox:1", 6), &client())
        .unwrap();
    c.state
        .objects
        .create(&jobs, "default", job("bad", "busybox:fail", 2), &client())
        .unwrap();
    let ok = wait_for("job complete", || {
        let j = get(&c, &jobs, "default", "ok")?;
        condition(&j, "Complete").filter(|c| c["status"] == "True")?;
        Some(j)
    })
    .await;
    assert_eq!(ok["status"]["succeeded"], 1);
    assert!(ok["status"]["completionTime"].is_string());
    assert_eq!(
        condition(&ok, "SuccessCriteriaMet").unwrap()["status"],
        "True"
    );
    let bad = wait_for("job failed", || {
        let j = get(&c, &jobs, "default", "bad")?;
        condition(&j, "Failed").filter(|c| c["status"] == "True")?;
        Some(j)
    })
    .await;
    assert_eq!(
        condition(&bad, "Failed").unwrap()["reason"],
        "BackoffLimitExceeded"
    );
    assert_eq!(
        bad["status"]["failed"], 3,
        "backoffLimit 2: the third failure ends it"
    );
    let failed_pods = list(&c, &pods, "default")
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["job-name"] == "bad")
        .filter(|p| p["status"]["phase"] == "Failed")
        .count();
    assert_eq!(failed_pods, 3);
    c.shutdown().await;
}

#[tokio::test]
async fn cronjob_creates_the_job_that_is_due() {
    let c = cluster(1).await;
    let cronjobs = rt(&c, "batch", "v1", "cronjobs");
    let jobs = rt(&c, "batch", "v1", "jobs");
    // Last run three minutes ago: the run of the current minute is due now. A create drops the
    // status it is sent (as the apiserver's does), so the last run is written through /status.
    let three_minutes_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(180);
    let cj = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}});
    let first_minute = jiff::Timestamp::now().as_second() / 60;
    c.state
        .objects
        .create(&cronjobs, "default", cj, &client())
        .unwrap();
    c.state
        .objects
        .modify(
            &cronjobs,
            "default",
            "tick",
            Some("status"),
            &client(),
            |live| {
                let mut next = live.clone();
                next["status"]["lastScheduleTime"] =
                    json!(three_minutes_ago.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
                Ok(next)
            },
        )
        .unwrap();
    let job = wait_for("a job", || list(&c, &jobs, "default").into_iter().next()).await;
    let name = job["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("tick-"), "{name}");
    assert_eq!(job["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    assert_eq!(job["metadata"]["ownerReferences"][0]["controller"], true);
    wait_for("lastSuccessfulTime", || {
        let cj = get(&c, &cronjobs, "default", "tick")?;
        cj["status"]["lastSuccessfulTime"]
            .as_str()
            .map(String::from)
    })
    .await;
    // One Job per scheduled minute. The missed runs collapse into the one due when the CronJob
    // appeared; a minute boundary that passes while the test runs schedules one more.
    let last_minute = jiff::Timestamp::now().as_second() / 60;
    let mut minutes: Vec<i64> = list(&c, &jobs, "default")
        .iter()
        .map(|j| {
            let name = j["metadata"]["name"].as_str().unwrap();
            let minute: i64 = name.strip_prefix("tick-").unwrap().parse().unwrap();
            assert_eq!(
                j["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"],
                jiff::Timestamp::from_second(minute * 60)
                    .unwrap()
                    .strftime("%Y-%m-%dT%H:%M:%SZ")
                    .to_string(),
                "{name}"
            );
            minute
        })
        .collect();
    minutes.sort();
    assert!(
        minutes[0] >= first_minute && minutes[minutes.len() - 1] <= last_minute,
        "no Job for the missed runs, none ahead of time: {minutes:?} (test ran in minutes {first_minute}..={last_minute})"
    );
    assert!(
        minutes.windows(2).all(|w| w[1] == w[0] + 1),
        "one run per schedule: {minutes:?}"
    );
    c.shutdown().await;
}

#[tokio::test]
async fn services_get_cluster_ips_endpoints_and_load_balancer_addresses() {
    let c = cluster(1).await;
    let deployments = rt(&c, "apps", "v1", "deployments");
    let services = rt(&c, "", "v1", "services");
    let endpoints = rt(&c, "", "v1", "endpoints");
    let pods = rt(&c, "", "v1", "pods");
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
    let mut d = deployment("front", 2, "front:1", strategy);
    d["spec"]["template"]["spec"]["containers"][0]["ports"] =
        json!([{"name": "http", "containerPort": 8080}]);
    c.state
        .objects
        .create(&deployments, "default", d, &client())
        .unwrap();
    // One more matching Pod that never becomes ready.
    let lame = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "lame", "labels": {"app": "front"},
        "annotations": {"bosun.dev/simulate": "never-ready"}},
        "spec": {"containers": [{"name": "app", "image": "front:1", "ports": [{"name": "http", "containerPort": 8080}]}]}});
    c.state
        .objects
        .create(&pods, "default", lame, &client())
        .unwrap();
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "front"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "front"}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}});
    c.state
        .objects
        .create(&services, "default", svc, &client())
        .unwrap();
    wait_complete(&c, "front", 2).await;
    let svc = wait_for("allocations", || {
        let s = get(&c, &services, "default", "front")?;
        s["status"]["loadBalancer"]["ingress"][0]["ip"].as_str()?;
        Some(s)
    })
    .await;
    let ip = svc["spec"]["clusterIP"].as_str().unwrap();
    assert!(ip.starts_with("10.96."), "{ip}");
    assert_eq!(svc["spec"]["clusterIPs"][0], ip);
    let node_port = svc["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
    assert!((30000..=32767).contains(&node_port));
    assert!(
        svc["status"]["loadBalancer"]["ingress"][0]["ip"]
            .as_str()
            .unwrap()
            .starts_with("172.18.")
    );

    let ready_ips: std::collections::BTreeSet<String> = list(&c, &pods, "default")
        .iter()
        .filter(|p| is_ready(p))
        .map(|p| p["status"]["podIP"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ready_ips.len(), 2);
    let ep = wait_for("endpoints with the ready pods", || {
        let e = get(&c, &endpoints, "default", "front")?;
        let listed: std::collections::BTreeSet<String> = e["subsets"][0]["addresses"]
            .as_array()?
            .iter()
            .map(|a| a["ip"].as_str().unwrap().to_string())
            .collect();
        (listed == ready_ips && e["subsets"][0]["notReadyAddresses"].as_array()?.len() == 1)
            .then_some(e)
    })
    .await;
    assert_eq!(
        ep["subsets"][0]["ports"][0],
        json!({"name": "web", "port": 8080, "protocol": "TCP"})
    );

    // Scaling the Deployment down takes a Pod out of the Endpoints.
    c.state
        .objects
        .modify(&deployments, "default", "front", None, &client(), |live| {
            let mut next = live.clone();
            next["spec"]["replicas"] = json!(1);
            Ok(next)
        })
        .unwrap();
    wait_for("one ready address", || {
        let e = get(&c, &endpoints, "default", "front")?;
        (e["subsets"][0]["addresses"].as_array()?.len() == 1).then_some(())
    })
    .await;
    c.state
        .objects
        .delete(&services, "default", "front", &DeleteOptions::default())
        .unwrap();
    wait_for("endpoints removed with the service", || {
        get(&c, &endpoints, "default", "front")
            .is_none()
            .then_some(())
    })
    .await;
    c.shutdown().await;
}

#[tokio::test]
async fn ingress_gets_status_and_hpa_holds_its_bounds() {
    let c = cluster(1).await;
    let ingresses = rt(&c, "networking.k8s.io", "v1", "ingresses");
    let hpas = rt(&c, "autoscaling", "v2", "horizontalpodautoscalers");
    let deployments = rt(&c, "apps", "v1", "deployments");
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
    c.state
        .objects
        .create(
            &deployments,
            "default",
            deployment("scaled", 1, "s:1", strategy),
            &client(),
        )
        .unwrap();
    let ing = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "site"},
        "spec": {"rules": [{"host": "site.local", "http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "front", "port": {"number": 80}}}}]}}]}});
    c.state
        .objects
        .create(&ingresses, "default", ing, &client())
        .unwrap();
    let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "scaled"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "scaled"},
            "minReplicas": 2, "maxReplicas": 5}});
    c.state
        .objects
        .create(&hpas, "default", hpa, &client())
        .unwrap();
    wait_for("ingress address", || {
        let i = get(&c, &ingresses, "default", "site")?;
        (i["status"]["loadBalancer"]["ingress"][0]["ip"] == "10.0.0.1").then_some(())
    })
    .await;
    // Below minReplicas, the HPA scales its target up to it (before, and without, metrics).
    let h = wait_for("hpa scaled its target to minReplicas", || {
        let h = get(&c, &hpas, "default", "scaled")?;
        (h["status"]["currentReplicas"] == 2).then_some(h)
    })
    .await;
    assert_eq!(
        get(&c, &deployments, "default", "scaled").unwrap()["spec"]["replicas"],
        2
    );
    assert_eq!(h["status"]["desiredReplicas"], 2);
    assert!(h["status"]["lastScaleTime"].is_string(), "{h}");
    assert_eq!(
        condition(&h, "ScalingLimited").unwrap()["reason"],
        "DesiredWithinRange"
    );
    assert_eq!(condition(&h, "ScalingActive").unwrap()["status"], "False");
    c.shutdown().await;
}

// Many Deployments converge, and once they have, the controllers stop writing: resyncs and
// the events of their own writes must not turn into no-op updates or a busy loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_deployments_settle_and_go_quiet() {
    let c = cluster(3).await;
    let deployments = rt(&c, "apps", "v1", "deployments");
    let count = 300;
    for i in 0..count {
        let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
        c.state
            .objects
            .create(
                &deployments,
                "default",
                deployment(&format!("d{i}"), 1, "app:1", strategy),
                &client(),
            )
            .unwrap();
    }
    wait_for("every deployment available", || {
        let done = list(&c, &deployments, "default")
            .iter()
            .filter(|d| {
                condition(d, "Progressing").is_some_and(|p| p["reason"] == "NewReplicaSetAvailable")
            })
            .count();
        (done == count).then_some(())
    })
    .await;
    // Let in-flight writes land, then watch two resync periods go by.
    wait_quiet(&c, Duration::from_millis(1500)).await;
    let before = c.state.objects.store.current_rv();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        c.state.objects.store.current_rv(),
        before,
        "no writes once converged"
    );
    c.shutdown().await;
}

/// The requests `service` answered with `status`, in a `/metrics` text.
fn requests(text: &str, service: &str, status: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.starts_with("http_requests_total{")
                && l.contains(&format!("service=\"{service}\""))
                && l.contains(&format!("status=\"{status}\""))
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

/// Simulated traffic: a canary Ingress (NGINX's annotations) sends 20 % to the canary Service,
/// the stable Ingress of the same host the rest; each Service's requests go to its ready pods,
/// and a pod answers 500 as often as its `SIMULATED_ERROR_RATE` says — a literal value, or a
/// ConfigMap's key read as a kubelet reads it, once, when the pod starts. Counted exactly (a
/// `Traffic` of the test's own, advanced by hand, so the cluster's clock adds nothing).
#[tokio::test]
async fn services_receive_simulated_traffic_by_router_weight_and_pod_behaviour() {
    let c = cluster(1).await;
    let deployments = rt(&c, "apps", "v1", "deployments");
    let services = rt(&c, "", "v1", "services");
    let ingresses = rt(&c, "networking.k8s.io", "v1", "ingresses");
    let endpoints = rt(&c, "", "v1", "endpoints");
    let mut good = deployment("good", 2, "shop:1", json!({}));
    good["spec"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "SIMULATED_LATENCY_MS", "value": "30"}]);
    let config_maps = rt(&c, "", "v1", "configmaps");
    let config = |rate: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shop-config"},
            "data": {"error-rate": rate}})
    };
    c.state
        .objects
        .create(&config_maps, "default", config("50%"), &client())
        .unwrap();
    let mut bad = deployment("bad", 1, "shop:2", json!({}));
    bad["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"name": "SIMULATED_ERROR_RATE",
        "valueFrom": {"configMapKeyRef": {"name": "shop-config", "key": "error-rate"}}}]);
    for d in [good, bad] {
        c.state
            .objects
            .create(&deployments, "default", d, &client())
            .unwrap();
    }
    for (name, app) in [("shop-stable", "good"), ("shop-canary", "bad")] {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": app}, "ports": [{"port": 80}]}});
        c.state
            .objects
            .create(&services, "default", svc, &client())
            .unwrap();
    }
    let ingress = |name: &str, service: &str, annotations: Value| {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.example", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}]}})
    };
    for i in [
        ingress("shop", "shop-stable", json!({})),
        ingress(
            "shop-canary",
            "shop-canary",
            json!({"nginx.ingress.kubernetes.io/canary": "true", "nginx.ingress.kubernetes.io/canary-weight": "20"}),
        ),
    ] {
        c.state
            .objects
            .create(&ingresses, "default", i, &client())
            .unwrap();
    }
    for (name, n) in [("shop-stable", 2), ("shop-canary", 1)] {
        wait_for("ready endpoints", || {
            let e = get(&c, &endpoints, "default", name)?;
            (e["subsets"][0]["addresses"].as_array()?.len() == n).then_some(())
        })
        .await;
    }
    let traffic = bosun_cluster::traffic::Traffic::new(10.0);
    traffic.advance(&c.state, Duration::from_secs(10));
    let text = traffic.exposition();
    let sum = |service: &str, status: &str| requests(&text, service, status);
    // 10 requests/s for 10 s: 80 % to the stable (2 pods), 20 % to the canary (half of them 500).
    assert_eq!(sum("shop-stable", "200"), 80.0, "{text}");
    assert_eq!(sum("shop-stable", "500"), 0.0, "{text}");
    assert_eq!(sum("shop-canary", "200"), 10.0, "{text}");
    assert_eq!(sum("shop-canary", "500"), 10.0, "{text}");
    // The stable's 30 ms land in the 0.05 s bucket and above, none below.
    let bucket = |le: &str| -> f64 {
        text.lines()
            .filter(|l| {
                l.contains("service=\"shop-stable\"") && l.contains(&format!("le=\"{le}\""))
            })
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    };
    assert_eq!(bucket("0.025"), 0.0, "{text}");
    assert_eq!(bucket("0.05"), 80.0, "{text}");
    assert!(text.contains("# TYPE http_request_duration_seconds histogram"));
    // The ConfigMap changed under a running pod: its environment is the one it started with.
    let mut changed = config("0");
    changed["metadata"]["resourceVersion"] = get(&c, &config_maps, "default", "shop-config")
        .unwrap()["metadata"]["resourceVersion"]
        .clone();
    c.state
        .objects
        .replace(
            &config_maps,
            "default",
            "shop-config",
            None,
            changed,
            &client(),
        )
        .unwrap();
    traffic.advance(&c.state, Duration::from_secs(10));
    let text = traffic.exposition();
    assert_eq!(requests(&text, "shop-canary", "500"), 20.0, "{text}");
}

/// A Rollout revision's copy of its ConfigMap (bosun-rollout's `config::copy`): owned by the
/// ReplicaSet as a plain owner (`controller: false`), it goes when the ReplicaSet is deleted,
/// and so do the ReplicaSet's pods; a ConfigMap with no such owner stays.
#[tokio::test]
async fn a_replica_sets_config_copy_is_deleted_with_it() {
    let c = cluster(1).await;
    let replicasets = rt(&c, "apps", "v1", "replicasets");
    let config_maps = rt(&c, "", "v1", "configmaps");
    let pods = rt(&c, "", "v1", "pods");
    let rs = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-5f6d8", "labels": {"app": "web"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{
                "name": "web", "image": "web:1",
                "envFrom": [{"configMapRef": {"name": "web-config-5f6d8"}}]}]}}}});
    let rs = c
        .state
        .objects
        .create(&replicasets, "default", rs, &client())
        .unwrap();
    for (name, owners) in [
        (
            "web-config-5f6d8",
            json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5f6d8",
                "uid": rs["metadata"]["uid"], "controller": false}]),
        ),
        ("web-config", json!([])),
    ] {
        let copy = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"rollouts-pod-template-hash": "5f6d8"},
                "ownerReferences": owners},
            "immutable": true, "data": {"rate": "0"}});
        c.state
            .objects
            .create(&config_maps, "default", copy, &client())
            .unwrap();
    }
    wait_for("the ReplicaSet's pod", || {
        (!list(&c, &pods, "default").is_empty()).then_some(())
    })
    .await;
    c.state
        .objects
        .delete(
            &replicasets,
            "default",
            "web-5f6d8",
            &DeleteOptions::default(),
        )
        .unwrap();
    wait_for("the copy and the pod deleted with the ReplicaSet", || {
        (get(&c, &config_maps, "default", "web-config-5f6d8").is_none()
            && list(&c, &pods, "default").is_empty())
        .then_some(())
    })
    .await;
    assert!(get(&c, &config_maps, "default", "web-config").is_some());
    c.shutdown().await;
}
