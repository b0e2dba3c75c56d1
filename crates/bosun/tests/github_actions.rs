//! The GitHub Actions examples (`examples/github-actions`): the application repository's
//! release workflow, the config repository's `image-released` workflow and the `bosun-version`
//! composite action.
//!
//! Their shape is checked (jobs, steps, the dispatch the one sends and the other receives), every
//! `bosun …` command line in them is checked against what `bosun <sub> --help` lists, and their
//! scripts are run for real with bash: against temporary repositories, with a bare "remote", no
//! git identity (as on a runner), `${{ … }}` replaced by test values, and `gh`/`curl` replaced by
//! recording fakes (the only steps that would need the network).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BOT: &str = "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/github-actions")
}

fn load(name: &str) -> Value {
    let path = examples().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

fn text(name: &str) -> String {
    std::fs::read_to_string(examples().join(name)).unwrap()
}

/// git for the test's own setup: a fixed identity, no global or system configuration.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Person")
        .env("GIT_AUTHOR_EMAIL", "person@example.com")
        .env("GIT_COMMITTER_NAME", "Person")
        .env("GIT_COMMITTER_EMAIL", "person@example.com")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what}: expected a string, got {v}"))
}

fn steps<'a>(doc: &'a Value, job: &str) -> &'a [Value] {
    let steps = if job.is_empty() {
        &doc["runs"]["steps"]
    } else {
        &doc["jobs"][job]["steps"]
    };
    steps
        .as_array()
        .unwrap_or_else(|| panic!("job `{job}` has no steps"))
}

/// The step named `name` (or whose id is `name`).
fn step<'a>(doc: &'a Value, job: &str, name: &str) -> &'a Value {
    steps(doc, job)
        .iter()
        .find(|s| s["name"].as_str() == Some(name) || s["id"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("job `{job}` has no step `{name}`"))
}

fn position(doc: &Value, job: &str, pred: impl Fn(&Value) -> bool, what: &str) -> usize {
    steps(doc, job)
        .iter()
        .position(pred)
        .unwrap_or_else(|| panic!("job `{job}`: no step {what}"))
}

fn uses(s: &Value) -> &str {
    s["uses"].as_str().unwrap_or("")
}

fn run_of(s: &Value) -> &str {
    s["run"].as_str().unwrap_or("")
}

/// Every `run:` script of a workflow or of the composite action, with where it is.
fn scripts(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |place: String, steps: &Value| {
        for (i, s) in steps.as_array().into_iter().flatten().enumerate() {
            if let Some(run) = s["run"].as_str() {
                let name = s["name"].as_str().map(str::to_string);
                out.push((
                    format!("{place} step {}", name.unwrap_or(i.to_string())),
                    run.to_string(),
                ));
            }
        }
    };
    if let Some(jobs) = doc["jobs"].as_object() {
        for (job, j) in jobs {
            add(format!("job {job}"), &j["steps"]);
        }
    }
    add("action".into(), &doc["runs"]["steps"]);
    out
}

// ---------------------------------------------------------------------------------------------
// Command lines in scripts, and bosun's own help

/// The simple commands of a bash script as words (quotes and line continuations removed), the
/// ones inside `$( … )` included: enough to find every `bosun …` command line.
fn commands(script: &str) -> Vec<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        Plain,
        Double,
        Subst,
    }
    let chars: Vec<char> = script.chars().collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut cmd: Vec<String> = Vec::new();
    let mut word: Option<String> = None;
    let mut stack = vec![Mode::Plain];
    let end_word = |word: &mut Option<String>, cmd: &mut Vec<String>| {
        if let Some(w) = word.take() {
            cmd.push(w);
        }
    };
    let end_cmd = |cmd: &mut Vec<String>, out: &mut Vec<Vec<String>>| {
        if !cmd.is_empty() {
            out.push(std::mem::take(cmd));
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let mode = *stack.last().unwrap();
        if mode == Mode::Double {
            match c {
                '"' => {
                    stack.pop();
                }
                '\\' if next.is_some() => {
                    word.get_or_insert_default().push(next.unwrap());
                    i += 1;
                }
                '$' if next == Some('(') => {
                    end_word(&mut word, &mut cmd);
                    end_cmd(&mut cmd, &mut out);
                    stack.push(Mode::Subst);
                    i += 1;
                }
                _ => word.get_or_insert_default().push(c),
            }
            i += 1;
            continue;
        }
        match c {
            '\'' => {
                let w = word.get_or_insert_default();
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    w.push(chars[i]);
                    i += 1;
                }
            }
            '"' => {
                word.get_or_insert_default();
                stack.push(Mode::Double);
            }
            '\\' => {
                if next == Some('\n') {
                    end_word(&mut word, &mut cmd);
                } else if let Some(n) = next {
                    word.get_or_insert_default().push(n);
                }
                i += 1;
            }
            '#' if word.is_none() => {
                while i + 1 < chars.len() && chars[i + 1] != '\n' {
                    i += 1;
                }
            }
            ' ' | '\t' => end_word(&mut word, &mut cmd),
            '$' if next == Some('(') => {
                end_word(&mut word, &mut cmd);
                end_cmd(&mut cmd, &mut out);
                stack.push(Mode::Subst);
                i += 1;
            }
            ')' => {
                end_word(&mut word, &mut cmd);
                end_cmd(&mut cmd, &mut out);
                if mode == Mode::Subst {
                    stack.pop();
                }
            }
            '\n' | ';' | '&' | '|' | '(' | '<' | '>' => {
                end_word(&mut word, &mut cmd);
                end_cmd(&mut cmd, &mut out);
            }
            _ => word.get_or_insert_default().push(c),
        }
        i += 1;
    }
    end_word(&mut word, &mut cmd);
    end_cmd(&mut cmd, &mut out);
    out
}

