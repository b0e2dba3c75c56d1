//! `bosun version` on real repositories: every rule of issue 5, through the library and (for exit
//! codes, stdout and $GITHUB_OUTPUT) through the compiled binary.

mod common;

use bosun_release::profile::ProfileName;
use common::{TestRepo, run_bosun};

fn repo_at(tag: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.commit("chore: init");
    repo.tag(tag);
    repo
}

#[test]
fn breaking_via_bang_and_via_footers() {
    let bang = repo_at("v1.0.0");
    bang.commit("feat(api)!: drop the v1 routes");
    assert_eq!(bang.next(), "2.0.0");

    let footer = repo_at("v1.0.0");
    footer.commit("feat: new config\n\nBREAKING CHANGE: the old config file is not read");
    assert_eq!(footer.next(), "2.0.0");

    let hyphen = repo_at("v1.0.0");
    hyphen.commit("fix: a\n\nBREAKING-CHANGE: b");
    assert_eq!(hyphen.next(), "2.0.0");
    // The older angular preset knows neither `!` nor the hyphenated footer.
    let angular =
        |r: &TestRepo| r.version(|a| a.profile = Some(ProfileName::SemanticReleaseAngular));
    assert_eq!(angular(&hyphen), "1.0.1");
    assert_eq!(angular(&bang), "1.0.0");
    // Lower-case is not a breaking footer: the spec says it MUST be upper case.
    let lower = repo_at("v1.0.0");
    lower.commit("fix: a\n\nbreaking change: b");
    assert_eq!(lower.next(), "1.0.1");
}

#[test]
fn scopes_types_and_json_grouping() {
    let repo = repo_at("v1.0.0");
    repo.commit("fix(parser): tabs");
    repo.commit("feat(api): widgets");
    repo.commit("docs: readme");
    repo.commit("Update stuff");
    repo.commit("FEAT(ui): shouting");
    let json = repo.json(|_| {});
    assert_eq!(json["version"], "1.1.0");
    assert_eq!(json["previous"], "1.0.0");
    assert_eq!(json["bump"], "minor");
    assert_eq!(json["released"], true);
    assert_eq!(json["tag"], "v1.1.0");
    let feats = json["commits"]["feat"].as_array().unwrap();
    let scopes: Vec<&str> = feats.iter().map(|c| c["scope"].as_str().unwrap()).collect();
    assert_eq!(scopes, ["ui", "api"]);
    assert_eq!(json["commits"]["fix"][0]["scope"], "parser");
    assert_eq!(json["commits"]["docs"][0]["bump"], "none");
    let ignored = json["ignored"].as_array().unwrap();
    assert_eq!(ignored.len(), 1);
    assert_eq!(ignored[0]["header"], "Update stuff");
    assert_eq!(ignored[0]["status"], "malformed");
}

#[test]
fn no_tags_first_version_per_profile_and_config() {
    let repo = TestRepo::new();
    repo.commit("feat: a");
    repo.commit("fix: b");
    assert_eq!(repo.next(), "1.0.0");
    assert_eq!(
        repo.version(|a| a.profile = Some(ProfileName::GitCliff)),
        "0.1.0"
    );
    assert_eq!(
        repo.version(|a| a.profile = Some(ProfileName::ReleasePlease)),
        "1.0.0"
    );
    repo.write(".bosun/release.yaml", "initial_version: 0.0.1\n");
    assert_eq!(repo.next(), "0.0.1");
    let json = repo.json(|_| {});
    assert_eq!(json["previous"], serde_json::Value::Null);
    assert_eq!(json["released"], true);
}

