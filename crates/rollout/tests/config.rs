//! A revision's config end to end on the local cluster (in process) with the real reconciler:
//! copies made before a crash are taken as they are and handed to their ReplicaSet; a changed
//! Secret, seen by the digest watch, starts a revision; a missing required ConfigMap holds the
//! revision back until it is there.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bosun_cluster::server::{ClusterConfig, start};
use bosun_rollout::config::{self, Digests, Kind};
use bosun_rollout::revision::pod_template_hash;
use bosun_rollout::{RolloutController, controller::rollout_resource};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

fn api(client: &kube::Client, group: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        client.clone(),
        "default",
        &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1", kind), plural),
    )
}

async fn create(api: &Api<DynamicObject>, object: Value) -> Value {
    let made = api
        .create(
            &PostParams::default(),
            &serde_json::from_value(object).unwrap(),
        )
        .await
        .unwrap();
    serde_json::to_value(made).unwrap()
}

async fn get(api: &Api<DynamicObject>, name: &str) -> Option<Value> {
    let found = api.get_opt(name).await.unwrap();
    found.map(|o| serde_json::to_value(o).unwrap())
}

/// Polls `check` (bounded) until it gives a value.
async fn wait_for<T, F: Future<Output = Option<T>>>(what: &str, mut check: impl FnMut() -> F) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn rollout(name: &str, template: &Value) -> Value {
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}}, "template": template,
            "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}}})
}

fn template(app: &str, config_map: &str) -> Value {
    json!({"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "web", "image": "web:1",
        "envFrom": [{"configMapRef": {"name": config_map}}, {"secretRef": {"name": "web-secret", "optional": true}}]}]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_copies_survive_a_crash_follow_a_secret_and_wait_for_missing_config() {
    // The default timing: nothing here waits for a pod.
    let c = start(ClusterConfig::default())
        .await
        .expect("cluster starts");
    let client = kube::Client::try_from(kube::Config::new(c.url().parse().unwrap())).unwrap();
    let mut registry = prometheus_client::registry::Registry::default();
    let controller: Arc<RolloutController> =
        RolloutController::new(bosun_runtime::RuntimeMetrics::register(&mut registry), 4);
    // Watching (and the CRDs installed), but not reconciling yet: the objects of a controller
    // that died between a copy and its ReplicaSet are put in place first.
    controller.add_cluster("local".into(), client.clone()).await;
    let config_maps = api(&client, "", "ConfigMap", "configmaps");
    let secrets = api(&client, "", "Secret", "secrets");
    let replica_sets = api(&client, "apps", "ReplicaSet", "replicasets");
    let rollouts: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &rollout_resource());
    let cm = create(
        &config_maps,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config"},
            "data": {"value": "0"}}),
    )
    .await;
    let secret = create(
        &secrets,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-secret"},
            "data": {"token": "b25l"}}),
    )
    .await;
    let web = template("web", "web-config");
    let mut digests = Digests::new();
    digests.insert((Kind::ConfigMap, "web-config".into()), config::digest(&cm));
    digests.insert((Kind::Secret, "web-secret".into()), config::digest(&secret));
    let first = pod_template_hash(&web, &digests, 0);
    wait_for("the Rollout CRD served", || async {
        rollouts.list(&Default::default()).await.ok()
    })
    .await;
    let made = create(&rollouts, rollout("web", &web)).await;
    let owner = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "web",
        "uid": made["metadata"]["uid"], "controller": false});
    let before = config::copy(
        &cm,
        Kind::ConfigMap,
        &format!("web-config-{first}"),
        &first,
        owner,
    );
    create(&config_maps, before).await;
    controller.start();

    // The ReplicaSet is made, the copy that was there is taken and handed to it, the other made.
    let rs = wait_for("the first ReplicaSet, its copies handed over", || async {
        let rs = get(&replica_sets, &format!("web-{first}")).await?;
        rs["metadata"]["annotations"][config::UNOWNED_ANNOTATION]
            .is_null()
            .then_some(rs)
    })
    .await;
    let uid = rs["metadata"]["uid"].clone();
    for (api, name) in [(&config_maps, "web-config"), (&secrets, "web-secret")] {
        let copy = get(api, &format!("{name}-{first}")).await.unwrap();
        assert_eq!(copy["immutable"], true, "{copy}");
        assert_eq!(
            copy["metadata"]["ownerReferences"],
            json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("web-{first}"),
                "uid": uid, "controller": false}]),
            "{copy}"
        );
    }
    let env_from = &rs["spec"]["template"]["spec"]["containers"][0]["envFrom"];
    assert_eq!(
        env_from[0]["configMapRef"]["name"],
        format!("web-config-{first}")
    );
    assert_eq!(
        env_from[1]["secretRef"]["name"],
        format!("web-secret-{first}")
    );

    // The Secret changes: a new revision, with a copy of the new content.
    let mut changed = get(&secrets, "web-secret").await.unwrap();
    changed["data"]["token"] = json!("dHdv");
    secrets
        .replace(
            "web-secret",
            &PostParams::default(),
            &serde_json::from_value(changed.clone()).unwrap(),
        )
        .await
        .unwrap();
    digests.insert(
        (Kind::Secret, "web-secret".into()),
        config::digest(&changed),
    );
    let second = pod_template_hash(&web, &digests, 0);
    let copy = wait_for("the second revision's copy of the Secret", || async {
        get(&replica_sets, &format!("web-{second}")).await?;
        get(&secrets, &format!("web-secret-{second}")).await
    })
    .await;
    assert_eq!(copy["data"]["token"], "dHdv");
    assert_eq!(
        get(&secrets, &format!("web-secret-{first}")).await.unwrap()["data"]["token"],
        "b25l",
        "the first revision keeps its own"
    );

    // A required ConfigMap that is not there: the revision waits, and the Rollout says why.
    create(&rollouts, rollout("lost", &template("lost", "absent"))).await;
    let status = wait_for("the Rollout saying what it waits for", || async {
        let r = get(&rollouts, "lost").await?;
        r["status"]["message"].as_str().map(str::to_string)
    })
    .await;
    assert_eq!(
        status,
        "InvalidSpec: ConfigMap \"absent\" referenced by the pod template not found"
    );
    let listed = replica_sets.list(&Default::default()).await.unwrap();
    assert!(
        !listed.items.iter().any(|rs| rs
            .metadata
            .name
            .as_deref()
            .unwrap_or("")
            .starts_with("lost-")),
        "no ReplicaSet without its config"
    );
    create(
        &config_maps,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "absent"},
            "data": {"value": "1"}}),
    )
    .await;
    wait_for(
        "the waiting revision made once its ConfigMap is there",
        || async {
            let listed = replica_sets.list(&Default::default()).await.ok()?;
            listed
                .items
                .iter()
                .any(|rs| {
                    rs.metadata
                        .name
                        .as_deref()
                        .unwrap_or("")
                        .starts_with("lost-")
                })
                .then_some(())
        },
    )
    .await;
}
