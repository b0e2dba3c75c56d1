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