#[test]
fn no_releasable_commit_is_not_an_error() {
    let repo = repo_at("v1.4.2");
    repo.commit("docs: a");
    repo.commit("chore: b");
    repo.commit("WIP");
    assert_eq!(repo.next(), "1.4.2");
    let json = repo.json(|_| {});
    assert_eq!(json["released"], false);
    assert_eq!(json["bump"], "none");
    assert_eq!(json["tag"], serde_json::Value::Null);

    let out_file = repo.path().join("gh-output");
    let out = run_bosun(
        repo.path(),
        &["version", "--github-output"],
        &[("GITHUB_OUTPUT", out_file.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1.4.2\n");
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap(),
        "version=1.4.2\nprevious=1.4.2\nbump=none\nreleased=false\ntag=\n"
    );
}

#[test]
fn github_output_for_a_release_appends() {
    let repo = repo_at("v2.0.0");
    repo.commit("fix: x");
    let out_file = repo.path().join("gh-output");
    std::fs::write(&out_file, "earlier=1\n").unwrap();
    let out = run_bosun(
        repo.path(),
        &["version", "--github-output"],
        &[("GITHUB_OUTPUT", out_file.to_str().unwrap())],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap(),
        "earlier=1\nversion=2.0.1\nprevious=2.0.0\nbump=patch\nreleased=true\ntag=v2.0.1\n"
    );
}

#[test]
fn non_semver_and_other_prefix_tags_are_ignored() {
    let repo = repo_at("v1.2.0");
    repo.commit("fix: a");
    for t in [
        "latest",
        "deploy-2026-01-01",
        "v2",
        "v3.0",
        "release-9.0.0",
        "app-v7.0.0",
        "1.9.0",
    ] {
        repo.tag(t);
    }
    repo.commit("feat: b");
    assert_eq!(repo.next(), "1.3.0");
    assert_eq!(repo.version(|a| a.current = true), "1.2.0");
    // The same tags with the empty prefix: `1.9.0` is the release now.
    assert_eq!(
        repo.version(|a| a.tag_prefix = Some(String::new())),
        "1.10.0"
    );
    // Annotated tags are peeled to their commit.
    repo.git(&["tag", "-a", "v1.3.0", "-m", "release 1.3.0"]);
    repo.commit("fix: c");
    assert_eq!(repo.next(), "1.3.1");
}

#[test]
fn highest_reachable_tag_not_tags_on_other_branches() {
    let repo = repo_at("v1.0.0");
    repo.git(&["checkout", "-q", "-b", "experiment"]);
    repo.commit("feat!: rewrite");
    repo.tag("v2.0.0");
    repo.git(&["checkout", "-q", "main"]);
    repo.commit("fix: a");
    // v2.0.0 is higher but not reachable from main.
    assert_eq!(repo.next(), "1.0.1");
    assert_eq!(repo.version(|a| a.current = true), "1.0.0");
}

#[test]
fn merge_commits_count_their_branch() {
    let repo = repo_at("v1.0.0");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo.commit("feat(ui): dark mode");
    repo.git(&["checkout", "-q", "main"]);
    repo.commit_file("other.txt", "docs: b");
    repo.git(&[
        "merge",
        "-q",
        "--no-ff",
        "feature",
        "-m",
        "Merge branch 'feature'",
    ]);
    let json = repo.json(|_| {});
    assert_eq!(json["version"], "1.1.0");
    assert_eq!(json["commits"]["feat"][0]["scope"], "ui");
    let ignored: Vec<&str> = json["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["header"].as_str().unwrap())
        .collect();
    assert_eq!(ignored, ["Merge branch 'feature'"]);
}

#[test]
fn commits_released_on_a_maintenance_branch_count_again_after_the_merge() {
    // semantic-release's range is last-release..HEAD: a fix shipped as 1.0.1 on 1.0.x is new
    // to the 1.1 line, so merging it into main releases 1.1.1.
    let repo = repo_at("v1.0.0");
    repo.git(&["checkout", "-q", "-b", "1.0.x"]);
    repo.commit_file("fix.txt", "fix: backported");
    repo.tag("v1.0.1");
    repo.git(&["checkout", "-q", "main"]);
    repo.commit("feat: new");
    repo.tag("v1.1.0");
    repo.git(&[
        "merge",
        "-q",
        "--no-ff",
        "1.0.x",
        "-m",
        "Merge branch '1.0.x'",
    ]);
    assert_eq!(repo.version(|a| a.current = true), "1.1.0");
    assert_eq!(repo.next(), "1.1.1");
}

#[test]
fn reverts_as_semantic_release_and_as_the_others() {
    let repo = repo_at("v1.0.0");
    let feat = repo.commit("feat: risky");
    repo.git(&["revert", "--no-edit", &feat]);
    assert_eq!(repo.next(), "1.0.0");
    let json = repo.json(|_| {});
    assert_eq!(json["released"], false);
    assert_eq!(json["ignored"][0]["status"], "cancelled");
    assert_eq!(json["ignored"][1]["status"], "cancelled");
    assert_eq!(
        repo.version(|a| a.profile = Some(ProfileName::GitCliff)),
        "1.1.0"
    );
    assert_eq!(
        repo.version(|a| a.profile = Some(ProfileName::ReleasePlease)),
        "1.1.0"
    );

    // Reverting something already released is a patch (semantic-release's revert rule).
    let released = repo_at("v1.0.0");
    let feat = released.commit("feat: shipped");
    released.tag("v1.1.0");
    released.git(&["revert", "--no-edit", &feat]);
    assert_eq!(released.next(), "1.1.1");
    assert_eq!(
        released.version(|a| a.profile = Some(ProfileName::GitCliff)),
        "1.1.0"
    );
}

#[test]
fn prereleases_count_up_and_graduate() {
    let repo = repo_at("v1.2.0");
    repo.commit("feat: a");
    let rc = |r: &TestRepo| r.version(|a| a.pre = Some("rc".into()));
    assert_eq!(rc(&repo), "1.3.0-rc.1");
    repo.tag("v1.3.0-rc.1");
    assert_eq!(rc(&repo), "1.3.0-rc.1", "nothing new since rc.1");
    repo.commit("fix: b");
    assert_eq!(rc(&repo), "1.3.0-rc.2");
    repo.tag("v1.3.0-rc.2");
    repo.commit("feat!: c");
    assert_eq!(rc(&repo), "2.0.0-rc.1");
    // The release channel ignores prerelease tags and analyzes everything since 1.2.0.
    assert_eq!(repo.next(), "2.0.0");
    // Another channel's counter is separate.
    assert_eq!(
        repo.version(|a| a.pre = Some("beta".into())),
        "2.0.0-beta.1"
    );
    // git-cliff continues the last prerelease tag on the release channel.
    let cliff = repo_at("v1.0.0");
    cliff.commit("feat: a");
    cliff.tag("v1.1.0-beta.1");
    cliff.commit("fix: b");
    assert_eq!(
        cliff.version(|a| a.profile = Some(ProfileName::GitCliff)),
        "1.1.0-beta.2"
    );
    assert_eq!(cliff.next(), "1.1.0");
}

#[test]
fn branch_to_channel_mapping() {
    let repo = repo_at("v1.0.0");
    repo.write(
        ".bosun/release.yaml",
        "branches:\n  main: release\n  next: rc\n",
    );
    repo.git(&["checkout", "-q", "-b", "next"]);
    repo.commit("feat: a");
    assert_eq!(repo.next(), "1.1.0-rc.1");
    assert_eq!(repo.version(|a| a.branch = Some("main".into())), "1.1.0");
    repo.git(&["checkout", "-q", "main"]);
    repo.git(&["merge", "-q", "--ff-only", "next"]);
    assert_eq!(repo.next(), "1.1.0");
}

#[test]
fn monorepo_paths_prefixes_and_components() {
    let repo = TestRepo::new();
    repo.commit_file("services/api/main.rs", "chore: api init");
    repo.commit_file("services/web/index.ts", "chore: web init");
    repo.tag("api-v1.0.0");
    repo.tag("web-v2.0.0");
    repo.tag("v5.0.0");
    repo.commit_file("services/api/main.rs", "feat(api): streaming");
    repo.commit_file("services/web/index.ts", "fix(web): layout");
    repo.commit_file("README.md", "feat: top-level only");

    let api = |r: &TestRepo| {
        r.version(|a| {
            a.path = Some("services/api".into());
            a.tag_prefix = Some("api-v".into());
        })
    };
    assert_eq!(api(&repo), "1.1.0");
    assert_eq!(
        repo.version(|a| {
            a.path = Some("./services/web/".into());
            a.tag_prefix = Some("web-v".into());
        }),
        "2.0.1"
    );
    assert_eq!(repo.next(), "5.1.0");

    repo.write(
        ".bosun/release.yaml",
        "components:\n  - name: api\n    path: services/api\n  - name: web\n    path: services/web\n  - name: docs\n    path: docs\n",
    );
    assert_eq!(repo.next(), "api 1.1.0\nweb 2.0.1\ndocs -");
    assert_eq!(repo.version(|a| a.component = Some("web".into())), "2.0.1");
    let all = repo.json(|_| {});
    assert_eq!(all[0]["component"], "api");
    assert_eq!(all[0]["tag"], "api-v1.1.0");
    assert_eq!(all[2]["released"], false);

    let out_file = repo.path().join("gh-output");
    let out = run_bosun(
        repo.path(),
        &["version", "--github-output"],
        &[("GITHUB_OUTPUT", out_file.to_str().unwrap())],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(&out_file).unwrap();
    assert!(written.contains("api_version=1.1.0\n"), "{written}");
    assert!(written.contains("web_tag=web-v2.0.1\n"), "{written}");
    assert!(written.ends_with("released=true\n"), "{written}");
    // Once api is tagged, only commits after the tag that touch it count.
    repo.tag("api-v1.1.0");
    repo.commit_file("services/web/index.ts", "feat(web): more");
    assert_eq!(repo.version(|a| a.component = Some("api".into())), "1.1.0");
    assert_eq!(repo.version(|a| a.component = Some("web".into())), "2.1.0");
}

#[test]
fn zero_major_rules() {
    let repo = repo_at("v0.3.0");
    repo.commit("feat(core)!: a");
    assert_eq!(repo.next(), "1.0.0");
    repo.write(".bosun/release.yaml", "bump_minor_pre_major: true\n");
    assert_eq!(repo.next(), "0.4.0");
    let json = repo.json(|_| {});
    assert_eq!(json["bump"], "minor");

    let feat = repo_at("v0.3.0");
    feat.commit("feat: a");
    assert_eq!(feat.next(), "0.4.0");
    feat.write(
        ".bosun/release.yaml",
        "profile: release-please\nbump_patch_for_minor_pre_major: true\n",
    );
    assert_eq!(feat.next(), "0.3.1");
}

#[test]
fn per_type_bumps_from_config() {
    let repo = repo_at("v1.0.0");
    repo.commit("refactor: a");
    assert_eq!(repo.next(), "1.0.0");
    repo.write(
        ".bosun/release.yaml",
        "bumps:\n  refactor: patch\n  feat: patch\n",
    );
    assert_eq!(repo.next(), "1.0.1");
    repo.commit("feat: b");
    assert_eq!(repo.next(), "1.0.1");
}

#[test]
fn changelog_printed_and_prepended() {
    let repo = repo_at("v1.0.0");
    let fix = repo.commit("fix(parser): handle tabs");
    let feat = repo.commit("feat(api)!: drop v1\n\nBREAKING CHANGE: v1 routes are gone");
    repo.commit("docs: not in the notes");
    let notes = repo.version(|a| {
        a.changelog = true;
        a.commit_url = Some("https://git.example.test/acme/app/commit/{hash}".into());
    });
    let link = |h: &str| {
        format!(
            "[{}](https://git.example.test/acme/app/commit/{h})",
            &h[..7]
        )
    };
    let expected = format!(
        "## 2.0.0 (2026-01-01)\n\n### ⚠ BREAKING CHANGES\n\n* **api:** v1 routes are gone\n\n\
         ### Features\n\n* **api:** drop v1 ({})\n\n### Bug Fixes\n\n* **parser:** handle tabs ({})",
        link(&feat),
        link(&fix)
    );
    assert_eq!(notes, expected);

    let file = repo.path().join("CHANGELOG.md");
    std::fs::write(&file, "# Changelog\n\n## 1.0.0 (2025-12-01)\n\n* first\n").unwrap();
    let printed = repo.version(|a| {
        a.changelog = true;
        a.output = Some(file.clone());
    });
    assert_eq!(printed, "2.0.0");
    let written = std::fs::read_to_string(&file).unwrap();
    assert!(
        written.starts_with("# Changelog\n\n## 2.0.0 (2026-01-01)\n\n### ⚠ BREAKING CHANGES"),
        "{written}"
    );
    assert!(
        written.ends_with("## 1.0.0 (2025-12-01)\n\n* first\n"),
        "{written}"
    );
    // Same release again: no second copy.
    repo.version(|a| {
        a.changelog = true;
        a.output = Some(file.clone());
    });
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written);
}

#[test]
fn tag_and_push() {
    let remote = tempfile::tempdir().unwrap();
    let init = std::process::Command::new("git")
        .args(["init", "-q", "--bare", "-b", "main"])
        .arg(remote.path())
        .status()
        .unwrap();
    assert!(init.success());
    let repo = repo_at("v1.0.0");
    repo.git(&["remote", "add", "origin", remote.path().to_str().unwrap()]);
    repo.commit("feat: a");
    let head = repo.git(&["rev-parse", "HEAD"]);
    let out = run_bosun(
        repo.path(),
        &["version", "--tag", "--push"],
        &[
            ("GIT_CONFIG_GLOBAL", "/dev/null"),
            ("GIT_COMMITTER_NAME", "CI"),
            ("GIT_COMMITTER_EMAIL", "ci@example.test"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1.1.0\n");
    assert_eq!(repo.git(&["cat-file", "-t", "v1.1.0"]), "tag", "annotated");
    assert_eq!(repo.git(&["rev-parse", "v1.1.0^{commit}"]), head);
    let message = repo.git(&["tag", "-l", "--format=%(contents)", "v1.1.0"]);
    assert!(message.starts_with("v1.1.0\n\n## 1.1.0"), "{message}");
    assert!(message.contains("### Features"), "{message}");
    let pushed = std::process::Command::new("git")
        .args(["--git-dir"])
        .arg(remote.path())
        .args(["rev-parse", "v1.1.0^{commit}"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&pushed.stdout).trim(), head);
    // Released now: the next call has nothing to release and creates no tag.
    let again = run_bosun(repo.path(), &["version", "--tag"], &[]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&again.stdout), "1.1.0\n");
}

#[test]
fn errors_exit_2_with_a_clear_message() {
    let outside = tempfile::tempdir().unwrap();
    let out = run_bosun(
        outside.path(),
        &["version"],
        &[("GIT_CEILING_DIRECTORIES", "/")],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not inside a Git repository"), "{err}");
    assert!(out.stdout.is_empty());

    let repo = repo_at("v1.0.0");
    repo.write(
        ".bosun/release.yaml",
        "profile: semantic-release\ntag_prefx: v\n",
    );
    let out = run_bosun(repo.path(), &["version"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(".bosun/release.yaml") && err.contains("tag_prefx"),
        "{err}"
    );

    repo.write(".bosun/release.yaml", "branches:\n  next: 'not valid!'\n");
    let out = run_bosun(repo.path(), &["version"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("field `branches.next`"), "{err}");

    repo.write(".bosun/release.yaml", "");
    let out = run_bosun(repo.path(), &["version", "--pre", "1"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = run_bosun(repo.path(), &["version", "--github-output"], &[]);
    assert_eq!(out.status.code(), Some(2), "no $GITHUB_OUTPUT");
    let out = run_bosun(repo.path(), &["version", "--component", "nope"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn empty_repository_has_no_version() {
    let repo = TestRepo::new();
    assert_eq!(repo.next(), "");
    let json = repo.json(|_| {});
    assert_eq!(json["version"], serde_json::Value::Null);
    assert_eq!(json["released"], false);
}

#[test]
fn shallow_clone_is_refused_unless_allowed() {
    let origin = repo_at("v44.38.0");
    origin.commit("feat: a");
    origin.tag("v44.39.0");
    origin.commit("fix: b");
    let clones = tempfile::tempdir().unwrap();
    let shallow = clones.path().join("shallow");
    let url = format!("file://{}", origin.path().display());
    let clone = std::process::Command::new("git")
        .args(["clone", "-q", "--depth", "1", &url])
        .arg(&shallow)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .unwrap();
    assert!(clone.success());
    assert!(
        shallow.join(".git/shallow").exists(),
        "a real shallow clone"
    );

    let out = run_bosun(&shallow, &["version"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no version printed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("shallow clone"), "{err}");
    assert!(err.contains("git fetch --unshallow --tags"), "{err}");
    assert!(err.contains("fetch-depth: 0"), "{err}");
    assert!(err.contains("--allow-shallow"), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");

    // Allowed: what the clone holds (one commit, no tag) is all there is.
    let out = run_bosun(&shallow, &["version", "--allow-shallow"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1.0.0\n");

    // After fetching history and tags, the same checkout gives the right answer.
    let unshallow = std::process::Command::new("git")
        .current_dir(&shallow)
        .args(["fetch", "-q", "--unshallow", "--tags"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .unwrap();
    assert!(unshallow.success());
    let out = run_bosun(&shallow, &["version"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "44.39.1\n");
}

#[test]
fn a_prefix_matching_no_tag_while_others_exist_is_an_error() {
    let repo = repo_at("v1.2.0");
    repo.tag("app-v3.0.0");
    repo.tag("latest");
    repo.commit("feat: a");

    let out = run_bosun(repo.path(), &["version", "--tag-prefix", "release-"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no initial version printed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no tag has the prefix `release-`"), "{err}");
    assert!(err.contains("`app-v` (app-v3.0.0), `v` (v1.2.0)"), "{err}");
    assert!(!err.contains("latest"), "not a release tag: {err}");

    // The same mistake in the config file.
    repo.write(".bosun/release.yaml", "tag_prefix: ver\n");
    let out = run_bosun(repo.path(), &["version"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no tag has the prefix `ver`"), "{err}");
    repo.write(".bosun/release.yaml", "");

    // The prefixes that do exist work, and an unprefixed series is named as such.
    assert_eq!(repo.next(), "1.3.0");
    assert_eq!(
        repo.version(|a| a.tag_prefix = Some("app-v".into())),
        "3.1.0"
    );
    let unprefixed = repo_at("2.0.0");
    unprefixed.commit("fix: a");
    let out = run_bosun(unprefixed.path(), &["version"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("prefixes none (2.0.0)"), "{err}");

    // No release tag at all: a first release, as before.
    let fresh = TestRepo::new();
    fresh.commit("feat: a");
    fresh.tag("latest");
    assert_eq!(fresh.next(), "1.0.0");

    // A new component of a monorepo: the other series are declared, so its first release is
    // not suspicious.
    repo.write(
        ".bosun/release.yaml",
        "components:\n  - name: app\n    path: .\n  - name: docs\n    path: docs\n",
    );
    repo.commit_file("docs/index.md", "docs: first page");
    repo.commit_file("docs/guide.md", "feat(docs): a guide");
    assert_eq!(repo.version(|a| a.component = Some("docs".into())), "1.0.0");
}

#[test]
fn changelog_types_sections_and_issue_links_from_the_config() {
    let repo = repo_at("v1.0.0");
    let docs = repo.commit("docs(readme): install steps (#41)");
    let chore = repo.commit("chore!: drop node 18");
    let fix = repo.commit("fix: tabs");
    repo.write(
        ".bosun/release.yaml",
        "commit_url: https://github.com/acme/app/commit/{hash}\n\
         changelog:\n  types:\n    - {type: fix, section: Fixes}\n\
         \x20   - {type: docs, section: Documentation}\n    - {type: chore, hidden: true}\n",
    );
    let notes = repo.version(|a| a.changelog = true);
    let link = |h: &str| format!("([{}](https://github.com/acme/app/commit/{h}))", &h[..7]);
    assert_eq!(
        notes,
        format!(
            // A hidden type without a section title is listed untitled, first (as the preset).
            "## 2.0.0 (2026-01-01)\n\n### ⚠ BREAKING CHANGES\n\n* drop node 18\n\n\
             * drop node 18 {}\n\n### Fixes\n\n* tabs {}\n\n### Documentation\n\n\
             * **readme:** install steps ([#41](https://github.com/acme/app/issues/41)) {}",
            link(&chore),
            link(&fix),
            link(&docs)
        )
    );

    repo.write(
        ".bosun/release.yaml",
        "changelog:\n  types:\n    - {type: fix}\n",
    );
    let out = run_bosun(repo.path(), &["version", "--changelog"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(".bosun/release.yaml") && err.contains("field `changelog.types[0].section`"),
        "{err}"
    );
    repo.write(
        ".bosun/release.yaml",
        "changelog:\n  issue_url: https://jira.example/browse/\n",
    );
    let out = run_bosun(repo.path(), &["version"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("field `changelog.issue_url`"), "{err}");
}

#[test]
fn release_rules_match_on_scope() {
    let repo = repo_at("v1.0.0");
    repo.commit("docs(readme.md): install steps");
    assert_eq!(repo.next(), "1.0.0", "docs release nothing by default");
    repo.write(
        ".bosun/release.yaml",
        "release_rules:\n  - {type: docs, scope: readme.md, release: patch}\n",
    );
    assert_eq!(repo.next(), "1.0.1");
    let json = repo.json(|_| {});
    assert_eq!(json["commits"]["docs"][0]["bump"], "patch");

    // Another scope of the same type still releases nothing; the other types keep their rules.
    let other = repo_at("v1.0.0");
    other.write(
        ".bosun/release.yaml",
        "release_rules:\n  - {type: docs, scope: readme.md, release: patch}\n  - {scope: 'deps*', release: minor}\n",
    );
    other.commit("docs(api): reference");
    assert_eq!(other.next(), "1.0.0");
    other.commit("chore(deps-dev): bump x");
    assert_eq!(other.next(), "1.1.0");
    other.commit("feat!: big");
    assert_eq!(other.next(), "2.0.0");

    other.write(
        ".bosun/release.yaml",
        "release_rules:\n  - {type: docs, scope: readme.md, release: huge}\n",
    );
    let out = run_bosun(other.path(), &["version"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(".bosun/release.yaml") && err.contains("huge"),
        "{err}"
    );
}
