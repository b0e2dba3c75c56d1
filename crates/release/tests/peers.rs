//! Agreement with the real tools on the same generated histories: `git cliff --bumped-version`
//! (profile `git-cliff`) and semantic-release's dry run with the conventionalcommits preset
//! (profile `semantic-release`, the default). The peers are installed by
//! `scripts/install-test-deps` under `$BOSUN_TOOLS` (default `~/.cache/bosun-tools`); a missing
//! peer fails the test, it never skips it.
//!
//! Each scenario also states the version the research table (shared/research/semver-tools.md
//! §1.2) recorded, so a peer upgrade that changes behaviour shows up as a failure too.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use bosun_release::profile::ProfileName;
use common::TestRepo;

fn tools() -> PathBuf {
    match std::env::var_os("BOSUN_TOOLS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/bosun-tools"),
    }
}

fn peer(relative: &str) -> PathBuf {
    let path = tools().join(relative);
    assert!(
        path.exists(),
        "peer tool {} is missing: run scripts/install-test-deps (it installs git-cliff and \
         semantic-release under $BOSUN_TOOLS, default ~/.cache/bosun-tools)",
        path.display()
    );
    path
}

/// A scenario: a history, the bosun flags that describe its tag layout, and the peer flags for
/// the same layout.
struct Scenario {
    name: &'static str,
    build: fn(&TestRepo),
    /// (tag prefix, path) for bosun.
    prefix: &'static str,
    path: Option<&'static str>,
    /// Extra git-cliff arguments (tag pattern, include path).
    cliff_args: &'static [&'static str],
}

fn init(r: &TestRepo, tag: &str) {
    r.commit("chore: init");
    r.tag(tag);
}

const fn plain(name: &'static str, build: fn(&TestRepo)) -> Scenario {
    Scenario {
        name,
        build,
        prefix: "v",
        path: None,
        cliff_args: &[],
    }
}

fn scenarios() -> Vec<Scenario> {
    vec![
        plain("s01 no tag; feat, fix", |r| {
            r.commit("feat: a");
            r.commit("fix: b");
        }),
        plain("s02 fix", |r| {
            init(r, "v1.0.0");
            r.commit("fix: a");
        }),
        plain("s03 fix, feat(api), docs", |r| {
            init(r, "v1.0.0");
            r.commit("fix: a");
            r.commit("feat(api): b");
            r.commit("docs: c");
        }),
        plain("s04 feat!", |r| {
            init(r, "v1.0.0");
            r.commit("feat!: a");
        }),
        plain("s05 BREAKING CHANGE footer", |r| {
            init(r, "v1.0.0");
            r.commit("feat: a\n\nBREAKING CHANGE: b");
        }),
        plain("s06 0.x feat(core)!", |r| {
            init(r, "v0.3.0");
            r.commit("feat(core)!: a");
        }),
        plain("s07 0.x feat", |r| {
            init(r, "v0.3.0");
            r.commit("feat: a");
        }),
        plain("s08 docs, chore, ci", |r| {
            init(r, "v1.0.0");
            r.commit("docs: a");
            r.commit("chore: b");
            r.commit("ci: c");
        }),
        plain("s09 perf", |r| {
            init(r, "v1.0.0");
            r.commit("perf: a");
        }),
        plain("s10 refactor", |r| {
            init(r, "v1.0.0");
            r.commit("refactor: a");
        }),
        plain("s11 unconventional only", |r| {
            init(r, "v1.0.0");
            r.commit("Update stuff");
            r.commit("WIP");
        }),
        plain("s12 BREAKING-CHANGE footer", |r| {
            init(r, "v1.0.0");
            r.commit("fix: a\n\nBREAKING-CHANGE: b");
        }),
        plain("s13 0.x fix", |r| {
            init(r, "v0.3.0");
            r.commit("fix: a");
        }),
        plain("s14 fix(parser)!", |r| {
            init(r, "v1.2.3");
            r.commit("fix(parser)!: a");
        }),
        plain("s15 feat and its revert", |r| {
            init(r, "v1.0.0");
            let feat = r.commit("feat: a");
            r.git(&["revert", "--no-edit", &feat]);
        }),
        plain("s16 --no-ff merge of a feat branch", |r| {
            init(r, "v1.0.0");
            r.git(&["checkout", "-q", "-b", "feature"]);
            r.commit("feat: a");
            r.git(&["checkout", "-q", "main"]);
            r.commit_file("other.txt", "chore: b");
            r.git(&[
                "merge",
                "-q",
                "--no-ff",
                "feature",
                "-m",
                "Merge branch 'feature'",
            ]);
        }),
        plain("s17 prerelease tag then fix", |r| {
            init(r, "v1.0.0");
            r.commit("feat: a");
            r.tag("v1.1.0-beta.1");
            r.commit("fix: b");
        }),
        Scenario {
            name: "s18 unprefixed tag 1.0.0; feat",
            build: |r| {
                init(r, "1.0.0");
                r.commit("feat: a");
            },
            prefix: "",
            path: None,
            cliff_args: &["--tag-pattern", "^[0-9]"],
        },
        Scenario {
            name: "non-semver and other-prefix tags mixed in",
            build: |r| {
                init(r, "v1.2.0");
                r.commit("fix: a");
                for t in ["latest", "deploy-2026", "app-v9.0.0"] {
                    r.tag(t);
                }
                r.commit("feat: b");
            },
            prefix: "v",
            path: None,
            // git-cliff counts every tag unless told; this is the pattern a user would give it.
            cliff_args: &["--tag-pattern", "^v[0-9]"],
        },
        Scenario {
            name: "monorepo component by path and prefix",
            build: |r| {
                r.commit_file("services/api/main.rs", "chore: api init");
                r.commit_file("services/web/main.ts", "chore: web init");
                r.tag("api-v1.0.0");
                r.commit_file("services/web/main.ts", "feat(web): not api");
                r.commit_file("services/api/main.rs", "fix(api): api");
                r.commit_file("README.md", "feat: top level");
            },
            prefix: "api-v",
            path: Some("services/api"),
            cliff_args: &[
                "--tag-pattern",
                "^api-v",
                "--include-path",
                "services/api/**",
            ],
        },
        plain("breaking note on a non-conventional header", |r| {
            init(r, "v1.0.0");
            r.commit("Update the config loader\n\nBREAKING CHANGE: the old file is ignored");
        }),
        plain("typed revert header without the git revert line", |r| {
            init(r, "v1.0.0");
            r.commit("revert: feat: a");
        }),
        plain("chore(deps) only", |r| {
            init(r, "v1.0.0");
            r.commit("chore(deps): bump serde");
        }),
    ]
}

