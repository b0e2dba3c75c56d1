//! Real Git repositories for the tests, built with the `git` CLI in temp dirs. Dates are fixed
//! and strictly increasing so `git log` order (and every hash) is the same on every run.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use bosun_release::cli::{VersionArgs, execute};

pub struct TestRepo {
    pub dir: tempfile::TempDir,
    clock: std::cell::Cell<u64>,
}

impl TestRepo {
    pub fn new() -> TestRepo {
        let repo = TestRepo {
            dir: tempfile::tempdir().expect("temp dir"),
            clock: std::cell::Cell::new(0),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs git with a fixed identity and clock; panics on failure.
    pub fn git(&self, args: &[&str]) -> String {
        let out = self.git_output(args);
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    pub fn git_output(&self, args: &[&str]) -> Output {
        let t = self.clock.get() + 1;
        self.clock.set(t);
        let date = format!("{} +0000", 1_767_225_600 + t * 60);
        Command::new("git")
            .current_dir(self.path())
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.test")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.test")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("git runs")
    }

    /// A commit that changes `file` (so path filters see it), with `message`.
    pub fn commit_file(&self, file: &str, message: &str) -> String {
        let path = self.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let n = self.clock.get();
        std::fs::write(&path, format!("{message}\n{n}\n")).unwrap();
        self.git(&["add", file]);
        self.git(&["commit", "-q", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    pub fn commit(&self, message: &str) -> String {
        self.commit_file("file.txt", message)
    }

    pub fn tag(&self, name: &str) {
        self.git(&["tag", name]);
    }

    pub fn write(&self, file: &str, text: &str) {
        let path = self.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// `bosun version` in-process (the library), returning stdout.
    pub fn version(&self, configure: impl FnOnce(&mut VersionArgs)) -> String {
        let mut args = VersionArgs {
            repo: self.path().to_path_buf(),
            remote: "origin".into(),
            ..Default::default()
        };
        configure(&mut args);
        let mut out = Vec::new();
        execute(&args, &mut out).unwrap_or_else(|e| panic!("bosun version failed: {e}"));
        String::from_utf8(out).unwrap().trim_end().to_string()
    }

    pub fn next(&self) -> String {
        self.version(|_| {})
    }

    pub fn json(&self, configure: impl FnOnce(&mut VersionArgs)) -> serde_json::Value {
        let out = self.version(|a| {
            configure(a);
            a.json = true;
        });
        serde_json::from_str(&out).expect("valid JSON")
    }
}

/// The `bosun` binary, built once per test run. `cargo test` builds a package's binaries only
/// for that package's own integration tests, and `bosun` lives in another package, so the tests
/// build it themselves (into the same target directory, next to the test executable).
pub fn bosun_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // <target>/debug/deps/<test exe>
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let target_dir = profile_dir.parent().unwrap();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "bosun",
                "--bin",
                "bosun",
                "--target-dir",
            ])
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the bosun binary failed");
        profile_dir.join("bosun")
    })
}

/// Runs the compiled `bosun` with `args` in `dir`.
pub fn run_bosun(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bosun_bin());
    cmd.current_dir(dir).args(args);
    cmd.env_remove("GITHUB_OUTPUT");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("bosun runs")
}
