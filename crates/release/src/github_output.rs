//! `--github-output`: step outputs for GitHub Actions, appended to the file `$GITHUB_OUTPUT`
//! names (`key=value` lines), so a workflow can use `steps.version.outputs.version`.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::release::Release;

/// The lines for `releases`. One release (the repository, or one component): `version`,
/// `previous`, `bump`, `released`, `tag`. Several components: the same keys prefixed
/// `<component>_`, plus `released` (true if any of them is released).
pub fn lines(releases: &[Release]) -> String {
    let mut out = String::new();
    let single = releases.len() == 1;
    for r in releases {
        let prefix = match (&r.component, single) {
            (Some(name), false) => format!("{}_", key(name)),
            _ => String::new(),
        };
        let fields = [
            ("version", r.version.clone().unwrap_or_default()),
            ("previous", r.previous.clone().unwrap_or_default()),
            ("bump", r.bump.as_str().to_string()),
            ("released", r.released.to_string()),
            ("tag", r.tag.clone().unwrap_or_default()),
        ];
        for (k, v) in fields {
            out.push_str(&format!("{prefix}{k}={v}\n"));
        }
    }
    if !single {
        let any = releases.iter().any(|r| r.released);
        out.push_str(&format!("released={any}\n"));
    }
    out
}

/// Output names may only hold letters, digits, `-` and `_`.
fn key(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub fn append(path: &Path, releases: &[Release]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    file.write_all(lines(releases).as_bytes()).map_err(io)
}
