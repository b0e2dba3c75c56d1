//! Bad input to the real `bosun` binary, as a table (issue 14): each case is a command line and
//! its input files, the exit code it must end with, words its error must say exactly once (the
//! file, the field or the thing named), and nothing changed by it: every input file byte-identical
//! afterwards and nothing created beside them, the local cluster's objects at the same
//! resourceVersions, and the history of `bosun serve` the same.

mod common;

use common::{git, write};

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use bosun_cluster::server::{self, ClusterConfig, RunningCluster};
use serde_json::Value;

/// What a user gets for bad input: `kubectl diff`'s error code.
const BAD_INPUT: i32 = 2;
const ADMIN: &str = "admin-token-0123456789abcdef";
/// No case may take longer than this; one that does is killed and reported.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

/// A child process that is killed when dropped, so that a failing test leaves none behind.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `command` to its end, or kills it after `timeout`: its output, or why there is none.
fn run(mut command: Command, timeout: Duration) -> Result<Output, String> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|e| format!("spawn: {e}"))?;
    // Both pipes are drained by threads, so a chatty child never blocks on a full pipe, and the
    // wait below is for the process itself.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let (done, finished) = std::sync::mpsc::channel();
    let pid = child.id();
    let mut child = Process(child);
    let waiter = std::thread::spawn(move || {
        let status = child.0.wait();
        let _ = done.send(());
        (child, status)
    });
    if finished.recv_timeout(timeout).is_err() {
        // SAFETY: kill(2) on the pid of our own child, which has not been reaped (the waiter
        // has not returned), so the pid cannot have been reused.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
        }
        let _ = waiter.join();
        return Err(format!(
            "still running after {timeout:?}; killed. stderr: {}",
            String::from_utf8_lossy(&stderr.join().unwrap_or_default())
        ));
    }
    let (_child, status) = waiter.join().map_err(|_| "waiter panicked".to_string())?;
    Ok(Output {
        status: status.map_err(|e| format!("wait: {e}"))?,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// A loopback port that nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Every file and directory under `root` (except `cache`, bosun's cache of clones and charts,
/// which is no one's input), with the bytes of each file.
fn files(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            if relative == Path::new("cache") {
                continue;
            }
            if path.is_dir() {
                into.insert(relative, None);
                walk(root, &path, into);
            } else {
                into.insert(relative, Some(std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut all = BTreeMap::new();
    walk(root, root, &mut all);
    all
}

/// What differs between two snapshots of [`files`], by path.
fn changed_files(
    before: &BTreeMap<PathBuf, Option<Vec<u8>>>,
    after: &BTreeMap<PathBuf, Option<Vec<u8>>>,
) -> Vec<String> {
    let mut changes = Vec::new();
    for (path, content) in before {
        match after.get(path) {
            None => changes.push(format!("{} removed", path.display())),
            Some(now) if now != content => changes.push(format!("{} changed", path.display())),
            _ => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        changes.push(format!("{} created", path.display()));
    }
    changes
}

/// The cluster's objects and their resourceVersions, leaving out what the cluster's own
/// controllers rewrite on their own (node heartbeats, leases, events).
fn cluster_objects(cluster: &RunningCluster) -> BTreeMap<String, String> {
    cluster
        .state
        .objects
        .store
        .find(|_| true)
        .into_iter()
        .filter(|(gr, _)| !matches!(gr.resource.as_str(), "nodes" | "leases" | "events"))
        .map(|(gr, object)| {
            let meta = &object["metadata"];
            (
                format!(
                    "{}/{} {}/{}",
                    gr.group,
                    gr.resource,
                    meta["namespace"].as_str().unwrap_or_default(),
                    meta["name"].as_str().unwrap_or_default()
                ),
                meta["resourceVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

/// An Argo CD Application named `name` of `path` in the repository `repo`, with `spec_extra`
/// (indented two spaces) after its destination.
fn application(name: &str, repo: &Path, path: &str, spec_extra: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\nspec:\n  project: default\n  source:\n    repoURL: file://{}\n    targetRevision: main\n    path: {path}\n  destination:\n    server: https://kubernetes.default.svc\n    namespace: {name}\n{spec_extra}",
        repo.display()
    )
}

struct Case {
    name: &'static str,
    args: Vec<String>,
    /// Environment for this case, over the common one.
    env: Vec<(&'static str, String)>,
    code: i32,
    /// Words that must appear exactly once in stderr.
    once: Vec<String>,
}

fn case(name: &'static str, args: &[&str], once: &[&str]) -> Case {
    Case {
        name,
        args: args.iter().map(|a| a.to_string()).collect(),
        env: Vec::new(),
        code: BAD_INPUT,
        once: once.iter().map(|w| w.to_string()).collect(),
    }
}

impl Case {
    fn env(mut self, key: &'static str, value: impl Into<String>) -> Case {
        self.env.push((key, value.into()));
        self
    }
}

/// `bosun serve` with the config `config`, in the foreground of a test: it prints its address
/// on its first line, and is killed when dropped.
struct Serve {
    _process: Process,
    url: String,
}

impl Serve {
    fn start(dir: &Path, config: &Path, kubeconfig: &Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bosun"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .arg("--data")
            .arg(dir.join("data"))
            .env("KUBECONFIG", kubeconfig)
            .env("BOSUN_CACHE", dir.join("cache"))
            .env("BOSUN_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("serve.log")).unwrap())
            .spawn()
            .expect("bosun serve");
        let stdout = child.stdout.take().unwrap();
        let process = Process(child);
        // The first line names the address; read on a thread so that a server that never
        // prints cannot hold up the test past its bound.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(CASE_TIMEOUT).unwrap_or_default();
        let url = line
            .trim()
            .strip_prefix("bosun serve: listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "bosun serve: unexpected first line {line:?}; log:\n{}",
                    std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
                )
            })
            .to_string();
        Serve {
            _process: process,
            url,
        }
    }
}

/// `bosun app ARGS` against `server` as the admin; stdout, or a panic with stderr.
fn app_client(server: &str, args: &[&str]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bosun"));
    command
        .arg("app")
        .args(args)
        .env("BOSUN_SERVER", server)
        .env("BOSUN_TOKEN", ADMIN)
        .env("NO_COLOR", "1");
    let output = run(command, CASE_TIMEOUT).unwrap();
    assert!(
        output.status.success(),
        "bosun app {args:?}: {:?} {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The id of an operation anywhere in `value` that was a dry run and has finished.
fn finished_dry_run(value: &Value) -> Option<i64> {
    match value {
        Value::Object(map) => {
            if map.get("dryRun") == Some(&Value::Bool(true))
                && map.get("finishedAt").is_some_and(|f| !f.is_null())
            {
                return map.get("id").and_then(Value::as_i64);
            }
            map.values().find_map(finished_dry_run)
        }
        Value::Array(items) => items.iter().find_map(finished_dry_run),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_by_name_and_changes_nothing() {
    let cluster = server::start(ClusterConfig::default())
        .await
        .expect("cluster");
    // Inputs live in `dir` (snapshotted around every case); the server's data and log in
    // `state`, compared through its API instead.
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("inputs");
    let state = temp.path().join("state");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    let d = |p: &str| dir.join(p).display().to_string();
    let kubeconfig = state.join("kubeconfig");
    bosun_cluster::kubeconfig::write(&kubeconfig, "test", &cluster.url(), "tester").unwrap();

    // The configuration repository: plain manifests, a chart, a kustomization that does not
    // build, and values for a multi-source Application.
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    write(
        &repo,
        "plain/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  a: b\n",
    );
    write(
        &repo,
        "chart/Chart.yaml",
        "apiVersion: v2\nname: chart\nversion: 0.1.0\n",
    );
    write(&repo, "chart/values.yaml", "greeting: hello\n");
    write(
        &repo,
        "chart/templates/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: chart\ndata:\n  greeting: {{ .Values.greeting }}\n",
    );
    write(
        &repo,
        "broken-kustomize/kustomization.yaml",
        "resources:\n- not-here.yaml\n",
    );
    write(&repo, "values/prod.yaml", "greeting: prod\n");
    // A Deployment, and the same with a selector that changed (a chart's new labels).
    let api = |labels: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  selector:\n    matchLabels: {{{labels}}}\n  template:\n    metadata:\n      labels: {{{labels}}}\n    spec:\n      containers:\n      - name: api\n        image: api:1\n"
        )
    };
    write(&repo, "selector/v1/deploy.yaml", &api("app: api"));
    write(
        &repo,
        "selector/v2/deploy.yaml",
        &api("app: api, app.kubernetes.io/name: api"),
    );
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "config"]);

    // Application files, one per bad thing.
    let app = |file: &str, text: String| write(&dir, file, &text);
    let good = application("web", &repo, "plain", "");
    app("apps/web.yaml", good.clone());
    app(
        "bad/syntax.yaml",
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: [web\nspec: {}\n"
            .into(),
    );
    app(
        "bad/kind.yaml",
        good.replace("kind: Application", "kind: AppProject"),
    );
    app(
        "bad/no-destination.yaml",
        good.replace(
            "  destination:\n    server: https://kubernetes.default.svc\n    namespace: web\n",
            "",
        ),
    );
    app(
        "bad/sync-policy-field.yaml",
        good.clone() + "  syncPolicy:\n    automatedd:\n      prune: true\n",
    );
    app(
        "bad/sync-option.yaml",
        good.clone() + "  syncPolicy:\n    syncOptions:\n    - CreateNamespace=yes\n",
    );
    app(
        "bad/retry.yaml",
        good.clone()
            + "  syncPolicy:\n    retry:\n      limit: 3\n      backoff:\n        duration: 5 minutes\n",
    );
    app("bad/uppercase.yaml", good.replace("name: web", "name: Web"));
    let long = "a".repeat(64);
    app("bad/long-name.yaml", application(&long, &repo, "plain", ""));
    let dotted = format!("{}.{}", "a".repeat(40), "b".repeat(40));
    app(
        "bad/long-dotted-name.yaml",
        application(&dotted, &repo, "plain", ""),
    );
    app(
        "bad/no-path.yaml",
        application("web", &repo, "not-in-repo", ""),
    );
    app(
        "bad/helm-values.yaml",
        application("web", &repo, "chart", "").replace(
            "    path: chart\n",
            "    path: chart\n    helm:\n      valueFiles:\n      - values-missing.yaml\n",
        ),
    );
    app(
        "bad/kustomize.yaml",
        application("web", &repo, "broken-kustomize", ""),
    );
    app(
        "bad/unknown-cluster.yaml",
        good.replace("server: https://kubernetes.default.svc", "name: prod"),
    );
    let create_namespace = "  syncPolicy:\n    syncOptions:\n    - CreateNamespace=true\n";
    app(
        "setup/api.yaml",
        application("api", &repo, "selector/v1", create_namespace),
    );
    app(
        "bad/selector.yaml",
        application("api", &repo, "selector/v2", create_namespace),
    );
    let synced = Command::new(env!("CARGO_BIN_EXE_bosun"))
        .args(["sync", &d("setup/api.yaml"), "--wait"])
        .env("KUBECONFIG", &kubeconfig)
        .env("BOSUN_CACHE", dir.join("cache"))
        .output()
        .unwrap();
    assert!(
        synced.status.success(),
        "{}",
        String::from_utf8_lossy(&synced.stderr)
    );
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    write(&dir, "empty/README.md", "no manifests here\n");
    write(
        &dir,
        "bosun-bad-cluster.yaml",
        "clusters:\n- name: local\n  kubeConfig: /nowhere\n",
    );

    // `bosun serve` configs, one per bad thing; each refers to the good Application.
    let serve_config = |file: &str, server: &str| {
        write(
            &dir,
            file,
            &format!("applications:\n- path: apps\nserver:\n{server}"),
        )
    };
    write(&dir, "tokens/a", "same-token-value-0123456789\n");
    write(&dir, "tokens/b", "same-token-value-0123456789\n");
    write(&dir, "tokens/short", "short\n");
    serve_config("serve/refresh-short.yaml", "  refreshInterval: 3s\n");
    serve_config("serve/refresh-abc.yaml", "  refreshInterval: abc\n");
    serve_config(
        "serve/token-twice.yaml",
        &format!(
            "  tokens:\n  - {{name: ci, role: deployer, tokenFile: {}}}\n  - {{name: ops, role: admin, tokenFile: {}}}\n",
            d("tokens/a"),
            d("tokens/b")
        ),
    );
    serve_config(
        "serve/token-missing.yaml",
        &format!(
            "  tokens:\n  - {{name: ci, role: deployer, tokenFile: {}}}\n",
            d("tokens/not-there")
        ),
    );
    serve_config(
        "serve/token-short.yaml",
        &format!(
            "  tokens:\n  - {{name: ci, role: deployer, tokenFile: {}}}\n",
            d("tokens/short")
        ),
    );
    serve_config(
        "serve/token-role.yaml",
        &format!(
            "  tokens:\n  - {{name: ci, role: superuser, tokenFile: {}}}\n",
            d("tokens/a")
        ),
    );
    serve_config("serve/unknown-key.yaml", "  refreshIntervall: 30s\n");
    serve_config(
        "serve/webhook-missing.yaml",
        &format!("  webhook:\n    githubSecretFile: {}\n", d("secrets/hook")),
    );
    write(
        &dir,
        "serve/no-applications.yaml",
        "server:\n  refreshInterval: 30s\n",
    );

    // Repositories for `bosun version`: a shallow clone, one whose tags have another prefix, and
    // ones with a bad release config.
    let history = dir.join("history");
    std::fs::create_dir_all(&history).unwrap();
    git(&history, &["init", "-q", "-b", "main"]);
    write(&history, "a.txt", "1\n");
    git(&history, &["add", "-A"]);
    git(&history, &["commit", "-q", "-m", "feat: one"]);
    git(&history, &["tag", "-a", "api-v1.0.0", "-m", "api 1.0.0"]);
    write(&history, "a.txt", "2\n");
    git(&history, &["add", "-A"]);
    git(&history, &["commit", "-q", "-m", "fix: two"]);
    git(
        &dir,
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &format!("file://{}", history.display()),
            "shallow",
        ],
    );
    let release_repo = |name: &str, config: &str| {
        let repo = dir.join(name);
        std::fs::create_dir_all(&repo).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        write(&repo, ".bosun/release.yaml", config);
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "feat: first"]);
    };
    release_repo("release-version", "initial_version: banana\n");
    release_repo("release-field", "tag_prefx: v\n");

    // A server with one Application (manual sync, no polling), and a dry run in its history.
    write(
        &state,
        "bosun.yaml",
        &format!(
            "applications:\n- path: {}\nserver:\n  refreshInterval: 0s\n  tokens:\n  - {{name: root, role: admin, tokenFile: {}}}\n",
            dir.join("apps").display(),
            state.join("admin-token").display()
        ),
    );
    write(&state, "admin-token", ADMIN);
    let mut kubectl = Command::new(common::tools().join("bin/kubectl"));
    kubectl
        .args(["create", "namespace", "web"])
        .env("KUBECONFIG", &kubeconfig);
    let created = run(kubectl, CASE_TIMEOUT).unwrap();
    assert!(created.status.success(), "{created:?}");
    let serve = Serve::start(&state, &state.join("bosun.yaml"), &kubeconfig);
    app_client(&serve.url, &["sync", "web", "--dry-run"]);
    let deadline = Instant::now() + CASE_TIMEOUT;
    let dry_run = loop {
        let history: Value =
            serde_json::from_str(&app_client(&serve.url, &["history", "web", "-o", "json"]))
                .unwrap();
        if let Some(id) = finished_dry_run(&history) {
            break id.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "the dry run never finished: {history}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };

    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port().to_string();
    let unreachable = format!("http://127.0.0.1:{}", closed_port());
    let listen = format!("127.0.0.1:{}", closed_port());
    // Each `bosun serve` is given a data directory of its own, under the inputs: it must not be
    // created.
    let serve_runs = std::cell::Cell::new(0);
    let serve_case = |name: &'static str, config: &str, once: &[&str]| {
        serve_runs.set(serve_runs.get() + 1);
        let serve_data = dir.join(format!("serve-data-{}", serve_runs.get()));
        let path = d(config);
        let mut words = vec![path.as_str()];
        words.extend_from_slice(once);
        case(
            name,
            &[
                "serve",
                "--config",
                &path,
                "--listen",
                &listen,
                "--data",
                serve_data.to_str().unwrap(),
            ],
            &words,
        )
    };

    let cases = vec![
        // Application files.
        case(
            "render: YAML syntax error",
            &["render", &d("bad/syntax.yaml")],
            &[&d("bad/syntax.yaml"), "metadata.name", "(line 5, column 5)"],
        ),
        case(
            "diff: not an Application",
            &["diff", &d("bad/kind.yaml")],
            &[&d("bad/kind.yaml"), "AppProject"],
        ),
        case(
            "sync: no spec.destination",
            &["sync", &d("bad/no-destination.yaml")],
            &[&d("bad/no-destination.yaml"), "missing field `destination`"],
        ),
        case(
            "sync: unknown syncPolicy field",
            &["sync", &d("bad/sync-policy-field.yaml")],
            &[
                &d("bad/sync-policy-field.yaml"),
                "spec.syncPolicy.automatedd",
            ],
        ),
        case(
            "sync: bad syncOptions value",
            &["sync", &d("bad/sync-option.yaml")],
            &[&d("bad/sync-option.yaml"), "CreateNamespace=yes"],
        ),
        case(
            "sync: bad retry backoff duration",
            &["sync", &d("bad/retry.yaml")],
            &[
                &d("bad/retry.yaml"),
                "spec.syncPolicy.retry.backoff.duration",
            ],
        ),
        case(
            "sync: uppercase name",
            &["sync", &d("bad/uppercase.yaml")],
            &[&d("bad/uppercase.yaml"), "metadata.name", "`Web`"],
        ),
        case(
            "sync: name longer than 63 characters",
            &["sync", &d("bad/long-name.yaml")],
            &[&d("bad/long-name.yaml"), "metadata.name", "longer than 63"],
        ),
        case(
            "sync: dotted name longer than a label value",
            &["sync", &d("bad/long-dotted-name.yaml")],
            &[
                &d("bad/long-dotted-name.yaml"),
                "metadata.name",
                "a Kubernetes label value has at most 63",
            ],
        ),
        case(
            "sync: source path not in the repository",
            &["sync", &d("bad/no-path.yaml")],
            &["web: render", r#"source path "not-in-repo" does not exist"#],
        ),
        case(
            "sync: helm values file missing",
            &["sync", &d("bad/helm-values.yaml")],
            &[
                "web: render",
                r#"helm value file "values-missing.yaml" does not exist"#,
            ],
        ),
        case(
            "sync: kustomize build fails",
            &["sync", &d("bad/kustomize.yaml")],
            &["web: render: kubectl kustomize failed", "'not-here.yaml'"],
        ),
        case(
            "sync: destination names an unknown cluster",
            &["sync", &d("bad/unknown-cluster.yaml")],
            &["web: spec.destination.name", "`prod`"],
        ),
        case(
            "sync: a change the cluster refuses (a Deployment's selector is immutable)",
            &["sync", &d("bad/selector.yaml")],
            &[
                "apps/Deployment/api/api",
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"api\", \"app.kubernetes.io/name\":\"api\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
            ],
        ),
        case(
            "sync: --app names no Application of the file",
            &["sync", &d("apps/web.yaml"), "--app", "nope"],
            &[&d("apps/web.yaml"), "\"nope\""],
        ),
        case(
            "sync: --timeout is not a duration",
            &["sync", &d("apps/web.yaml"), "--timeout", "soon"],
            &["--timeout soon"],
        ),
        case(
            "diff: -o yaml",
            &["diff", &d("apps/web.yaml"), "-o", "yaml"],
            &["-o yaml"],
        ),
        case(
            "render: a directory without Applications",
            &["render", &d("empty")],
            &[&d("empty"), "no Application manifests"],
        ),
        case(
            "render: a file that does not exist",
            &["render", &d("apps/nope.yaml")],
            &[&d("apps/nope.yaml"), "No such file or directory"],
        ),
        case(
            "sync: --config with an unknown cluster field",
            &[
                "sync",
                &d("apps/web.yaml"),
                "--config",
                &d("bosun-bad-cluster.yaml"),
            ],
            &[&d("bosun-bad-cluster.yaml"), "clusters[0].kubeConfig"],
        ),
        // `bosun serve` and its config.
        serve_case(
            "serve: refreshInterval below the floor",
            "serve/refresh-short.yaml",
            &["server.refreshInterval", "below the minimum"],
        ),
        serve_case(
            "serve: refreshInterval not a duration",
            "serve/refresh-abc.yaml",
            &["server.refreshInterval", "invalid duration `abc`"],
        ),
        serve_case(
            "serve: one token value twice",
            "serve/token-twice.yaml",
            &["server.tokens[1] (ops)", "server.tokens[0] (ci)"],
        ),
        serve_case(
            "serve: token file missing",
            "serve/token-missing.yaml",
            &[&d("tokens/not-there")],
        ),
        serve_case(
            "serve: token too short",
            "serve/token-short.yaml",
            &["shorter than 16"],
        ),
        serve_case(
            "serve: unknown token role",
            "serve/token-role.yaml",
            &["superuser"],
        ),
        serve_case(
            "serve: unknown key in server",
            "serve/unknown-key.yaml",
            &["server.refreshIntervall"],
        ),
        serve_case(
            "serve: webhook secret file missing",
            "serve/webhook-missing.yaml",
            &["server.webhook.githubSecretFile", &d("secrets/hook")],
        ),
        serve_case(
            "serve: no applications",
            "serve/no-applications.yaml",
            &["applications:"],
        ),
        serve_case(
            "serve: config file missing",
            "serve/not-there.yaml",
            &["No such file or directory"],
        ),
        // `bosun version`, asked to tag: no tag may appear.
        case(
            "version: shallow clone",
            &["version", "--tag", "-C", &d("shallow")],
            &[&d("shallow"), "git fetch --unshallow --tags"],
        ),
        case(
            "version: tag prefix matching no tag",
            &["version", "--tag", "-C", &d("history")],
            &["prefix `v`", "`api-v`"],
        ),
        case(
            "version: release config value",
            &["version", "--tag", "-C", &d("release-version")],
            &[
                &d("release-version/.bosun/release.yaml"),
                "initial_version",
                "banana",
            ],
        ),
        case(
            "version: release config unknown field",
            &["version", "--tag", "-C", &d("release-field")],
            &[&d("release-field/.bosun/release.yaml"), "tag_prefx"],
        ),
        // `bosun app` against a server.
        case(
            "app: unreachable server",
            &["app", "list"],
            &[&unreachable, "Connection refused"],
        )
        .env("BOSUN_SERVER", unreachable.clone()),
        case(
            "app get: unknown Application",
            &["app", "get", "nope"],
            &["404", "nope"],
        ),
        case(
            "app sync: unknown Application",
            &["app", "sync", "nope"],
            &["404", "nope"],
        ),
        case(
            "app rollback: no such history entry",
            &["app", "rollback", "web", "9999"],
            &["9999"],
        ),
        case(
            "app rollback: to a dry run",
            &["app", "rollback", "web", &dry_run],
            &[&format!("history entry {dry_run} of web was a dry run")],
        ),
        case(
            "app list: a token the server does not know",
            &["app", "list"],
            &["401"],
        )
        .env("BOSUN_TOKEN", "not-a-token-of-this-server"),
        case(
            "app list: -o yaml",
            &["app", "list", "-o", "yaml"],
            &["-o yaml"],
        ),
        // The local cluster.
        case(
            "cluster up: busy port",
            &[
                "cluster",
                "up",
                "--port",
                &busy_port,
                "--kubeconfig",
                &d("cluster-kubeconfig"),
            ],
            &[&format!("127.0.0.1:{busy_port}"), "Address already in use"],
        ),
    ];
    assert!(cases.len() >= 25);

    let history_of = |app: &str| app_client(&serve.url, &["history", app, "-o", "json"]);
    let mut failures = Vec::new();
    for case in cases {
        let files_before = files(&dir);
        let objects_before = cluster_objects(&cluster);
        let history_before = history_of("web");
        let mut command = Command::new(env!("CARGO_BIN_EXE_bosun"));
        command
            .args(&case.args)
            .env("KUBECONFIG", &kubeconfig)
            .env("BOSUN_CACHE", dir.join("cache"))
            .env("BOSUN_SERVER", &serve.url)
            .env("BOSUN_TOKEN", ADMIN)
            .env("NO_COLOR", "1")
            .env_remove("BOSUN_CONFIG")
            .env_remove("BOSUN_TOOLS")
            .env_remove("GITHUB_OUTPUT");
        for (key, value) in &case.env {
            command.env(key, value);
        }
        let name = case.name;
        let output = match run(command, CASE_TIMEOUT) {
            Ok(output) => output,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        if output.status.code() != Some(case.code) {
            failures.push(format!(
                "{name}: exit {:?}, expected {}: {stderr}",
                output.status, case.code
            ));
        }
        if stderr.contains("panicked") {
            failures.push(format!("{name}: panicked: {stderr}"));
        }
        // One error, said once (warnings may come before it).
        let errors = stderr.lines().filter(|l| l.starts_with("error:")).count();
        if errors != 1 {
            failures.push(format!("{name}: {errors} error lines in: {stderr}"));
        }
        for words in &case.once {
            let count = stderr.matches(words.as_str()).count();
            if count != 1 {
                failures.push(format!("{name}: {words:?} {count} times in: {stderr}"));
            }
        }
        for change in changed_files(&files_before, &files(&dir)) {
            failures.push(format!("{name}: {change}"));
        }
        let objects_after = cluster_objects(&cluster);
        if objects_after != objects_before {
            failures.push(format!(
                "{name}: the cluster's objects changed: {objects_before:?} -> {objects_after:?}"
            ));
        }
        if history_of("web") != history_before {
            failures.push(format!("{name}: the server's history of web changed"));
        }
    }
    drop(busy);
    drop(serve);
    cluster.shutdown().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
