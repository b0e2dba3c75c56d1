//! `kubectl create ...`, `kubectl run` and `kubectl expose` with the real kubectl (v1.32 and
//! v1.35). Since v1.32 these typed-client commands send their objects as protobuf
//! (`application/vnd.kubernetes.protobuf`) with no JSON fallback, so each one checks that the
//! cluster decoded the body into the object the command asked for.

mod common;

use std::path::Path;

use common::{TestCluster, kubectls};
use serde_json::{Value, json};

const NS: &str = "shop";

async fn get(c: &TestCluster, kubectl: &Path, kind: &str, name: &str) -> Value {
    let mut args = vec!["get", kind, name, "-o", "json"];
    if !kind.starts_with("cluster") && kind != "namespace" {
        args.extend(["-n", NS]);
    }
    let out = c.kubectl_ok(kubectl, &args).await;
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("kubectl get {kind} {name}: not JSON ({e}): {out}"))
}

/// Runs a namespaced kubectl command; the namespace flag goes first, as anything after `--` is
/// the container's command.
async fn create(c: &TestCluster, kubectl: &Path, args: &[&str]) {
    let all = [&["-n", NS][..], args].concat();
    c.kubectl_ok(kubectl, &all).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_commands_send_protobuf_objects() {
    for kubectl in kubectls() {
        let k = kubectl.as_path();
        let who = kubectl.display().to_string();
        let c = TestCluster::start().await;

        c.kubectl_ok(k, &["create", "namespace", NS]).await;
        let ns = get(&c, k, "namespace", NS).await;
        assert_eq!(ns["metadata"]["name"], NS, "{who}");

        create(
            &c,
            k,
            &[
                "create",
                "configmap",
                "settings",
                "--from-literal=mode=fast",
                "--from-literal=level=3",
            ],
        )
        .await;
        let cm = get(&c, k, "configmap", "settings").await;
        assert_eq!(cm["data"], json!({"mode": "fast", "level": "3"}), "{who}");
        assert!(
            cm["metadata"]["creationTimestamp"].is_string(),
            "{who}: {cm}"
        );

        create(
            &c,
            k,
            &[
                "create",
                "secret",
                "generic",
                "creds",
                "--from-literal=user=admin",
                "--from-literal=pass=s3cr=t",
            ],
        )
        .await;
        let secret = get(&c, k, "secret", "creds").await;
        // Secret.data is map<string, bytes>: raw bytes on the wire, base64 in JSON.
        assert_eq!(
            secret["data"],
            json!({"user": "YWRtaW4=", "pass": "czNjcj10"}),
            "{who}"
        );

        create(
            &c,
            k,
            &[
                "create",
                "deployment",
                "web",
                "--image=registry.local/web:1.0",
                "--replicas=3",
                "--port=8080",
            ],
        )
        .await;
        let deploy = get(&c, k, "deployment", "web").await;
        assert_eq!(deploy["spec"]["replicas"], 3, "{who}");
        assert_eq!(
            deploy["spec"]["selector"],
            json!({"matchLabels": {"app": "web"}}),
            "{who}"
        );
        assert_eq!(deploy["metadata"]["labels"], json!({"app": "web"}), "{who}");
        let template = &deploy["spec"]["template"];
        assert_eq!(
            template["metadata"]["labels"],
            json!({"app": "web"}),
            "{who}"
        );
        let container = &template["spec"]["containers"][0];
        assert_eq!(container["name"], "web", "{who}");
        assert_eq!(container["image"], "registry.local/web:1.0", "{who}");
        assert_eq!(container["ports"][0]["containerPort"], 8080, "{who}");

        // --replicas=0 is a pointer field set to zero: it must survive as 0, not default to 1.
        create(
            &c,
            k,
            &[
                "create",
                "deployment",
                "idle",
                "--image=registry.local/idle:1",
                "--replicas=0",
            ],
        )
        .await;
        assert_eq!(
            get(&c, k, "deployment", "idle").await["spec"]["replicas"],
            0,
            "{who}"
        );

        create(
            &c,
            k,
            &["create", "service", "clusterip", "backend", "--tcp=80:8080"],
        )
        .await;
        let svc = get(&c, k, "service", "backend").await;
        assert_eq!(svc["spec"]["type"], "ClusterIP", "{who}");
        assert_eq!(svc["spec"]["selector"], json!({"app": "backend"}), "{who}");
        let port = &svc["spec"]["ports"][0];
        assert_eq!(
            (&port["name"], &port["port"], &port["targetPort"]),
            (&json!("80-8080"), &json!(80), &json!(8080)),
            "{who}"
        );
        assert_eq!(port["protocol"], "TCP", "{who}");

        create(&c, k, &["create", "serviceaccount", "robot"]).await;
        assert_eq!(
            get(&c, k, "serviceaccount", "robot").await["metadata"]["name"],
            "robot",
            "{who}"
        );

        create(
            &c,
            k,
            &[
                "create",
                "job",
                "once",
                "--image=registry.local/tool:2",
                "--",
                "migrate",
                "--all",
            ],
        )
        .await;
        let job = get(&c, k, "job", "once").await;
        let pod_spec = &job["spec"]["template"]["spec"];
        assert_eq!(
            pod_spec["containers"][0]["image"], "registry.local/tool:2",
            "{who}"
        );
        assert_eq!(
            pod_spec["containers"][0]["command"],
            json!(["migrate", "--all"]),
            "{who}"
        );
        assert_eq!(pod_spec["restartPolicy"], "Never", "{who}");

        create(
            &c,
            k,
            &[
                "create",
                "cronjob",
                "nightly",
                "--image=registry.local/tool:2",
                "--schedule=0 3 * * *",
                "--",
                "backup",
            ],
        )
        .await;
        let cron = get(&c, k, "cronjob", "nightly").await;
        assert_eq!(cron["spec"]["schedule"], "0 3 * * *", "{who}");
        let pod_spec = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(
            pod_spec["containers"][0]["image"], "registry.local/tool:2",
            "{who}"
        );
        assert_eq!(
            pod_spec["containers"][0]["command"],
            json!(["backup"]),
            "{who}"
        );
        assert_eq!(pod_spec["restartPolicy"], "OnFailure", "{who}");

        create(
            &c,
            k,
            &[
                "create",
                "role",
                "reader",
                "--verb=get",
                "--verb=list",
                "--resource=pods,deployments.apps",
            ],
        )
        .await;
        let role = get(&c, k, "role", "reader").await;
        let rules = role["rules"]
            .as_array()
            .unwrap_or_else(|| panic!("{who}: no rules in {role}"));
        assert!(
            rules.contains(
                &json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]})
            ),
            "{who}: {role}"
        );
        assert!(
            rules.contains(&json!({"verbs": ["get", "list"], "apiGroups": ["apps"], "resources": ["deployments"]})),
            "{who}: {role}"
        );

        create(
            &c,
            k,
            &[
                "create",
                "rolebinding",
                "reader-alice",
                "--role=reader",
                "--user=alice",
                "--serviceaccount=shop:robot",
            ],
        )
        .await;
        let binding = get(&c, k, "rolebinding", "reader-alice").await;
        assert_eq!(
            binding["roleRef"],
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"}),
            "{who}"
        );
        let subjects = binding["subjects"].as_array().expect("subjects");
        assert!(
            subjects.contains(
                &json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"})
            ),
            "{who}: {binding}"
        );
        assert!(
            subjects
                .contains(&json!({"kind": "ServiceAccount", "name": "robot", "namespace": "shop"})),
            "{who}: {binding}"
        );

        c.kubectl_ok(
            k,
            &[
                "create",
                "clusterrole",
                "node-viewer",
                "--verb=get,watch",
                "--resource=nodes",
            ],
        )
        .await;
        let cluster_role = get(&c, k, "clusterrole", "node-viewer").await;
        assert_eq!(
            cluster_role["rules"],
            json!([{"verbs": ["get", "watch"], "apiGroups": [""], "resources": ["nodes"]}]),
            "{who}"
        );

        c.kubectl_ok(
            k,
            &[
                "create",
                "clusterrolebinding",
                "ops-view",
                "--clusterrole=node-viewer",
                "--group=ops",
            ],
        )
        .await;
        let crb = get(&c, k, "clusterrolebinding", "ops-view").await;
        assert_eq!(crb["roleRef"]["kind"], "ClusterRole", "{who}");
        assert_eq!(
            crb["subjects"],
            json!([{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "ops"}]),
            "{who}"
        );

        create(
            &c,
            k,
            &[
                "create",
                "poddisruptionbudget",
                "web",
                "--selector=app=web",
                "--min-available=50%",
            ],
        )
        .await;
        let pdb = get(&c, k, "poddisruptionbudget", "web").await;
        // minAvailable is an IntOrString sent as its string form.
        assert_eq!(pdb["spec"]["minAvailable"], "50%", "{who}");
        assert_eq!(
            pdb["spec"]["selector"],
            json!({"matchLabels": {"app": "web"}}),
            "{who}"
        );

        create(
            &c,
            k,
            &[
                "create",
                "ingress",
                "web",
                "--rule=shop.example.com/api*=web:80",
            ],
        )
        .await;
        let ingress = get(&c, k, "ingress", "web").await;
        let rule = &ingress["spec"]["rules"][0];
        assert_eq!(rule["host"], "shop.example.com", "{who}");
        // IngressRuleValue is an inline struct: `http` sits directly in the rule.
        let path = &rule["http"]["paths"][0];
        assert_eq!(path["path"], "/api", "{who}: {ingress}");
        assert_eq!(path["pathType"], "Prefix", "{who}");
        assert_eq!(
            path["backend"],
            json!({"service": {"name": "web", "port": {"number": 80}}}),
            "{who}"
        );

        create(
            &c,
            k,
            &[
                "run",
                "debug",
                "--image=registry.local/debug:1",
                "--labels=app=debug,tier=tools",
                "--env=MODE=fast",
                "--port=9090",
                "--",
                "sleep",
                "3600",
            ],
        )
        .await;
        let pod = get(&c, k, "pod", "debug").await;
        assert_eq!(
            pod["metadata"]["labels"],
            json!({"app": "debug", "tier": "tools"}),
            "{who}"
        );
        let container = &pod["spec"]["containers"][0];
        assert_eq!(container["image"], "registry.local/debug:1", "{who}");
        assert_eq!(container["args"], json!(["sleep", "3600"]), "{who}");
        assert_eq!(
            container["env"],
            json!([{"name": "MODE", "value": "fast"}]),
            "{who}"
        );
        assert_eq!(container["ports"][0]["containerPort"], 9090, "{who}");

        create(
            &c,
            k,
            &[
                "expose",
                "deployment",
                "web",
                "--port=80",
                "--target-port=8080",
                "--name=web-svc",
            ],
        )
        .await;
        let exposed = get(&c, k, "service", "web-svc").await;
        assert_eq!(exposed["spec"]["selector"], json!({"app": "web"}), "{who}");
        assert_eq!(exposed["spec"]["ports"][0]["port"], 80, "{who}");
        assert_eq!(exposed["spec"]["ports"][0]["targetPort"], 8080, "{who}");

        c.shutdown().await;
    }
}
