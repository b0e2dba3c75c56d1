//! An error is one line that says each cause once and names the thing it is about (the file,
//! the server URL, the port): bad input to the real `bosun` binary, and what it prints (issue 14).

use std::path::Path;
use std::process::{Command, Output};

fn bosun(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bosun"));
    command
        .args(args)
        .env("BOSUN_CACHE", dir.join("cache"))
        .env("NO_COLOR", "1")
        .env_remove("BOSUN_CONFIG")
        .env_remove("KUBECONFIG");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run bosun")
}

fn application(dir: &Path, manifests: &Path, path: &str) -> std::path::PathBuf {
    let file = dir.join("app.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: t1\nspec:\n  source:\n    repoURL: {}\n    path: {path}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: t1\n",
            manifests.display()
        ),
    )
    .unwrap();
    file
}

/// A loopback port that nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn each_cause_is_printed_once_and_names_what_failed() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(manifests.join("app")).unwrap();
    std::fs::write(
        manifests.join("app/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    )
    .unwrap();
    let port = closed_port();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\nusers:\n- name: u\n  user: {{token: x}}\n"
        ),
    )
    .unwrap();
    let missing = dir.path().join("missing.yaml");
    let server = format!("https://127.0.0.1:{port}");

    struct Case<'a> {
        name: &'a str,
        args: Vec<String>,
        /// Words that must appear exactly once in stderr.
        once: Vec<String>,
    }
    let good = application(dir.path(), &manifests, "app");
    let cases = vec![
        Case {
            name: "a missing Application file",
            args: vec!["render".into(), missing.display().to_string()],
            once: vec![
                missing.display().to_string(),
                "No such file or directory".into(),
            ],
        },
        Case {
            name: "an unreachable cluster",
            args: vec!["diff".into(), good.display().to_string()],
            once: vec![server.clone(), "Connection refused".into()],
        },
    ];
    let mut failures = Vec::new();
    let mut check = |name: &str, output: Output, once: &[String]| {
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        if output.status.code() != Some(2) {
            failures.push(format!("{name}: exit {:?}: {stderr}", output.status));
        }
        for words in once {
            let count = stderr.matches(words.as_str()).count();
            if count != 1 {
                failures.push(format!("{name}: {words:?} {count} times in: {stderr}"));
            }
        }
        if stderr.trim_end().lines().count() != 1 {
            failures.push(format!("{name}: not one line: {stderr}"));
        }
    };
    for case in cases {
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let output = bosun(dir.path(), &args, &[("KUBECONFIG", &kubeconfig)]);
        check(case.name, output, &case.once);
    }
    // Rendering fails before any cluster is needed.
    let bad_path = application(dir.path(), &manifests, "nope");
    let output = bosun(
        dir.path(),
        &["render", bad_path.to_str().unwrap()],
        &[("KUBECONFIG", &kubeconfig)],
    );
    check(
        "a source path that is not in the repository",
        output,
        &[r#"source path "nope" does not exist"#.to_string()],
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn cluster_up_on_a_busy_port_names_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let output = bosun(
        dir.path(),
        &[
            "cluster",
            "up",
            "--port",
            &port,
            "--kubeconfig",
            dir.path().join("kubeconfig").to_str().unwrap(),
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains("Address already in use"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("Address already in use").count(),
        1,
        "{stderr}"
    );
    drop(busy);
}
