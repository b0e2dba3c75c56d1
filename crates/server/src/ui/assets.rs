//! The UI's static files, compiled into the binary and served under a name that carries a hash
//! of their content: a new build's files have new names, so they can be cached for good.

use std::sync::LazyLock;

use sha2::{Digest, Sha256};

pub(crate) struct Asset {
    pub name: String,
    pub body: &'static str,
    pub content_type: &'static str,
}

impl Asset {
    fn new(stem: &str, extension: &str, body: &'static str, content_type: &'static str) -> Asset {
        let hash: String = Sha256::digest(body.as_bytes())
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        Asset {
            name: format!("{stem}.{hash}.{extension}"),
            body,
            content_type,
        }
    }

    pub fn path(&self) -> String {
        format!("/ui/assets/{}", self.name)
    }
}

pub(crate) static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "app",
        "js",
        include_str!("assets/app.js"),
        "text/javascript; charset=utf-8",
    )
});

pub(crate) static STYLE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "style",
        "css",
        include_str!("assets/style.css"),
        "text/css; charset=utf-8",
    )
});

/// The asset with this file name, if any.
pub(crate) fn find(name: &str) -> Option<&'static Asset> {
    [&*SCRIPT, &*STYLE].into_iter().find(|a| a.name == name)
}
