//! The render cache, the tool timeout, the concurrency limit and a missing binary.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bosun_model::{HelmParameter, HelmSource};
use bosun_render::{RenderError, Renderer, Tools};
use common::{find, request, source, tools, write};

fn chart(root: &Path, dir: &str) {
    write(
        root,
        &format!("{dir}/Chart.yaml"),
        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
    );
    write(root, &format!("{dir}/values.yaml"), "size: small\n");
    write(
        root,
        &format!("{dir}/templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  size: {{ .Values.size }}\n",
    );
}

/// A shell script standing in for a tool, executable.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn identical_render_is_served_from_cache_and_a_changed_parameter_is_not() {
    let checkout = tempfile::tempdir().unwrap();
    chart(checkout.path(), "chart");
    let renderer = Renderer::new(tools());
    let src = source("chart");

    let first = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap();
    assert!(!first.from_cache);
    // With the chart gone, only the cache can answer.
    std::fs::remove_dir_all(checkout.path().join("chart")).unwrap();
    let second = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap();
    assert!(second.from_cache);
    assert_eq!(second.objects, first.objects);

    let mut changed = source("chart");
    changed.helm = Some(HelmSource {
        parameters: vec![HelmParameter {
            name: "size".into(),
            value: "large".into(),
            force_string: false,
        }],
        ..Default::default()
    });
    let err = renderer
        .render(&request(checkout.path(), &changed))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RenderError::PathMissing { .. }),
        "a new parameter is a cache miss: {err}"
    );

    let mut other_commit = request(checkout.path(), &src);
    other_commit.commit = "fedcba9876543210fedcba9876543210fedcba98";
    assert!(
        renderer.render(&other_commit).await.is_err(),
        "a new commit is a cache miss"
    );

    chart(checkout.path(), "chart");
    let rendered = renderer
        .render(&request(checkout.path(), &changed))
        .await
        .unwrap();
    assert!(!rendered.from_cache);
    assert_eq!(
        find(&rendered.objects, "ConfigMap", "web")["data"]["size"],
        "large"
    );
    let again = renderer
        .render(&request(checkout.path(), &changed))
        .await
        .unwrap();
    assert!(again.from_cache);
}

#[tokio::test]
async fn tool_outliving_the_timeout_is_killed_and_reported() {
    // A fake helm that never finishes: the only way to exercise the timeout path without
    // waiting 90 s for a real hung render. `exec` makes the sleeping process the child itself,
    // so the kill can be observed on its pid.
    let bin = tempfile::tempdir().unwrap();
    let pid_file = bin.path().join("pid");
    let slow_helm = script(
        bin.path(),
        "helm",
        &format!("echo $$ > {}\nexec sleep 60\n", pid_file.display()),
    );
    let renderer = Renderer::new(Tools {
        helm: slow_helm,
        kubectl: tools().kubectl,
    })
    .with_timeout(Duration::from_secs(1));
    let checkout = tempfile::tempdir().unwrap();
    chart(checkout.path(), "chart");
    let src = source("chart");

    let err = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RenderError::Timeout { command, .. } if command == "helm template"),
        "{err}"
    );
    assert!(err.to_string().contains("was killed"), "{err}");

    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    let mut state = String::new();
    for _ in 0..100 {
        state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting to be reaped: either way no longer running.
        if state.is_empty() || state.split_whitespace().nth(2) == Some("Z") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the timed-out process {pid} is still running: {state}");
}

#[tokio::test]
async fn no_more_tool_processes_than_the_limit_run_at_once() {
    // A wrapper around the real helm that records how many wrappers are running when it starts,
    // and stays long enough for concurrent renders to overlap.
    let bin = tempfile::tempdir().unwrap();
    let running = bin.path().join("running");
    std::fs::create_dir(&running).unwrap();
    let observed = bin.path().join("observed");
    let wrapper = script(
        bin.path(),
        "helm",
        &format!(
            "touch {r}/$$\nls {r} | wc -l >> {o}\nsleep 0.3\nrm {r}/$$\nexec {helm} \"$@\"\n",
            r = running.display(),
            o = observed.display(),
            helm = tools().helm.display()
        ),
    );
    let renderer = Renderer::new(Tools {
        helm: wrapper,
        kubectl: tools().kubectl,
    })
    .with_concurrency(2);
    let checkout = tempfile::tempdir().unwrap();
    chart(checkout.path(), "chart");
    let src = source("chart");
    let apps: Vec<String> = (0..6).map(|i| format!("app-{i}")).collect();
    let renders = apps.iter().map(|app| {
        let renderer = &renderer;
        let src = &src;
        let root = checkout.path();
        async move {
            let mut req = request(root, src);
            req.app_name = app;
            renderer.render(&req).await
        }
    });
    for result in futures::future::join_all(renders).await {
        result.unwrap();
    }
    let counts: Vec<usize> = std::fs::read_to_string(&observed)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(counts.len(), 6, "one helm run per Application: {counts:?}");
    assert!(
        counts.iter().all(|&n| (1..=2).contains(&n)),
        "more than 2 at once: {counts:?}"
    );
}

#[tokio::test]
async fn missing_binary_is_named() {
    let checkout = tempfile::tempdir().unwrap();
    chart(checkout.path(), "chart");
    let renderer = Renderer::new(Tools {
        helm: PathBuf::from("/nonexistent/bosun-test/helm"),
        kubectl: PathBuf::from("/nonexistent/bosun-test/kubectl"),
    });
    let src = source("chart");
    let err = renderer
        .render(&request(checkout.path(), &src))
        .await
        .unwrap_err();
    assert!(matches!(err, RenderError::BinaryMissing { .. }), "{err}");
    assert!(
        err.to_string().contains("/nonexistent/bosun-test/helm"),
        "{err}"
    );
}