/// The `bosun` command lines of a script: the words after the program `bosun`.
fn bosun_commands(script: &str) -> Vec<Vec<String>> {
    let keywords = [
        "if", "then", "else", "elif", "do", "while", "until", "!", "{", "time", "exec",
    ];
    commands(script)
        .into_iter()
        .filter_map(|words| {
            let mut words = words.into_iter().peekable();
            while let Some(w) = words.peek() {
                let assignment = w
                    .split_once('=')
                    .is_some_and(|(name, _)| !name.is_empty() && !name.starts_with('-'));
                if keywords.contains(&w.as_str()) || assignment {
                    words.next();
                } else {
                    break;
                }
            }
            let program = words.next()?;
            (program == "bosun" || program.ends_with("/bosun")).then(|| words.collect())
        })
        .collect()
}

/// What `bosun <path> --help` lists: its subcommands, and its flags with whether each takes a
/// value.
#[derive(Debug, Default)]
struct Help {
    commands: Vec<String>,
    flags: HashMap<String, bool>,
}

fn help(path: &[String]) -> Help {
    let out = Command::new(env!("CARGO_BIN_EXE_bosun"))
        .args(path)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "bosun {path:?} --help: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut help = Help::default();
    let mut section = "";
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            section = line.trim_end_matches(':');
            continue;
        }
        let trimmed = line.trim_start();
        match section {
            "Commands" => {
                // `  set    Set values …` (a wrapped description is indented further)
                if let Some(name) = trimmed.split_whitespace().next()
                    && line.starts_with("  ")
                    && !line.starts_with("   ")
                {
                    help.commands.push(name.to_string());
                }
            }
            "Options" => {
                let flag_line = trimmed.starts_with("--")
                    || (trimmed.starts_with('-')
                        && trimmed[1..].starts_with(|c: char| c.is_ascii_alphanumeric()));
                if !flag_line {
                    continue;
                }
                // `-m, --message <MESSAGE>  Commit message`
                let spec = trimmed.split("  ").next().unwrap();
                let takes_value = spec.contains('<');
                for part in spec.split(", ") {
                    let flag = part.split_whitespace().next().unwrap().to_string();
                    help.flags.insert(flag, takes_value);
                }
            }
            _ => {}
        }
    }
    help
}

/// Checks one `bosun` command line against the help of the (sub)commands it names; returns the
/// subcommand path (`["image", "set"]`).
fn check_bosun_command(
    words: &[String],
    helps: &mut HashMap<Vec<String>, Help>,
) -> Result<Vec<String>, String> {
    let mut path: Vec<String> = Vec::new();
    let mut i = 0;
    loop {
        let h = helps.entry(path.clone()).or_insert_with(|| help(&path));
        match words.get(i) {
            Some(w) if h.commands.contains(w) && w != "help" => {
                path.push(w.clone());
                i += 1;
            }
            _ => break,
        }
    }
    let h = &helps[&path];
    // A command with subcommands needs one (only `bosun --version`/`--help` go without).
    let top_level_flags = path.is_empty() && words.iter().all(|w| w.starts_with('-'));
    if !h.commands.is_empty() && !top_level_flags {
        return Err(format!(
            "`bosun {}`: `{}` is not one of its subcommands {:?}",
            path.join(" "),
            words.get(i).map(String::as_str).unwrap_or(""),
            h.commands
        ));
    }
    while i < words.len() {
        let w = &words[i];
        if w.starts_with('-') && w.len() > 1 {
            let name = w.split('=').next().unwrap();
            match h.flags.get(name) {
                None => {
                    return Err(format!(
                        "`bosun {}` has no flag `{name}` (it has {:?})",
                        path.join(" "),
                        h.flags.keys().collect::<Vec<_>>()
                    ));
                }
                Some(true) if !w.contains('=') => i += 1,
                Some(_) => {}
            }
        }
        i += 1;
    }
    Ok(path)
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

// ---------------------------------------------------------------------------------------------
// Running a step with bash

/// Replaces each `${{ expr }}` by its test value; an expression the test does not know fails
/// the test (so a new one in a script is a decision, not a silent empty string).
fn substitute(text: &str, known: &HashMap<&str, String>, place: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .unwrap_or_else(|| panic!("{place}: unterminated ${{{{"));
        let expr = rest[start + 3..start + end].trim();
        let value = known
            .get(expr)
            .unwrap_or_else(|| panic!("{place}: the test has no value for `${{{{ {expr} }}}}`"));
        out.push_str(value);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

/// A runner: a `bin` directory put first on PATH with `bosun` (the binary under test) and fakes
/// of `gh` and `curl` that record their arguments; `RUNNER_TEMP`.
struct Runner {
    root: tempfile::TempDir,
}

struct StepRun {
    out: Output,
    outputs: BTreeMap<String, String>,
    summary: String,
    github_path: String,
}

impl StepRun {
    fn assert_ok(&self, what: &str) {
        assert!(self.out.status.success(), "{what}: {}", self.describe());
    }
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).to_string()
    }
    fn describe(&self) -> String {
        format!(
            "{}\n--- stdout\n{}\n--- stderr\n{}",
            self.out.status,
            String::from_utf8_lossy(&self.out.stdout),
            String::from_utf8_lossy(&self.out.stderr)
        )
    }
}

