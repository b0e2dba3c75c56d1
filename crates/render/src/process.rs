//! Running the real `helm` and `kubectl` binaries: at most `limit` at a time, each killed when it
//! outlives the timeout (Argo CD's repo server does the same with its 90 s exec timeout and
//! `--parallelismlimit`), so one hanging chart cannot stall every Application.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::Semaphore;

use crate::error::RenderError;

/// Longest stderr kept in an error: enough for any helm/kustomize diagnostic, bounded for the
/// status and the UI.
const MAX_STDERR: usize = 8 * 1024;

pub(crate) struct ToolRunner {
    pub timeout: Duration,
    pub limit: usize,
    permits: Semaphore,
}

/// One invocation. `name` (`helm template`, `kubectl kustomize`) is what errors show; the full
/// argument list is never shown, because `--set` values may be secrets.
pub(crate) struct Invocation<'a> {
    pub name: &'a str,
    pub binary: &'a Path,
    pub args: Vec<OsString>,
    pub cwd: Option<&'a Path>,
    pub env: Vec<(OsString, OsString)>,
    /// Add stdout to the error when the tool fails: helm prints some causes there (a dependency
    /// repository it cannot reach). Off for tools whose stdout may hold rendered Secrets.
    pub stdout_in_errors: bool,
    /// This run's limit instead of the runner's (a plugin's own timeout).
    pub timeout: Option<Duration>,
    /// What the tool reads on stdin (a password, which never goes on the command line, where
    /// other users of the machine could read it); nothing when `None`.
    pub stdin: Option<Vec<u8>>,
    /// Directories (the checkout, its temporary copy) whose `<dir>/` prefix is cut from paths in
    /// stderr, so errors name files relative to the checkout and never a temporary directory.
    pub hide_roots: Vec<PathBuf>,
}

impl ToolRunner {
    pub(crate) fn new(timeout: Duration, limit: usize) -> Self {
        let limit = limit.max(1);
        ToolRunner {
            timeout,
            limit,
            permits: Semaphore::new(limit),
        }
    }

    /// Runs the invocation to completion and returns its stdout, or why it failed.
    pub(crate) async fn run(&self, invocation: Invocation<'_>) -> Result<String, RenderError> {
        // The semaphore is never closed, so acquire cannot fail.
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("tool semaphore is never closed");
        let mut command = Command::new(invocation.binary);
        command
            .args(&invocation.args)
            .stdin(if invocation.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Dropping the wait future on timeout drops the child, which kills it; its own
            // process group lets the children it started (`sh -c ...`) be killed with it.
            .kill_on_drop(true)
            .process_group(0);
        if let Some(cwd) = invocation.cwd {
            command.current_dir(cwd);
        }
        for (key, value) in &invocation.env {
            command.env(key, value);
        }
        let child = command.spawn().map_err(|err| {
            if err.kind() == std::io::ErrorKind::NotFound {
                RenderError::BinaryMissing {
                    tool: invocation.name.to_string(),
                    binary: invocation.binary.to_path_buf(),
                }
            } else {
                RenderError::io(format!("starting {}", invocation.name), err)
            }
        })?;
        let mut child = child;
        if let (Some(input), Some(mut pipe)) = (&invocation.stdin, child.stdin.take()) {
            use tokio::io::AsyncWriteExt as _;
            // A tool that exits without reading it all is judged by its exit status.
            let _ = pipe.write_all(input).await;
        }
        let group = child.id();
        let timeout = invocation.timeout.unwrap_or(self.timeout);
        let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Ok(output) => output
                .map_err(|err| RenderError::io(format!("running {}", invocation.name), err))?,
            Err(_) => {
                if let Some(group) = group {
                    kill_group(group);
                }
                return Err(RenderError::Timeout {
                    command: invocation.name.to_string(),
                    after: timeout,
                });
            }
        };
        if !output.status.success() {
            let mut stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
            if invocation.stdout_in_errors {
                let stdout = String::from_utf8_lossy(&output.stdout);
                let stdout = stdout.trim();
                if !stdout.is_empty() {
                    stderr = format!("{stdout}\n{stderr}").trim().to_string();
                }
            }
            for root in &invocation.hide_roots {
                stderr = stderr.replace(&format!("{}/", root.display()), "");
            }
            return Err(RenderError::ToolFailed {
                command: invocation.name.to_string(),
                status: output.status.to_string(),
                stderr: truncate(stderr),
            });
        }
        String::from_utf8(output.stdout).map_err(|_| RenderError::InvalidManifest {
            origin: invocation.name.to_string(),
            line: None,
            document: None,
            template: None,
            message: "output is not UTF-8".into(),
        })
    }
}

/// Kills what a timed-out tool left running in its process group (`kill` is on every host and
/// keeps this crate free of unsafe code).
fn kill_group(group: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{group}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_STDERR {
        let mut cut = MAX_STDERR;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(" [...]");
    }
    text
}