fn bosun(repo: &TestRepo, s: &Scenario, profile: ProfileName) -> String {
    repo.version(|a| {
        a.profile = Some(profile);
        a.tag_prefix = Some(s.prefix.to_string());
        a.path = s.path.map(str::to_string);
    })
}

#[test]
fn git_cliff_profile_agrees_with_git_cliff() {
    let git_cliff = peer("venv/bin/git-cliff");
    // (scenario, version git-cliff 2.14.2 gave in the research run, without the tag prefix)
    let recorded = [
        "0.1.0",
        "1.0.1",
        "1.1.0",
        "2.0.0",
        "2.0.0",
        "1.0.0",
        "0.4.0",
        "1.0.1",
        "1.0.1",
        "1.0.1",
        "1.0.0",
        "2.0.0",
        "0.3.1",
        "2.0.0",
        "1.1.0",
        "1.1.0",
        "1.1.0-beta.2",
        "1.1.0",
        "1.3.0",
        "1.0.1",
        "1.0.0",
        "1.0.1",
        "1.0.0",
    ];
    let scenarios = scenarios();
    assert_eq!(scenarios.len(), recorded.len());
    let mut disagreements = Vec::new();
    for (s, recorded) in scenarios.iter().zip(recorded) {
        let repo = TestRepo::new();
        (s.build)(&repo);
        let out = Command::new(&git_cliff)
            .arg("--bumped-version")
            .args(s.cliff_args)
            .current_dir(repo.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .expect("git-cliff runs");
        assert!(
            out.status.success(),
            "{}: git-cliff failed: {}",
            s.name,
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let theirs = theirs.strip_prefix(s.prefix).unwrap_or(&theirs).to_string();
        let ours = bosun(&repo, s, ProfileName::GitCliff);
        if ours != theirs || theirs != recorded {
            disagreements.push(format!(
                "{}: bosun {ours:?}, git-cliff {theirs:?}, recorded {recorded:?}",
                s.name
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// semantic-release takes 2–3 s a run: a handful of scenarios that cover its distinctive rules.
const SEMANTIC_RELEASE_SCENARIOS: &[(&str, Option<&str>)] = &[
    ("s01 no tag; feat, fix", Some("1.0.0")),
    ("s03 fix, feat(api), docs", Some("1.1.0")),
    ("s04 feat!", Some("2.0.0")),
    ("s06 0.x feat(core)!", Some("1.0.0")),
    ("s08 docs, chore, ci", None),
    ("s12 BREAKING-CHANGE footer", Some("2.0.0")),
    ("s15 feat and its revert", None),
    ("s16 --no-ff merge of a feat branch", Some("1.1.0")),
    ("non-semver and other-prefix tags mixed in", Some("1.3.0")),
    ("breaking note on a non-conventional header", Some("2.0.0")),
    ("typed revert header without the git revert line", None),
];

/// The config the dry run extends: only the commit-analyzer and release-notes-generator
/// plugins, with the conventionalcommits preset. Plugins resolve relative to the config file, so
/// they are named by absolute path into the tools' node_modules.
fn semantic_release_config(dir: &Path, branches: &str) -> PathBuf {
    let modules = peer("npm/node_modules/@semantic-release");
    let plugin = |name: &str| modules.join(name).display().to_string();
    let file = dir.join("release.config.cjs");
    std::fs::write(
        &file,
        format!(
            "module.exports = {{ branches: {branches}, plugins: [\n\
             [{:?}, {{ preset: 'conventionalcommits' }}],\n\
             [{:?}, {{ preset: 'conventionalcommits' }}],\n] }};\n",
            plugin("commit-analyzer"),
            plugin("release-notes-generator"),
        ),
    )
    .unwrap();
    file
}

/// `semantic-release --dry-run --no-ci` against the repository itself as remote; `None` when it
/// says there is nothing to release.
fn semantic_release(repo: &TestRepo, config: &Path) -> Option<String> {
    let bin = peer("npm/node_modules/.bin/semantic-release");
    let url = format!("file://{}", repo.path().display());
    // A clean environment: in CI, env-ci would otherwise take the branch from $GITHUB_REF.
    let out = Command::new(&bin)
        .args([
            "--dry-run",
            "--no-ci",
            "--repository-url",
            &url,
            "--extends",
        ])
        .arg(config)
        .current_dir(repo.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", repo.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.test")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.test")
        .output()
        .expect("semantic-release runs");
    // The log goes to stdout or stderr depending on the terminal: read both. It says "The next
    // release version is 1.1.0", or for a first release "There is no previous release, the next
    // release version is 1.0.0".
    let stdout = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(line) = stdout
        .lines()
        .find(|l| l.contains("next release version is "))
    {
        let version = line.rsplit("next release version is ").next().unwrap();
        return Some(version.trim().to_string());
    }
    assert!(
        stdout.contains("There are no relevant changes, so no new version is released"),
        "semantic-release said neither a version nor 'no relevant changes' (exit {:?}):\n{stdout}",
        out.status.code(),
    );
    None
}

#[test]
fn semantic_release_profile_agrees_with_semantic_release() {
    let config_dir = tempfile::tempdir().unwrap();
    let config = semantic_release_config(config_dir.path(), "['main']");
    let all = scenarios();
    let mut disagreements = Vec::new();
    for (name, recorded) in SEMANTIC_RELEASE_SCENARIOS {
        let s = all
            .iter()
            .find(|s| s.name == *name)
            .expect("scenario exists");
        let repo = TestRepo::new();
        (s.build)(&repo);
        let theirs = semantic_release(&repo, &config);
        let json = repo.json(|a| {
            a.profile = Some(ProfileName::SemanticRelease);
            a.tag_prefix = Some(s.prefix.to_string());
        });
        let ours =
            (json["released"] == true).then(|| json["version"].as_str().unwrap().to_string());
        if ours != theirs || theirs.as_deref() != *recorded {
            disagreements.push(format!(
                "{name}: bosun {ours:?}, semantic-release {theirs:?}, recorded {recorded:?}"
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn prerelease_branch_agrees_with_semantic_release() {
    // semantic-release: branches [main, {name: beta, prerelease: true}]; bosun: the same mapping
    // in .bosun/release.yaml (excluded from the history so both see the same commits).
    let config_dir = tempfile::tempdir().unwrap();
    let config = semantic_release_config(
        config_dir.path(),
        "['main', { name: 'beta', prerelease: true }]",
    );
    let repo = TestRepo::new();
    init(&repo, "v1.0.0");
    repo.git(&["checkout", "-q", "-b", "beta"]);
    repo.commit("feat: a");
    repo.commit("fix: b");
    let theirs = semantic_release(&repo, &config);
    repo.write(
        ".bosun/release.yaml",
        "branches:\n  main: release\n  beta: beta\n",
    );
    let ours = repo.next();
    assert_eq!(theirs.as_deref(), Some("1.1.0-beta.1"));
    assert_eq!(ours, "1.1.0-beta.1");
}
