//! With a data directory, objects survive a restart (same uid, resourceVersions keep rising);
//! without one, a restart starts empty.

mod common;

use bosun_cluster::server::ClusterConfig;
use common::TestCluster;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}})).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_survive_a_restart_with_data_dir() {
    let data = tempfile::tempdir().unwrap();
    let config = || ClusterConfig {
        data_dir: Some(data.path().to_path_buf()),
        timing: common::fast_timing(),
        ..ClusterConfig::default()
    };
    let first = TestCluster::start_with(config()).await;
    let cms: Api<ConfigMap> = Api::namespaced(first.client(), "default");
    let created = cms
        .create(&PostParams::default(), &cm("kept"))
        .await
        .unwrap();
    first.shutdown().await;

    let second = TestCluster::start_with(config()).await;
    let cms: Api<ConfigMap> = Api::namespaced(second.client(), "default");
    let loaded = cms.get("kept").await.expect("object survived the restart");
    assert_eq!(loaded.metadata.uid, created.metadata.uid);
    assert_eq!(
        loaded.metadata.resource_version,
        created.metadata.resource_version
    );
    let next = cms
        .create(&PostParams::default(), &cm("after"))
        .await
        .unwrap();
    let rv = |o: &ConfigMap| {
        o.metadata
            .resource_version
            .as_deref()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(
        rv(&next) > rv(&loaded),
        "resourceVersions keep rising across restarts"
    );
    second.shutdown().await;

    let memory = TestCluster::start().await;
    let cms: Api<ConfigMap> = Api::namespaced(memory.client(), "default");
    assert!(
        cms.get_opt("kept").await.unwrap().is_none(),
        "without --data nothing is kept"
    );
    memory.shutdown().await;
}
