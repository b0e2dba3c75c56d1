//! Repository credentials and how they reach gix: a user name and secret answer gix's
//! credential requests (https), a key file becomes the `ssh` command line (ssh). Nothing else is
//! consulted — no credential helpers, no `~/.gitconfig`, no terminal prompt — so a controller
//! never blocks on a question no one will answer, and what is used is exactly what was configured.

use std::fmt;
use std::path::PathBuf;

use crate::error::Error;

/// A password or token. `Debug` and `Display` print `***`; only [`Secret::expose`] gives the
/// value, and only the transport calls it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// Reads the secret from environment variable `var` (the config holds the variable's name,
    /// never the value). An unset or empty variable is an error naming the variable.
    pub fn from_env(var: &str) -> Result<Secret, Error> {
        match std::env::var(var) {
            Ok(value) if !value.is_empty() => Ok(Secret(value)),
            _ => Err(Error::MissingSecret {
                variable: var.to_string(),
            }),
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::redact::MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::redact::MASK)
    }
}

/// How to authenticate to one repository. All fields empty (the `Default`) means anonymous.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    /// https user name; when only a secret is given, `git` is sent (GitHub, GitLab and Bitbucket
    /// accept any user name with a token).
    pub username: Option<String>,
    /// https password or token.
    pub secret: Option<Secret>,
    /// Private key for ssh URLs, passed to `ssh -i` with `IdentitiesOnly=yes`.
    pub ssh_key_file: Option<PathBuf>,
}

/// The user name sent with a token when none is configured.
const DEFAULT_HTTPS_USERNAME: &str = "git";

impl Credentials {
    /// Anonymous access.
    pub fn none() -> Credentials {
        Credentials::default()
    }

    /// Credentials as bosun's config writes them: names of environment variables and a key path.
    /// A named variable that is unset is an error (silently going anonymous would turn a config
    /// mistake into a confusing "repository not found").
    pub fn from_env(
        username: Option<String>,
        secret_env: Option<&str>,
        ssh_key_file: Option<PathBuf>,
    ) -> Result<Credentials, Error> {
        Ok(Credentials {
            username,
            secret: secret_env.map(Secret::from_env).transpose()?,
            ssh_key_file,
        })
    }

    /// The (user, password) pair for an https credential request, if a secret is configured.
    pub(crate) fn https_account(&self) -> Option<(String, String)> {
        let secret = self.secret.as_ref()?;
        let user = self.username.as_deref().unwrap_or(DEFAULT_HTTPS_USERNAME);
        Some((user.to_string(), secret.expose().to_string()))
    }

    /// The command gix runs for ssh URLs (it is run through a shell, like `GIT_SSH_COMMAND`).
    /// `BatchMode=yes` makes ssh fail instead of prompting for a passphrase or an unknown host
    /// key; host keys come from the user's `known_hosts` as usual.
    pub(crate) fn ssh_command(&self) -> String {
        let mut command = String::from("ssh -o BatchMode=yes");
        if let Some(key) = &self.ssh_key_file {
            command.push_str(" -o IdentitiesOnly=yes -i ");
            command.push_str(&shell_quote(&key.to_string_lossy()));
        }
        command
    }

    /// Secret strings to scrub from any message gix or a subprocess produced.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        self.secret.iter().map(Secret::expose).collect()
    }
}

/// Single-quotes `s` for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Answers gix's credential requests from `account` alone. Without an account gix gets "no
/// credentials" and reports the server's authentication failure, instead of falling back to
/// helpers or a prompt.
pub(crate) fn credential_responder(
    account: Option<(String, String)>,
) -> impl FnMut(
    gix::credentials::helper::Action,
) -> gix::Result<Option<gix::credentials::protocol::Outcome>> {
    move |action| match action {
        gix::credentials::helper::Action::Get(context) => {
            Ok(account
                .clone()
                .map(|(username, password)| gix::credentials::protocol::Outcome {
                    identity: gix::sec::identity::Account {
                        username,
                        password,
                        oauth_refresh_token: None,
                    },
                    next: context.into(),
                }))
        }
        // Nothing is stored or erased: credentials live in bosun's config, not in a helper.
        gix::credentials::helper::Action::Store(_) | gix::credentials::helper::Action::Erase(_) => {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let credentials = Credentials {
            username: Some("bot".into()),
            secret: Some(Secret::new("ghp_verysecret")),
            ssh_key_file: None,
        };
        let debug = format!("{credentials:?}");
        assert!(!debug.contains("ghp_verysecret"), "{debug}");
        assert!(debug.contains("***"), "{debug}");
        assert_eq!(format!("{}", Secret::new("x")), "***");
    }

    #[test]
    fn token_without_user_name_is_sent_as_git() {
        let credentials = Credentials {
            secret: Some(Secret::new("tok")),
            ..Credentials::none()
        };
        assert_eq!(
            credentials.https_account(),
            Some(("git".to_string(), "tok".to_string()))
        );
        assert_eq!(Credentials::none().https_account(), None);
    }

    #[test]
    fn ssh_command_uses_only_the_configured_key() {
        assert_eq!(Credentials::none().ssh_command(), "ssh -o BatchMode=yes");
        let credentials = Credentials {
            ssh_key_file: Some(PathBuf::from("/keys/deploy key's")),
            ..Credentials::none()
        };
        assert_eq!(
            credentials.ssh_command(),
            r"ssh -o BatchMode=yes -o IdentitiesOnly=yes -i '/keys/deploy key'\''s'"
        );
    }

    #[test]
    fn responder_answers_get_with_the_account_and_ignores_store() {
        let mut respond = credential_responder(Some(("bot".into(), "tok".into())));
        let outcome = respond(gix::credentials::helper::Action::get_for_url(
            "https://example.com/r",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(outcome.identity.username, "bot");
        assert_eq!(outcome.identity.password, "tok");
        let stored = respond(gix::credentials::helper::Action::Store("x".into())).unwrap();
        assert!(stored.is_none());

        let mut anonymous = credential_responder(None);
        let none = anonymous(gix::credentials::helper::Action::get_for_url(
            "https://example.com/r",
        ))
        .unwrap();
        assert!(none.is_none());
    }

    #[test]
    fn missing_environment_variable_is_named() {
        let err =
            Credentials::from_env(None, Some("BOSUN_TEST_SURELY_UNSET_VAR"), None).unwrap_err();
        assert!(
            err.to_string().contains("BOSUN_TEST_SURELY_UNSET_VAR"),
            "{err}"
        );
    }
}
