//! Bearer tokens and their roles. The config names where each token's value is (an environment
//! variable or a file); values are read once at start and kept only as SHA-256 digests, so a
//! lookup neither compares secrets byte by byte nor keeps them in memory longer than needed.

use std::collections::HashMap;

use bosun_model::{Role, TokenConfig};
use sha2::{Digest, Sha256};

/// Who called.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("server.tokens[{index}] ({name}): {message}")]
    Unreadable {
        index: usize,
        name: String,
        message: String,
    },
    /// One value under two names would make the later entry's role win for both callers (an
    /// admin silently became read-only); the value itself is never printed.
    #[error(
        "server.tokens[{index}] ({name}) has the same token value as server.tokens[{first_index}] ({first_name}); give each token its own value"
    )]
    Duplicate {
        index: usize,
        name: String,
        first_index: usize,
        first_name: String,
    },
}

#[derive(Default)]
pub struct Tokens {
    by_digest: HashMap<[u8; 32], Caller>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Tokens {
    /// Reads every configured token's value.
    pub fn load(configs: &[TokenConfig]) -> Result<Tokens, TokenError> {
        let mut tokens = Tokens::default();
        let mut first_with_digest: HashMap<[u8; 32], usize> = HashMap::new();
        for (index, config) in configs.iter().enumerate() {
            let error = |message: String| TokenError::Unreadable {
                index,
                name: config.name.clone(),
                message,
            };
            let value = match (&config.token_env, &config.token_file) {
                (Some(var), _) => std::env::var(var)
                    .map_err(|_| error(format!("environment variable {var} is not set")))?,
                (None, Some(file)) => {
                    std::fs::read_to_string(file).map_err(|e| error(format!("{file}: {e}")))?
                }
                (None, None) => return Err(error("no tokenEnv or tokenFile".into())),
            };
            let value = value.trim();
            if value.len() < 16 {
                return Err(error(
                    "the token is shorter than 16 characters; use a random one".into(),
                ));
            }
            if let Some(&first_index) = first_with_digest.get(&digest(value)) {
                return Err(TokenError::Duplicate {
                    index,
                    name: config.name.clone(),
                    first_index,
                    first_name: configs[first_index].name.clone(),
                });
            }
            first_with_digest.insert(digest(value), index);
            tokens.add(value, &config.name, config.role);
        }
        Ok(tokens)
    }

    pub fn add(&mut self, token: &str, name: &str, role: Role) {
        self.by_digest.insert(
            digest(token),
            Caller {
                name: name.into(),
                role,
            },
        );
    }

    /// The caller an `Authorization: Bearer …` header value names.
    pub fn caller(&self, authorization: Option<&str>) -> Option<Caller> {
        let token = authorization?.strip_prefix("Bearer ")?.trim();
        self.by_digest.get(&digest(token)).cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_map_to_callers() {
        let mut tokens = Tokens::default();
        tokens.add("0123456789abcdef-admin", "root", Role::Admin);
        assert_eq!(
            tokens.caller(Some("Bearer 0123456789abcdef-admin")),
            Some(Caller {
                name: "root".into(),
                role: Role::Admin
            })
        );
        assert_eq!(tokens.caller(Some("Bearer wrong")), None);
        assert_eq!(tokens.caller(Some("0123456789abcdef-admin")), None);
        assert_eq!(tokens.caller(None), None);
    }

    #[test]
    fn short_or_missing_tokens_are_config_errors() {
        let config = |env: &str| TokenConfig {
            name: "ci".into(),
            role: Role::Deployer,
            token_env: Some(env.into()),
            token_file: None,
        };
        let e = Tokens::load(&[config("BOSUN_TEST_SURELY_UNSET_VAR")])
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "server.tokens[0] (ci): environment variable BOSUN_TEST_SURELY_UNSET_VAR is not set"
        );
        let dir = std::env::temp_dir().join(format!("bosun-token-{}", std::process::id()));
        std::fs::write(&dir, "short\n").unwrap();
        let e = Tokens::load(&[TokenConfig {
            token_env: None,
            token_file: Some(dir.display().to_string()),
            ..config("X")
        }])
        .err()
        .unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert!(e.to_string().contains("shorter than 16"), "{e}");
    }

    #[test]
    fn one_value_under_two_names_is_refused_naming_both() {
        let dir = tempfile_dir();
        let file = |name: &str, value: &str| {
            let path = dir.join(name);
            std::fs::write(&path, value).unwrap();
            path.display().to_string()
        };
        let shared = "0123456789abcdef-shared-secret";
        let token = |name: &str, role: Role, path: String| TokenConfig {
            name: name.into(),
            role,
            token_env: None,
            token_file: Some(path),
        };
        let configs = [
            token("root", Role::Admin, file("root", shared)),
            token("ci", Role::Deployer, file("ci", "0123456789abcdef-ci-only")),
            token(
                "viewer",
                Role::ReadOnly,
                file("viewer", &format!("{shared}\n")),
            ),
        ];
        let e = Tokens::load(&configs).err().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let message = e.to_string();
        assert_eq!(
            message,
            "server.tokens[2] (viewer) has the same token value as server.tokens[0] (root); give each token its own value"
        );
        assert!(!message.contains(shared));
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("bosun-tokens-dup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