impl Runner {
    fn new() -> Runner {
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(root.path().join("runner-temp")).unwrap();
        std::fs::create_dir_all(root.path().join("home")).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_bosun"), bin.join("bosun")).unwrap();
        let gh = "#!/bin/bash\n{ for a in \"$@\"; do printf '%s\\n' \"$a\"; done; echo '--'; } >> \"$FAKE_LOG\"\n";
        let curl = "#!/bin/bash\n{ echo curl; for a in \"$@\"; do printf '%s\\n' \"$a\"; done; echo '--'; } >> \"$FAKE_LOG\"\nurl=\"${@: -1}\"\n[ \"$url\" = \"$FAKE_URL\" ] || { echo \"curl: (22) 404 $url\" >&2; exit 22; }\ncat \"$FAKE_TARBALL\"\n";
        for (name, script) in [("gh", gh), ("curl", curl)] {
            std::fs::write(bin.join(name), script).unwrap();
            let mut p = std::fs::metadata(bin.join(name)).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o755);
            std::fs::set_permissions(bin.join(name), p).unwrap();
        }
        Runner { root }
    }

    fn log(&self) -> PathBuf {
        self.root.path().join("fake.log")
    }

    /// The calls the fakes recorded since the last call, each as its arguments.
    fn take_calls(&self) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        let _ = std::fs::remove_file(self.log());
        text.split_terminator("--\n")
            .map(|call| call.lines().map(str::to_string).collect())
            .collect()
    }

    /// Runs `step`'s script as GitHub does for `shell: bash` (`bash --noprofile --norc -eo
    /// pipefail`), in `dir` (joined with its `working-directory`), with the env of `layers`
    /// (workflow, job, step) after substitution, and nothing of the test's own environment but
    /// PATH.
    fn run(
        &self,
        step: &Value,
        layers: &[&Value],
        known: &HashMap<&str, String>,
        dir: &Path,
        extra: &[(&str, String)],
    ) -> StepRun {
        let place = step["name"].as_str().unwrap_or("step").to_string();
        let script = substitute(str_of(&step["run"], &place), known, &place);
        let tmp = tempfile::tempdir_in(self.root.path()).unwrap();
        let file = tmp.path().join("script.sh");
        std::fs::write(&file, &script).unwrap();
        let output = tmp.path().join("output");
        let summary = tmp.path().join("summary");
        let github_path = tmp.path().join("path");
        for f in [&output, &summary, &github_path] {
            std::fs::write(f, "").unwrap();
        }
        let mut cwd = dir.to_path_buf();
        if let Some(wd) = step["working-directory"].as_str() {
            cwd = cwd.join(substitute(wd, known, &place));
        }
        let path = format!(
            "{}:{}",
            self.root.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&file)
            .current_dir(&cwd)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.root.path().join("home"))
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_REPOSITORY", "acme/repo")
            .env("GITHUB_RUN_ID", "1")
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_PATH", &github_path)
            .env("RUNNER_TEMP", self.root.path().join("runner-temp"))
            .env("FAKE_LOG", self.log());
        for layer in layers {
            for (k, v) in layer.as_object().into_iter().flatten() {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                cmd.env(k, substitute(&v, known, &place));
            }
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        StepRun {
            out,
            outputs: parse_outputs(&std::fs::read_to_string(&output).unwrap()),
            summary: std::fs::read_to_string(&summary).unwrap(),
            github_path: std::fs::read_to_string(&github_path).unwrap(),
        }
    }
}

/// `$GITHUB_OUTPUT`'s format: `key=value` lines and `key<<DELIMITER` … `DELIMITER` blocks.
fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let eq = line.find('=');
        match line.find("<<") {
            Some(h) if eq.is_none_or(|e| h < e) => {
                let (key, delim) = (&line[..h], &line[h + 2..]);
                let body: Vec<&str> = lines.by_ref().take_while(|l| *l != delim).collect();
                out.insert(key.to_string(), body.join("\n"));
            }
            _ => {
                let (k, v) = line.split_once('=').expect("key=value");
                out.insert(k.to_string(), v.to_string());
            }
        }
    }
    out
}

