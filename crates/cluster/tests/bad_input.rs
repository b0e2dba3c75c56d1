//! Bad input gets the Status error a real apiserver returns, and the store is unchanged.

mod common;

use common::TestCluster;
use kube::core::Status;
use serde_json::json;

/// Sends a raw request; returns the Status of a refusal (panics if the request succeeded).
async fn refused(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Status {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body)
        .expect("request");
    match client.request_text(request).await {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("{method} {path} should have been refused, got {other:?}"),
    }
}

/// What the tests here could change, with each object's resourceVersion: the ConfigMaps, Secrets
/// and Deployments of every namespace and the names of the Namespaces (whose status the
/// namespace controller may still be writing after start, which is no change of ours).
async fn store_version(client: &kube::Client) -> Vec<String> {
    let mut state = Vec::new();
    for path in [
        "/api/v1/configmaps",
        "/api/v1/secrets",
        "/apis/apps/v1/deployments",
        "/api/v1/namespaces",
    ] {
        let request = http::Request::get(path).body(Vec::new()).unwrap();
        let list: serde_json::Value =
            serde_json::from_str(&client.request_text(request).await.unwrap()).unwrap();
        for item in list["items"].as_array().unwrap() {
            let meta = &item["metadata"];
            let version = if path.ends_with("namespaces") {
                ""
            } else {
                meta["resourceVersion"].as_str().unwrap()
            };
            state.push(format!(
                "{path} {}/{} {version}",
                meta["namespace"].as_str().unwrap_or_default(),
                meta["name"].as_str().unwrap()
            ));
        }
    }
    state.sort();
    state
}

