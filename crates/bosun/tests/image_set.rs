//! `bosun image set` against real git repositories: a byte-exact edit, committed and pushed;
//! a person's racing commit kept; a conflicting change of the same key refused.

use std::path::Path;
use std::process::{Command, Output};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Person")
        .env("GIT_AUTHOR_EMAIL", "person@example.com")
        .env("GIT_COMMITTER_NAME", "Person")
        .env("GIT_COMMITTER_EMAIL", "person@example.com")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn bosun(dir: &Path, args: &[&str]) -> Output {
    // No global or system git identity: what bosun falls back to is what is tested.
    Command::new(env!("CARGO_BIN_EXE_bosun"))
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap()
}

const VALUES: &str = "# dev environment\nimage:\n  repository: ghcr.io/acme/api # the API\n  tag: \"1.2.0\"   # set by CI\nreplicas: 2\n";

/// A bare remote holding `env/dev/values.yaml`, and two clones of it: CI's and a person's.
fn setup() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap();
    git(
        root.path(),
        &["init", "-q", "--bare", "-b", "main", "config.git"],
    );
    git(root.path(), &["clone", "-q", "config.git", "person"]);
    let person = root.path().join("person");
    std::fs::create_dir_all(person.join("env/dev")).unwrap();
    std::fs::write(person.join("env/dev/values.yaml"), VALUES).unwrap();
    std::fs::write(person.join("README.md"), "config\n").unwrap();
    git(&person, &["add", "."]);
    git(&person, &["commit", "-q", "-m", "init"]);
    git(&person, &["push", "-q", "origin", "HEAD:main"]);
    git(root.path(), &["clone", "-q", "config.git", "ci"]);
    let ci = root.path().join("ci");
    (root, ci, person)
}