fn known(pairs: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

fn env_layer(v: &Value) -> &Value {
    v.get("env").unwrap_or(&Value::Null)
}

// ---------------------------------------------------------------------------------------------
// Shape

#[test]
fn the_app_repository_workflow_tests_versions_builds_scans_pushes_tags_and_dispatches() {
    let app = load("app-repo.yml");
    let config = load("config-repo.yml");

    let branches = &app["on"]["push"]["branches"];
    assert_eq!(branches, &serde_json::json!(["main"]), "on push to main");
    assert!(app["concurrency"].is_object(), "releases are serialised");

    assert_eq!(app["jobs"]["version"]["needs"], "test");
    let release = &app["jobs"]["release"];
    assert_eq!(release["needs"], "version");
    assert_eq!(
        release["if"], "needs.version.outputs.released == 'true'",
        "nothing is built when nothing is released"
    );
    assert_eq!(release["permissions"]["contents"], "write", "the tag");
    assert_eq!(release["permissions"]["packages"], "write", "the image");
    let outputs = app["jobs"]["version"]["outputs"].as_object().unwrap();
    for key in ["version", "released"] {
        assert_eq!(
            outputs[key],
            format!("${{{{ steps.version.outputs.{key} }}}}"),
            "version job output {key}"
        );
    }

    // The version job uses the composite action, on a full clone.
    let v = step(&app, "version", "version");
    assert!(
        uses(v).contains("/examples/github-actions@"),
        "the version step uses the bosun-version action: {v}"
    );

    // The order: build (loaded, not pushed), scan that image, push, tag, dispatch.
    let build = position(
        &app,
        "release",
        |s| uses(s).starts_with("docker/build-push-action@") && s["with"]["load"] == true,
        "building the image without pushing it",
    );
    let scan = position(
        &app,
        "release",
        |s| uses(s).starts_with("aquasecurity/trivy-action@"),
        "scanning with trivy",
    );
    let push = position(
        &app,
        "release",
        |s| uses(s).starts_with("docker/build-push-action@") && s["with"]["push"] == true,
        "pushing the image",
    );
    let tag = position(
        &app,
        "release",
        |s| run_of(s).contains("bosun version --tag --push"),
        "tagging with bosun",
    );
    let dispatch = position(
        &app,
        "release",
        |s| run_of(s).contains("/dispatches"),
        "dispatching to the config repository",
    );
    assert!(
        build < scan && scan < push && push < tag && tag < dispatch,
        "build {build}, scan {scan}, push {push}, tag {tag}, dispatch {dispatch}"
    );
    let steps_r = steps(&app, "release");
    let image_ref = "${{ env.IMAGE }}:${{ needs.version.outputs.version }}";
    assert_eq!(steps_r[scan]["with"]["image-ref"], image_ref);
    assert_eq!(steps_r[scan]["with"]["exit-code"], "1", "findings fail");
    assert_eq!(steps_r[build]["with"]["tags"], image_ref);
    assert_eq!(steps_r[push]["with"]["tags"], image_ref);

    // Every job that computes a version or tags clones the whole history with its tags.
    for (job, j) in app["jobs"].as_object().unwrap() {
        let js = j["steps"].as_array().unwrap();
        let versions = js.iter().any(|s| {
            (uses(s).contains("/examples/github-actions@") && s["with"]["install-only"] != "true")
                || run_of(s).contains("bosun version")
        });
        if versions {
            let checkout = js
                .iter()
                .find(|s| uses(s).starts_with("actions/checkout@"))
                .unwrap_or_else(|| panic!("job {job}: no checkout"));
            assert_eq!(
                checkout["with"]["fetch-depth"], 0,
                "job {job}: a shallow clone has no release tags"
            );
        }
    }

    // What is dispatched is what the config repository listens to and reads.
    let script = run_of(&steps_r[dispatch]);
    let gh = commands(script)
        .into_iter()
        .find(|c| c.first().map(String::as_str) == Some("gh"))
        .expect("gh api");
    let event = gh
        .iter()
        .find_map(|w| w.strip_prefix("event_type="))
        .expect("event_type=");
    assert_eq!(
        config["on"]["repository_dispatch"]["types"],
        serde_json::json!([event])
    );
    let mut sent: Vec<&str> = gh
        .iter()
        .filter_map(|w| w.strip_prefix("client_payload[")?.split_once("]="))
        .map(|(k, _)| k)
        .collect();
    sent.sort();
    assert_eq!(sent, ["image", "version"]);
    let config_text = text("config-repo.yml");
    for key in sent {
        assert!(
            config_text.contains(&format!("github.event.client_payload.{key}")),
            "the config workflow reads client_payload.{key}"
        );
    }
}

#[test]
fn the_config_repository_workflow_deploys_dev_and_proposes_prod() {
    let config = load("config-repo.yml");
    assert!(config["on"]["repository_dispatch"].is_object());
    assert_eq!(config["permissions"]["contents"], "write");
    assert_eq!(config["permissions"]["pull-requests"], "write");
    assert_eq!(config["jobs"]["dev"]["needs"], "payload");
    assert_eq!(config["jobs"]["prod"]["needs"], "dev", "prod after dev");

    // Payload values reach scripts through env only (a `${{ }}` in a script would make them
    // code): the workflow's env, checked by `every_bosun_command_line_…` for every script.
    assert_eq!(
        config["env"]["VERSION"],
        "${{ github.event.client_payload.version }}"
    );
    assert_eq!(
        config["env"]["IMAGE"],
        "${{ github.event.client_payload.image }}"
    );

    let dev = run_of(step(&config, "dev", "Deploy to dev"));
    let dev_cmds = bosun_commands(dev);
    assert_eq!(dev_cmds.len(), 1, "{dev}");
    assert_eq!(
        dev_cmds[0][..4],
        words("image set envs/dev/values.yaml image.tag=$VERSION")[..]
    );
    for flag in ["--commit", "--push"] {
        assert!(dev_cmds[0].contains(&flag.to_string()), "dev: {flag}");
    }
    assert!(!dev_cmds[0].contains(&"--branch".to_string()), "dev: main");

    let prod = run_of(step(&config, "prod", "branch"));
    let prod_cmds = bosun_commands(prod);
    assert_eq!(prod_cmds.len(), 1, "{prod}");
    assert_eq!(
        prod_cmds[0][..4],
        words("image set envs/prod/values.yaml image.tag=$VERSION")[..]
    );
    let branch_flag = prod_cmds[0].iter().position(|w| w == "--branch").unwrap();
    assert_eq!(prod_cmds[0][branch_flag + 1], "$branch");

    let pr = step(&config, "prod", "Open the pull request");
    assert_eq!(pr["env"]["BRANCH"], "${{ steps.branch.outputs.branch }}");
    let create = commands(run_of(pr))
        .into_iter()
        .find(|c| c.starts_with(&words("gh pr create")))
        .expect("gh pr create");
    let head = create.iter().position(|w| w == "--head").unwrap();
    assert_eq!(create[head + 1], "$BRANCH");
}

#[test]
fn the_composite_action_installs_bosun_and_exposes_bosun_versions_outputs() {
    let action = load("action.yml");
    assert_eq!(action["runs"]["using"], "composite");
    for input in ["bosun-version", "args", "working-directory", "install-only"] {
        assert!(action["inputs"][input].is_object(), "input {input}");
    }
    for s in steps(&action, "") {
        assert_eq!(s["shell"], "bash", "composite steps name their shell: {s}");
    }
    let install = run_of(step(&action, "", "Install bosun"));
    assert!(install.contains(
        "https://github.com/bosun-dev/bosun/releases/download/v${BOSUN_VERSION}/bosun-x86_64-unknown-linux-gnu.tar.gz"
    ));
    // Every output is one the version step writes (checked for real in
    // `the_version_step_writes_the_outputs_and_the_tag_step_tags`).
    for (name, output) in action["outputs"].as_object().unwrap() {
        assert_eq!(
            output["value"],
            format!("${{{{ steps.version.outputs.{name} }}}}"),
            "output {name}"
        );
    }
}

#[test]
fn every_bosun_command_line_uses_only_subcommands_and_flags_bosun_has() {
    let mut helps = HashMap::new();

    // The checker itself: it catches a misspelt flag, a missing or unknown subcommand.
    let bad = [
        "bosun image set f.yaml image.tag=1 --comit",
        "bosun verison --json",
        "bosun image",
        "bosun version --tag --force",
    ];
    for line in bad {
        let cmds = bosun_commands(line);
        assert_eq!(cmds.len(), 1, "{line}");
        assert!(
            check_bosun_command(&cmds[0], &mut helps).is_err(),
            "the checker accepted `{line}`"
        );
    }
    let good = "x=\"$(bosun version --tag --push)\" && bosun image set f k=v -m \"a -b\" --author \"$BOT\" --remote origin > /dev/null";
    let cmds = bosun_commands(good);
    assert_eq!(cmds.len(), 2, "{cmds:?}");
    for c in &cmds {
        check_bosun_command(c, &mut helps).unwrap();
    }

    let mut seen: Vec<String> = Vec::new();
    for file in ["app-repo.yml", "config-repo.yml", "action.yml"] {
        for (place, script) in scripts(&load(file)) {
            // Values reach scripts through env, never as `${{ … }}` inside a script (where a
            // payload or an input would be code).
            assert!(
                !script.contains("${{"),
                "{file}, {place}: `${{{{` in a script"
            );
            for words in bosun_commands(&script) {
                let path = check_bosun_command(&words, &mut helps)
                    .unwrap_or_else(|e| panic!("{file}, {place}: {e}"));
                let mut line = path.join(" ");
                for w in words.iter().filter(|w| w.starts_with("--")) {
                    line.push(' ');
                    line.push_str(w);
                }
                seen.push(format!("{file}: {line}"));
            }
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "action.yml: version --json --github-output",
            "app-repo.yml: version --tag --push",
            "config-repo.yml: image set --commit --push --branch --message --author",
            "config-repo.yml: image set --commit --push --message --author",
        ],
        "the bosun command lines of the examples"
    );
}

// ---------------------------------------------------------------------------------------------
// Running the steps

const DEV: &str = "# dev: every release, at once\nimage:\n  repository: ghcr.io/acme/api\n  tag: \"1.2.0\" # set by CI\nreplicas: 1\n";
const PROD: &str = "# prod: through a pull request\nimage:\n  repository: ghcr.io/acme/api\n  tag: 1.1.0\nreplicas: 3\n";

/// A bare "remote" config repository with envs/dev and envs/prod values on main.
fn config_remote(root: &Path) -> PathBuf {
    git(root, &["init", "-q", "--bare", "-b", "main", "config.git"]);
    git(root, &["clone", "-q", "config.git", "seed"]);
    let seed = root.join("seed");
    for (env, values) in [("dev", DEV), ("prod", PROD)] {
        std::fs::create_dir_all(seed.join("envs").join(env)).unwrap();
        std::fs::write(seed.join("envs").join(env).join("values.yaml"), values).unwrap();
    }
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "-q", "-m", "init"]);
    git(&seed, &["push", "-q", "origin", "HEAD:main"]);
    root.join("config.git")
}

