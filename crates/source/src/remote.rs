//! Talking to a remote with gix: list its refs (`git ls-remote`) and fetch chosen refs into the
//! cached repository. Blocking, like gix's transports; the cache calls it under a per-repository
//! lock.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use gix::remote::Direction;
use gix::remote::fetch::Tags;

use crate::credentials::{Credentials, credential_responder};
use crate::error::{Context, Result};
use crate::location::GitRemote;
use crate::revision::AdvertisedRef;

/// Refs listed to resolve a revision: the default branch, branches and tags. Listing only these
/// prefixes keeps hosts from sending thousands of `refs/pull/*` and the like.
/// (Destinations are required by refspec syntax for globs; listing writes nothing.)
pub(crate) const LISTED_REFS: [&str; 3] = [
    "HEAD",
    "+refs/heads/*:refs/heads/*",
    "+refs/tags/*:refs/tags/*",
];

/// Everything a commit id may be reachable from, fetched when a commit is not in the cache.
pub(crate) const ALL_BRANCHES_AND_TAGS: [&str; 2] =
    ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];

/// The refspec that fetches remote ref `name` into the cache, under the same name (a bare
/// mirror), except `HEAD`, which must not replace the cache's own HEAD.
pub(crate) fn mirror_refspec(name: &str) -> String {
    match name {
        "HEAD" => "+HEAD:refs/bosun/remote-head".to_string(),
        name => format!("+{name}:{name}"),
    }
}

/// One remote of one cached repository, with the credentials to use.
pub(crate) struct Remote<'a> {
    pub remote: &'a GitRemote,
    pub credentials: &'a Credentials,
}

impl Remote<'_> {
    /// The remote's refs matching `patterns` (refspec sources), without fetching anything.
    pub fn list_refs(
        &self,
        repo: &mut gix::Repository,
        patterns: &[&str],
        context: &Context<'_>,
    ) -> Result<Vec<AdvertisedRef>> {
        let _span = tracing::debug_span!("ls-remote", repo = %self.remote.display).entered();
        self.configure_ssh(repo, context)?;
        let list = || -> gix::Result<Vec<AdvertisedRef>> {
            let remote = self.gix_remote(repo, patterns)?;
            let connection = remote
                .connect(Direction::Fetch)?
                .with_credentials(credential_responder(self.account()));
            let (ref_map, _handshake) = connection.ref_map(
                gix::progress::Discard,
                gix::remote::ref_map::Options::default(),
            )?;
            Ok(ref_map
                .remote_refs
                .iter()
                .map(AdvertisedRef::from_handshake)
                .collect())
        };
        list().map_err(|err| context.gix(&err))
    }

    /// Fetches `refspecs` (full history, no tags beyond those named) and returns the refs as
    /// the remote advertised them for this fetch — the values now in the cache.
    pub fn fetch(
        &self,
        repo: &mut gix::Repository,
        refspecs: &[String],
        context: &Context<'_>,
    ) -> Result<Vec<AdvertisedRef>> {
        let span = tracing::info_span!("fetch", repo = %self.remote.display, refspecs = ?refspecs);
        let _entered = span.enter();
        let started = Instant::now();
        self.configure_ssh(repo, context)?;
        let fetch = || -> gix::Result<Vec<AdvertisedRef>> {
            let remote = self.gix_remote(repo, refspecs)?;
            let outcome = remote
                .connect(Direction::Fetch)?
                .with_credentials(credential_responder(self.account()))
                .prepare_fetch(
                    gix::progress::Discard,
                    gix::remote::ref_map::Options::default(),
                )?
                .receive(gix::progress::Discard, &AtomicBool::new(false))?;
            Ok(outcome
                .ref_map
                .remote_refs
                .iter()
                .map(AdvertisedRef::from_handshake)
                .collect())
        };
        let refs = fetch().map_err(|err| context.gix(&err))?;
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "fetched");
        Ok(refs)
    }

    fn gix_remote<'r, S: AsRef<str>>(
        &self,
        repo: &'r gix::Repository,
        refspecs: &[S],
    ) -> gix::Result<gix::Remote<'r>> {
        repo.remote_at(self.remote.fetch_url.as_str())?
            .with_fetch_tags(Tags::None)
            .with_refspecs(refspecs.iter().map(|s| s.as_ref()), Direction::Fetch)
    }

    /// Configured credentials win over a password embedded in the URL.
    fn account(&self) -> Option<(String, String)> {
        self.credentials.https_account().or_else(|| {
            self.remote
                .url_account
                .as_ref()
                .map(|(user, password)| (user.clone(), password.expose().to_string()))
        })
    }

    /// gix launches `core.sshCommand` for ssh URLs; set it to use exactly the configured key.
    fn configure_ssh(&self, repo: &mut gix::Repository, context: &Context<'_>) -> Result<()> {
        let mut config = repo.config_snapshot_mut();
        config
            .set_value(
                &gix::config::tree::Core::SSH_COMMAND,
                self.credentials.ssh_command().as_str(),
            )
            .map_err(|err| context.local_git(&err))?;
        config.commit().map_err(|err| context.local_git(&err))?;
        Ok(())
    }
}