#[test]
fn set_commit_push_keeps_a_racing_commit_and_refuses_a_conflict() {
    let (_root, ci, person) = setup();

    // The person pushes an unrelated change after CI cloned.
    std::fs::write(person.join("README.md"), "config, edited\n").unwrap();
    git(&person, &["commit", "-q", "-am", "docs"]);
    git(&person, &["push", "-q", "origin", "HEAD:main"]);

    let out = bosun(
        &ci,
        &[
            "image",
            "set",
            "env/dev/values.yaml",
            "image.tag=1.3.0",
            "--commit",
            "--push",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("image.tag 1.2.0 → 1.3.0"), "{stdout}");
    assert!(stdout.contains("had moved"), "{stdout}");

    // Both changes are on the remote; only the scalar changed; the author is bosun's default
    // (this clone has no identity of its own).
    git(&person, &["pull", "-q", "--ff-only"]);
    assert_eq!(
        std::fs::read_to_string(person.join("README.md")).unwrap(),
        "config, edited\n"
    );
    assert_eq!(
        std::fs::read_to_string(person.join("env/dev/values.yaml")).unwrap(),
        VALUES.replace("\"1.2.0\"", "\"1.3.0\"")
    );
    let log = git(&person, &["log", "--format=%an|%s", "-3"]);
    assert_eq!(
        log,
        "bosun|build: set image.tag to 1.3.0 in env/dev/values.yaml\nPerson|docs\nPerson|init"
    );
    // CI's clone follows what was pushed, clean.
    assert_eq!(
        git(&ci, &["rev-parse", "HEAD"]),
        git(&person, &["rev-parse", "HEAD"])
    );
    assert_eq!(git(&ci, &["status", "--porcelain"]), "");

    // The same value again: nothing to do.
    let out = bosun(
        &ci,
        &[
            "image",
            "set",
            "env/dev/values.yaml",
            "image.tag=1.3.0",
            "--commit",
            "--push",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("already 1.3.0"));

    // The person sets the same key to something else meanwhile: CI's push is refused, nothing
    // is force-pushed, and the message says what happened.
    let values = person.join("env/dev/values.yaml");
    let text = std::fs::read_to_string(&values).unwrap();
    std::fs::write(&values, text.replace("\"1.3.0\"", "\"1.3.5-hotfix\"")).unwrap();
    git(&person, &["commit", "-q", "-am", "hotfix"]);
    git(&person, &["push", "-q", "origin", "HEAD:main"]);
    let remote_head = git(&person, &["rev-parse", "HEAD"]);
    let out = bosun(
        &ci,
        &[
            "image",
            "set",
            "env/dev/values.yaml",
            "image.tag=1.4.0",
            "--commit",
            "--push",
            "-m",
            "release 1.4.0",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("env/dev/values.yaml: image.tag was changed by someone else to 1.3.5-hotfix"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("changed by someone else").count(),
        1,
        "{stderr}"
    );
    git(&person, &["fetch", "-q"]);
    assert_eq!(git(&person, &["rev-parse", "origin/main"]), remote_head);
}

#[test]
fn bad_input_names_the_file_and_key_and_changes_nothing() {
    let (_root, ci, _person) = setup();
    let file = ci.join("env/dev/values.yaml");
    for (args, words) in [
        (
            vec!["image.tga=1"],
            "env/dev/values.yaml: image.tga: not found (no key `tga` under `image`)",
        ),
        (
            vec!["image=1"],
            "env/dev/values.yaml: image: is a mapping, not a single value",
        ),
        (vec!["image.tag"], "`image.tag`: expected KEY=VALUE"),
    ] {
        let mut all = vec!["image", "set", "env/dev/values.yaml"];
        all.extend(args);
        let out = bosun(&ci, &all);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(words), "{stderr}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), VALUES);
    }
    // Uncommitted edits of the file are never swept into a commit.
    std::fs::write(&file, format!("{VALUES}# wip\n")).unwrap();
    let out = bosun(
        &ci,
        &[
            "image",
            "set",
            "env/dev/values.yaml",
            "image.tag=2.0.0",
            "--commit",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("has uncommitted changes"));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("{VALUES}# wip\n")
    );
}

#[test]
fn a_push_to_another_branch_leaves_the_local_branch_and_work_tree_alone() {
    let (_root, ci, person) = setup();
    let head = git(&ci, &["rev-parse", "HEAD"]);
    let set = |ci: &Path| {
        bosun(
            ci,
            &[
                "image",
                "set",
                "env/dev/values.yaml",
                "image.tag=2.0.0",
                "--commit",
                "--push",
                "--branch",
                "release/2.0.0",
            ],
        )
    };
    let out = set(&ci);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("unchanged"),
        "{out:?}"
    );
    // Local: main where it was, nothing modified.
    assert_eq!(git(&ci, &["rev-parse", "HEAD"]), head);
    assert_eq!(git(&ci, &["status", "--porcelain"]), "");
    // Remote: the branch is main plus one commit that changes only the tag.
    git(&person, &["fetch", "-q"]);
    assert_eq!(
        git(&person, &["rev-parse", "origin/release/2.0.0~1"]),
        git(&person, &["rev-parse", "origin/main"])
    );
    assert_eq!(
        git(
            &person,
            &["show", "origin/release/2.0.0:env/dev/values.yaml"]
        ),
        VALUES.replace("\"1.2.0\"", "\"2.0.0\"").trim_end()
    );
    // main moves on the remote; running again finds the branch done.
    std::fs::write(person.join("README.md"), "moved\n").unwrap();
    git(&person, &["commit", "-q", "-am", "docs"]);
    git(&person, &["push", "-q", "origin", "HEAD:main"]);
    let out = set(&ci);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("already has these values"),
        "{out:?}"
    );
    // And a later push of main from this clone carries no trace of it.
    let out = bosun(
        &ci,
        &[
            "image",
            "set",
            "env/dev/values.yaml",
            "image.repository=ghcr.io/acme/api2",
            "--commit",
            "--push",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    git(&person, &["pull", "-q", "--ff-only"]);
    let values = std::fs::read_to_string(person.join("env/dev/values.yaml")).unwrap();
    assert!(
        values.contains("\"1.2.0\"") && values.contains("ghcr.io/acme/api2"),
        "{values}"
    );
}