/// What actions/checkout leaves: a clone with main checked out and `origin` to push to.
fn checkout(root: &Path, remote: &Path, name: &str) -> PathBuf {
    git(root, &["clone", "-q", remote.to_str().unwrap(), name]);
    root.join(name)
}

fn config_known(version: &str) -> HashMap<&'static str, String> {
    known(&[
        ("github.event.client_payload.image", "ghcr.io/acme/api"),
        ("github.event.client_payload.version", version),
        ("github.token", "test-token"),
        ("github.event.repository.default_branch", "main"),
    ])
}

#[test]
fn the_config_repository_steps_commit_dev_to_main_and_prod_to_a_branch() {
    let config = load("config-repo.yml");
    let runner = Runner::new();
    let root = tempfile::tempdir().unwrap();
    let remote = config_remote(root.path());
    let main_before = git(&remote, &["rev-parse", "main"]);
    let wf_env = env_layer(&config);
    let k = config_known("1.3.0");

    // The payload check: a semantic version passes, anything else stops the run.
    let payload = step(&config, "payload", "Check the payload");
    let ok = runner.run(payload, &[wf_env, env_layer(payload)], &k, root.path(), &[]);
    ok.assert_ok("payload 1.3.0");
    for bad in ["1.3.0; touch pwned", "latest", "", "v1.3.0"] {
        let r = runner.run(
            payload,
            &[wf_env, env_layer(payload)],
            &config_known(bad),
            root.path(),
            &[],
        );
        assert!(!r.out.status.success(), "payload {bad:?} accepted");
    }

    // dev: one commit on the remote's main, only the tag's text changed, by the bot.
    let dev_job = &config["jobs"]["dev"];
    let dev_step = step(&config, "dev", "Deploy to dev");
    let ci = checkout(root.path(), &remote, "ci-dev");
    let r = runner.run(
        dev_step,
        &[wf_env, env_layer(dev_job), env_layer(dev_step)],
        &k,
        &ci,
        &[],
    );
    r.assert_ok("dev step");
    assert_eq!(
        git(&remote, &["rev-parse", "main~1"]),
        main_before,
        "one commit on main"
    );
    assert_eq!(
        git(&remote, &["diff", "--name-only", "main~1", "main"]),
        "envs/dev/values.yaml"
    );
    assert_eq!(
        git(&remote, &["show", "main:envs/dev/values.yaml"]) + "\n",
        DEV.replace("\"1.2.0\"", "\"1.3.0\""),
        "only the tag changed, quotes and comment kept"
    );
    assert_eq!(
        git(&remote, &["log", "-1", "--format=%an <%ae>|%s", "main"]),
        format!("{BOT}|build: deploy ghcr.io/acme/api:1.3.0 to dev")
    );
    let main_after_dev = git(&remote, &["rev-parse", "main"]);

    // prod: a branch release/prod-1.3.0 on the remote, one commit on main's head, only the prod
    // tag changed; main itself untouched.
    let prod_job = &config["jobs"]["prod"];
    let prod_step = step(&config, "prod", "branch");
    let ci = checkout(root.path(), &remote, "ci-prod");
    let layers = [wf_env, env_layer(prod_job), env_layer(prod_step)];
    let r = runner.run(prod_step, &layers, &k, &ci, &[]);
    r.assert_ok("prod step");
    assert_eq!(r.outputs["branch"], "release/prod-1.3.0");
    let branch = "release/prod-1.3.0";
    assert_eq!(git(&remote, &["rev-parse", "main"]), main_after_dev);
    assert_eq!(
        git(&remote, &["rev-parse", &format!("{branch}~1")]),
        main_after_dev
    );
    assert_eq!(
        git(&remote, &["diff", "--name-only", "main", branch]),
        "envs/prod/values.yaml"
    );
    assert_eq!(
        git(
            &remote,
            &["show", &format!("{branch}:envs/prod/values.yaml")]
        ) + "\n",
        PROD.replace("1.1.0", "1.3.0")
    );
    assert_eq!(
        git(&remote, &["log", "-1", "--format=%an <%ae>|%s", branch]),
        format!("{BOT}|build: deploy ghcr.io/acme/api:1.3.0 to prod")
    );
    let proposed = git(&remote, &["rev-parse", branch]);

    // The pull request step (gh is a recording fake): base main, head the branch.
    let pr = step(&config, "prod", "Open the pull request");
    let k_pr = {
        let mut k = k.clone();
        k.insert("steps.branch.outputs.branch", r.outputs["branch"].clone());
        k
    };
    let pr_layers = [wf_env, env_layer(prod_job), env_layer(pr)];
    runner
        .run(pr, &pr_layers, &k_pr, &ci, &[])
        .assert_ok("pr step");
    let calls = runner.take_calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0][..3], ["pr", "list", "--head"]);
    assert_eq!(
        calls[1][..7],
        [
            "pr", "create", "--base", "main", "--head", branch, "--title"
        ]
    );
    assert_eq!(calls[1][7], "Deploy ghcr.io/acme/api:1.3.0 to prod");

    // A re-run (after main moved on with the next dev release) changes nothing and succeeds.
    let ci = checkout(root.path(), &remote, "ci-dev-2");
    runner
        .run(
            dev_step,
            &[wf_env, env_layer(dev_job), env_layer(dev_step)],
            &config_known("1.3.1"),
            &ci,
            &[],
        )
        .assert_ok("dev 1.3.1");
    let ci = checkout(root.path(), &remote, "ci-prod-rerun");
    let rerun = runner.run(prod_step, &layers, &k, &ci, &[]);
    rerun.assert_ok("prod re-run");
    assert!(rerun.stdout().contains("already"), "{}", rerun.describe());
    assert_eq!(git(&remote, &["rev-parse", branch]), proposed);

    // A release prod already runs proposes nothing: no branch, and the PR step opens nothing.
    let ci = checkout(root.path(), &remote, "ci-prod-same");
    std::fs::write(
        ci.join("envs/prod/values.yaml"),
        PROD.replace("1.1.0", "1.2.5"),
    )
    .unwrap();
    git(&ci, &["commit", "-q", "-am", "prod 1.2.5"]);
    git(&ci, &["push", "-q", "origin", "HEAD:main"]);
    let ci = checkout(root.path(), &remote, "ci-prod-same-2");
    let k_same = config_known("1.2.5");
    let same = runner.run(prod_step, &layers, &k_same, &ci, &[]);
    same.assert_ok("prod 1.2.5");
    assert!(
        git(&remote, &["branch", "--list", "release/prod-1.2.5"]).is_empty(),
        "no branch for a version prod runs"
    );
    let mut k_same_pr = k_same.clone();
    k_same_pr.insert(
        "steps.branch.outputs.branch",
        same.outputs["branch"].clone(),
    );
    runner
        .run(pr, &pr_layers, &k_same_pr, &ci, &[])
        .assert_ok("pr step, nothing to propose");
    assert!(runner.take_calls().is_empty(), "no gh call");
}