const CM_PATH: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_status_and_changes_nothing() {
    let c = TestCluster::start().await;
    let client = c.client();
    let before = store_version(&client).await;

    // Malformed JSON: 400 BadRequest.
    let s = refused(
        &client,
        "POST",
        CM_PATH,
        "application/json",
        b"{\"apiVersion\": \"v1\", \"kind\":".to_vec(),
    )
    .await;
    assert_eq!(
        (s.code, s.reason.as_str()),
        (400, "BadRequest"),
        "{}",
        s.message
    );

    // Malformed YAML: 400 BadRequest.
    let s = refused(
        &client,
        "POST",
        CM_PATH,
        "application/yaml",
        b"apiVersion: v1\nkind: [ConfigMap\n  bad".to_vec(),
    )
    .await;
    assert_eq!(
        (s.code, s.reason.as_str()),
        (400, "BadRequest"),
        "{}",
        s.message
    );

    // An unknown resource type: 404 NotFound (the URL names nothing served).
    let s = refused(
        &client,
        "POST",
        "/apis/example.com/v1/namespaces/default/gizmos",
        "application/json",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(
        (s.code, s.reason.as_str()),
        (404, "NotFound"),
        "{}",
        s.message
    );

    // A kind that does not match the URL: 400 BadRequest naming both kinds.
    let body = json!({"apiVersion": "v1", "kind": "Gizmo", "metadata": {"name": "g"}});
    let s = refused(
        &client,
        "POST",
        CM_PATH,
        "application/json",
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(s.code, 400);
    assert!(
        s.message.contains("Gizmo") && s.message.contains("ConfigMap"),
        "{}",
        s.message
    );

    // The wrong apiVersion for a kind: 400 BadRequest naming the versions.
    let body = json!({"apiVersion": "apps/v1beta1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {}});
    let s = refused(
        &client,
        "POST",
        "/apis/apps/v1/namespaces/default/deployments",
        "application/json",
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(s.code, 400);
    assert!(
        s.message.contains("apps/v1beta1") && s.message.contains("apps/v1"),
        "{}",
        s.message
    );

    // Names that are not RFC 1123 subdomains: 422 Invalid with a cause on metadata.name.
    for name in ["Bad_Name", "-leading", "UPPER", "a..b"] {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
        let s = refused(
            &client,
            "POST",
            CM_PATH,
            "application/json",
            body.to_string().into_bytes(),
        )
        .await;
        assert_eq!(
            (s.code, s.reason.as_str()),
            (422, "Invalid"),
            "{name}: {}",
            s.message
        );
        assert!(
            s.message.starts_with(&format!(
                "ConfigMap \"{name}\" is invalid: metadata.name: Invalid value"
            )),
            "{}",
            s.message
        );
        let causes = s
            .details
            .as_ref()
            .map(|d| d.causes.clone())
            .unwrap_or_default();
        assert_eq!(
            causes.first().map(|c| c.field.as_str()),
            Some("metadata.name"),
            "{causes:?}"
        );
    }
    // Namespaces must be DNS labels: a dot is refused.
    let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}});
    let s = refused(
        &client,
        "POST",
        "/api/v1/namespaces",
        "application/json",
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(s.code, 422, "{}", s.message);

    // A body over the 3 MiB limit: 413 RequestEntityTooLarge, refused before parsing.
    let big = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": {"x": "a".repeat(4 * 1024 * 1024)}});
    let s = refused(
        &client,
        "POST",
        CM_PATH,
        "application/json",
        big.to_string().into_bytes(),
    )
    .await;
    assert_eq!(
        (s.code, s.reason.as_str()),
        (413, "RequestEntityTooLarge"),
        "{}",
        s.message
    );

    // An unsupported media type: 415.
    let s = refused(&client, "POST", CM_PATH, "text/plain", b"hello".to_vec()).await;
    assert_eq!(s.code, 415, "{}", s.message);

    // Server-side apply without fieldManager: 400.
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
    let s = refused(
        &client,
        "PATCH",
        &format!("{CM_PATH}/x"),
        "application/apply-patch+yaml",
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(s.code, 400, "{}", s.message);

    assert_eq!(
        store_version(&client).await,
        before,
        "a refused request must not change the store"
    );
    c.shutdown().await;
}

/// Two managers applying different values to the same field: the second is refused with 409
/// Conflict naming the field and the other manager, unless it forces; the store is unchanged by
/// the refused apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_conflict_without_force() {
    let c = TestCluster::start().await;
    let client = c.client();
    let apply = |manager: &str, value: &str, force: bool| {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}, "data": {"key": value}});
        let force = if force { "&force=true" } else { "" };
        http::Request::builder()
            .method("PATCH")
            .uri(format!("{CM_PATH}/shared?fieldManager={manager}{force}"))
            .header("content-type", "application/apply-patch+yaml")
            .body(body.to_string().into_bytes())
            .unwrap()
    };
    client
        .request_text(apply("alice", "one", false))
        .await
        .expect("first apply");
    let before = store_version(&client).await;
    let status = match client.request_text(apply("bob", "two", false)).await {
        Err(kube::Error::Api(s)) => s,
        other => panic!("expected a conflict, got {other:?}"),
    };
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        status.message,
        r#"Apply failed with 1 conflict: conflict with "alice": .data.key"#
    );
    let causes = status
        .details
        .as_ref()
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    assert_eq!(causes[0].field, ".data.key");
    assert_eq!(store_version(&client).await, before);
    // With force, bob takes the field over.
    let forced: serde_json::Value = serde_json::from_str(
        &client
            .request_text(apply("bob", "two", true))
            .await
            .expect("forced apply"),
    )
    .unwrap();
    assert_eq!(forced["data"]["key"], "two");
    let managers: Vec<&str> = forced["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"bob"), "{managers:?}");
    c.shutdown().await;
}

/// Sends a request that must succeed; returns the JSON answer.
async fn accepted(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(serde_json::to_vec(&body).unwrap())
        .expect("request");
    let text = client
        .request_text(request)
        .await
        .unwrap_or_else(|e| panic!("{method} {path} failed: {e}"));
    serde_json::from_str(&text).unwrap()
}

const SECRET_PATH: &str = "/api/v1/namespaces/default/secrets";

