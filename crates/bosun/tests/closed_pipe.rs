//! `bosun render … | head`: a one-shot command whose reader goes away ends quietly, as any Unix
//! tool does, instead of panicking with exit 101 (issue 14).

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

#[test]
fn output_into_a_closed_pipe_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    // Far more than a pipe's buffer (64 KiB on Linux), so some write surely meets the closed
    // pipe, whenever the reader closes it.
    let value = "x".repeat(1000);
    let mut objects = String::new();
    for n in 0..300 {
        objects.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{n}\ndata:\n  v: {value}\n"
        ));
    }
    std::fs::write(manifests.join("objects.yaml"), objects).unwrap();
    let app = dir.path().join("app.yaml");
    std::fs::write(
        &app,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: big\nspec:\n  source:\n    repoURL: {}\n    path: .\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: big\n",
            manifests.display()
        ),
    )
    .unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_bosun"))
        .args(["render", app.to_str().unwrap()])
        .env("BOSUN_CACHE", dir.path().join("cache"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `| head -c 0`: the reader closes its end without reading.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "ended by SIGPIPE like any Unix tool: {:?} {stderr}",
        out.status
    );
}

/// SIGPIPE stays ignored outside printing: the first fetch of a file:// repository talks to
/// `git-upload-pack` over pipes and may write after it has exited, which killed `bosun render`
/// by SIGPIPE (exit 141, nothing printed) when the default action was restored process-wide.
#[test]
fn the_first_fetch_of_a_file_repository_is_not_killed_by_sigpipe() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("app")).unwrap();
    std::fs::write(
        repo.join("app/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    )
    .unwrap();
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-qm",
            "a",
        ],
    ] {
        assert!(
            Command::new("git")
                .args(args)
                .current_dir(&repo)
                .status()
                .unwrap()
                .success()
        );
    }
    let app = dir.path().join("app.yaml");
    std::fs::write(
        &app,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: a\nspec:\n  source:\n    repoURL: file://{}\n    targetRevision: main\n    path: app\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: a\n",
            repo.display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_bosun"))
        .args(["render", app.to_str().unwrap()])
        .env("BOSUN_CACHE", dir.path().join("cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{:?} (signal {:?}): {}",
        out.status,
        out.status.signal(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("name: a"));
}