/// An application repository (pushed to a bare remote) with a release and unreleased
/// Conventional Commits: feat → 1.3.0.
fn app_repository(root: &Path) -> PathBuf {
    git(root, &["init", "-q", "--bare", "-b", "main", "app.git"]);
    git(root, &["clone", "-q", "app.git", "seed"]);
    let seed = root.join("seed");
    let commit = |file: &str, message: &str| {
        std::fs::write(seed.join(file), message).unwrap();
        git(&seed, &["add", file]);
        git(&seed, &["commit", "-q", "-m", message]);
    };
    commit("a", "feat: the first endpoint");
    git(&seed, &["tag", "-a", "v1.2.0", "-m", "v1.2.0"]);
    commit("b", "fix: a timeout");
    commit("c", "feat(api): pagination");
    commit("d", "docs: readme");
    commit("e", "Update something");
    git(
        &seed,
        &["push", "-q", "--follow-tags", "origin", "HEAD:main"],
    );
    root.join("app.git")
}

#[test]
fn the_version_step_writes_the_outputs_and_the_tag_step_tags() {
    let action = load("action.yml");
    let app = load("app-repo.yml");
    let runner = Runner::new();
    let root = tempfile::tempdir().unwrap();
    let remote = app_repository(root.path());
    let ci = checkout(root.path(), &remote, "ci");

    // The action's version step, as the version job runs it (no args).
    let version_step = step(&action, "", "version");
    let action_known = |args: &str| {
        known(&[
            ("inputs.args", args),
            ("inputs.working-directory", "."),
            ("inputs.bosun-version", "0.1.0"),
        ])
    };
    let r = runner.run(
        version_step,
        &[env_layer(version_step)],
        &action_known(""),
        &ci,
        &[],
    );
    r.assert_ok("version step");
    let o = &r.outputs;
    assert_eq!(o["version"], "1.3.0");
    assert_eq!(o["previous"], "1.2.0");
    assert_eq!(o["bump"], "minor");
    assert_eq!(o["released"], "true");
    assert_eq!(o["tag"], "v1.3.0");
    let json: Value = serde_json::from_str(&o["json"]).expect("the json output is the report");
    assert_eq!(json["version"], "1.3.0");
    assert_eq!(json["commits"]["feat"][0]["scope"], "api");
    assert_eq!(json["ignored"][0]["header"], "Update something");
    assert!(
        r.summary.contains("\"version\": \"1.3.0\""),
        "{}",
        r.summary
    );
    for name in action["outputs"].as_object().unwrap().keys() {
        assert!(o.contains_key(name), "the step writes no `{name}`: {o:?}");
    }

    // `args` reach bosun as separate words.
    let r = runner.run(
        version_step,
        &[env_layer(version_step)],
        &action_known("--pre rc --tag-prefix v"),
        &ci,
        &[],
    );
    r.assert_ok("version step with args");
    assert_eq!(r.outputs["version"], "1.3.0-rc.1");
    assert_eq!(r.outputs["tag"], "v1.3.0-rc.1");

    // The app workflow's tag step, on a runner without a git identity: an annotated tag
    // v1.3.0 on HEAD, on the remote.
    let tag_step = step(&app, "release", "Tag the release");
    let layers = [
        env_layer(&app),
        env_layer(&app["jobs"]["release"]),
        env_layer(tag_step),
    ];
    let app_known = |v: &str| {
        known(&[
            ("needs.version.outputs.version", v),
            ("secrets.CONFIG_REPO_TOKEN", "test-token"),
        ])
    };
    runner
        .run(tag_step, &layers, &app_known("1.3.0"), &ci, &[])
        .assert_ok("tag step");
    let head = git(&ci, &["rev-parse", "HEAD"]);
    assert_eq!(git(&remote, &["rev-parse", "v1.3.0^{commit}"]), head);
    assert_eq!(git(&remote, &["cat-file", "-t", "v1.3.0"]), "tag");
    let tagger = git(
        &remote,
        &[
            "for-each-ref",
            "refs/tags/v1.3.0",
            "--format=%(taggername) <%(taggeremail:trim)>",
        ],
    );
    assert_eq!(tagger, BOT);
    assert!(
        git(&remote, &["tag", "-l", "--format=%(contents)", "v1.3.0"]).contains("pagination"),
        "the tag carries the release notes"
    );

    // Re-running the job after the tag was pushed (the dispatch failed): the step passes.
    runner
        .run(tag_step, &layers, &app_known("1.3.0"), &ci, &[])
        .assert_ok("tag step re-run");
    // A version that is not the one computed for this commit stops the job before dispatch.
    let wrong = runner.run(tag_step, &layers, &app_known("1.4.0"), &ci, &[]);
    assert!(!wrong.out.status.success(), "{}", wrong.describe());

    // The dispatch (gh is a recording fake).
    let dispatch = step(&app, "release", "Tell the config repository");
    let layers = [
        env_layer(&app),
        env_layer(&app["jobs"]["release"]),
        env_layer(dispatch),
    ];
    runner
        .run(dispatch, &layers, &app_known("1.3.0"), &ci, &[])
        .assert_ok("dispatch step");
    assert_eq!(
        runner.take_calls(),
        [words(
            "api --method POST repos/acme/config/dispatches -f event_type=image-released -f client_payload[image]=ghcr.io/acme/api -f client_payload[version]=1.3.0"
        )]
    );
}