/// As the apiserver: a Secret's `stringData` is folded into `data` (a `stringData` key wins) and
/// never stored, on create, dry run, merge patch and server-side apply alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_string_data_is_folded_into_data() {
    let c = TestCluster::start().await;
    let client = c.client();
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
        "data": {"user": "b2xk"}, "stringData": {"user": "new", "password": "hunter2"}});
    let created = accepted(&client, "POST", SECRET_PATH, "application/json", secret).await;
    assert_eq!(
        created["data"],
        json!({"user": "bmV3", "password": "aHVudGVyMg=="})
    );
    assert!(created.get("stringData").is_none(), "{created}");
    let read = accepted(
        &client,
        "GET",
        &format!("{SECRET_PATH}/db"),
        "application/json",
        json!(null),
    )
    .await;
    assert_eq!(read["data"], created["data"]);
    assert!(read.get("stringData").is_none());

    // A dry run answers the folded object and stores nothing.
    let dry = accepted(
        &client,
        "POST",
        &format!("{SECRET_PATH}?dryRun=All"),
        "application/json",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "dry"},
            "stringData": {"k": "v"}}),
    )
    .await;
    assert_eq!(dry["data"], json!({"k": "dg=="}));
    assert!(dry.get("stringData").is_none());
    let s = refused(
        &client,
        "GET",
        &format!("{SECRET_PATH}/dry"),
        "application/json",
        Vec::new(),
    )
    .await;
    assert_eq!(s.code, 404);

    // A merge patch with stringData adds to data.
    let patched = accepted(
        &client,
        "PATCH",
        &format!("{SECRET_PATH}/db"),
        "application/merge-patch+json",
        json!({"stringData": {"extra": "x"}}),
    )
    .await;
    assert_eq!(patched["data"]["extra"], "eA==");
    assert_eq!(patched["data"]["user"], "bmV3");
    assert!(patched.get("stringData").is_none());

    // Server-side apply, created and then re-applied unchanged (a no-op).
    let applied = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ssa"},
        "stringData": {"token": "abc"}});
    let path = format!("{SECRET_PATH}/ssa?fieldManager=test");
    let first = accepted(
        &client,
        "PATCH",
        &path,
        "application/apply-patch+yaml",
        applied.clone(),
    )
    .await;
    assert_eq!(first["data"], json!({"token": "YWJj"}));
    assert!(first.get("stringData").is_none());
    let again = accepted(
        &client,
        "PATCH",
        &path,
        "application/apply-patch+yaml",
        applied,
    )
    .await;
    assert_eq!(
        again["metadata"]["resourceVersion"],
        first["metadata"]["resourceVersion"]
    );
}

/// `data` that is not base64 fails to decode (400, the apiserver's words); a key that is not a
/// valid config key is 422 Invalid naming `data[key]`, for Secrets and ConfigMaps alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_and_config_map_content_is_validated() {
    let c = TestCluster::start().await;
    let client = c.client();
    let before = store_version(&client).await;
    let post = |path: &'static str, body: serde_json::Value| {
        let client = client.clone();
        async move {
            refused(
                &client,
                "POST",
                path,
                "application/json",
                serde_json::to_vec(&body).unwrap(),
            )
            .await
        }
    };

    let s = post(
        SECRET_PATH,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"k": "not base64!"}}),
    )
    .await;
    assert_eq!((s.code, s.reason.as_str()), (400, "BadRequest"));
    assert_eq!(
        s.message,
        "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 3"
    );

    let key_msg = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
    for field in ["data", "stringData"] {
        let s = post(
            SECRET_PATH,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                field: {"a/b": "YQ=="}}),
        )
        .await;
        assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"), "{field}");
        assert_eq!(
            s.message,
            format!("Secret \"s\" is invalid: data[a/b]: Invalid value: \"a/b\": {key_msg}")
        );
        let causes = s.details.expect("details").causes;
        assert_eq!(causes[0].field, "data[a/b]");
    }

    let s = post(
        CM_PATH,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
            "data": {"..": "x"}}),
    )
    .await;
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    assert!(
        s.message
            .starts_with("ConfigMap \"cm\" is invalid: data[..]: Invalid value: \"..\": "),
        "{}",
        s.message
    );
    let s = post(
        CM_PATH,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
            "binaryData": {"b": "%%"}}),
    )
    .await;
    assert_eq!(
        (s.code, s.reason.as_str()),
        (400, "BadRequest"),
        "{}",
        s.message
    );

    // An update is held to the same rules.
    accepted(
        &client,
        "POST",
        SECRET_PATH,
        "application/json",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ok"}}),
    )
    .await;
    let mid = store_version(&client).await;
    assert_ne!(mid, before);
    let s = refused(
        &client,
        "PATCH",
        &format!("{SECRET_PATH}/ok"),
        "application/merge-patch+json",
        br#"{"data": {"x/y": "YQ=="}}"#.to_vec(),
    )
    .await;
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    // A merge patch of labels is checked as a create is: a value over 63 characters is refused.
    let long = "a".repeat(64);
    let s = refused(
        &client,
        "PATCH",
        &format!("{SECRET_PATH}/ok"),
        "application/merge-patch+json",
        format!(r#"{{"metadata": {{"labels": {{"app": "{long}"}}}}}}"#).into_bytes(),
    )
    .await;
    assert_eq!(
        (s.code, s.reason.as_str()),
        (422, "Invalid"),
        "{}",
        s.message
    );
    assert!(
        s.message.contains("metadata.labels: Invalid value: \"aaaa")
            && s.message.contains("must be no more than 63 characters"),
        "{}",
        s.message
    );
    assert_eq!(store_version(&client).await, mid);
}