#[test]
fn the_install_step_puts_the_released_binary_on_path() {
    if std::env::consts::ARCH != "x86_64" {
        return; // the action installs the x86_64 build and refuses other runners
    }
    let action = load("action.yml");
    let runner = Runner::new();
    let install = step(&action, "", "Install bosun");

    // A release archive as cargo-dist lays it out: bosun-<target>/bosun (here without its
    // executable bit, which the step sets).
    let dist = runner.root.path().join("dist");
    let inner = dist.join("bosun-x86_64-unknown-linux-gnu");
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::write(inner.join("bosun"), "#!/bin/sh\necho \"bosun 0.1.0 $*\"\n").unwrap();
    let tarball = runner.root.path().join("bosun.tar.gz");
    let out = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(&dist)
        .arg("bosun-x86_64-unknown-linux-gnu")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let url = "https://github.com/bosun-dev/bosun/releases/download/v0.1.0/bosun-x86_64-unknown-linux-gnu.tar.gz";
    let k = known(&[("inputs.bosun-version", "0.1.0")]);
    let fakes = [
        ("FAKE_URL", url.to_string()),
        ("FAKE_TARBALL", tarball.display().to_string()),
    ];
    let r = runner.run(
        install,
        &[env_layer(install)],
        &k,
        runner.root.path(),
        &fakes,
    );
    r.assert_ok("install step");
    let dir = PathBuf::from(r.github_path.trim());
    assert!(
        dir.starts_with(runner.root.path().join("runner-temp")),
        "{dir:?}"
    );
    let installed = dir.join("bosun");
    let out = Command::new(&installed).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "bosun 0.1.0 --version\n"
    );
    assert!(
        r.stdout().contains("bosun 0.1.0 --version"),
        "{}",
        r.describe()
    );
    let calls = runner.take_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].last().unwrap(), url);

    // A release that does not exist fails the step.
    let k = known(&[("inputs.bosun-version", "9.9.9")]);
    let r = runner.run(
        install,
        &[env_layer(install)],
        &k,
        runner.root.path(),
        &fakes,
    );
    assert!(!r.out.status.success(), "{}", r.describe());
}
