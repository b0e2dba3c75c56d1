//! Turning an Application's `targetRevision` into a commit, as Git would: against the refs a
//! remote advertises (branches, tags, HEAD), or as a commit id.

use gix::ObjectId;
use gix::protocol::handshake::Ref;

/// A `targetRevision`: empty and `HEAD` mean the remote's default branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Revision {
    Head,
    /// A branch, a tag, a full ref name (`refs/...`), or a full or abbreviated commit id.
    Name(String),
}

impl Revision {
    pub fn parse(target_revision: &str) -> Revision {
        match target_revision.trim() {
            "" | "HEAD" => Revision::Head,
            name => Revision::Name(name.to_string()),
        }
    }

    /// How the revision is shown in messages.
    pub fn as_str(&self) -> &str {
        match self {
            Revision::Head => "HEAD",
            Revision::Name(name) => name,
        }
    }

    /// A full commit id: immutable, so once its objects are in the cache no remote is asked.
    pub fn full_id(&self) -> Option<ObjectId> {
        match self {
            Revision::Name(name) if name.len() == 40 => ObjectId::from_hex(name.as_bytes()).ok(),
            _ => None,
        }
    }

    /// Could be an abbreviated commit id (Git's minimum abbreviation is 4).
    pub fn is_hex_prefix(&self) -> bool {
        matches!(self, Revision::Name(name)
            if (4..=40).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// Remote ref names this revision may mean, in Git's order of precedence
    /// (`git rev-parse`: exact name, then tags, then branches).
    pub fn ref_candidates(&self) -> Vec<String> {
        match self {
            Revision::Head => vec!["HEAD".to_string()],
            Revision::Name(name) if name.starts_with("refs/") => vec![name.clone()],
            Revision::Name(name) => vec![format!("refs/tags/{name}"), format!("refs/heads/{name}")],
        }
    }
}

/// One ref as the remote advertised it, with the commit it resolves to (annotated tags peeled).
#[derive(Clone, Debug)]
pub(crate) struct AdvertisedRef {
    pub name: String,
    /// `None` for an unborn HEAD (an empty repository).
    pub commit: Option<ObjectId>,
}

impl AdvertisedRef {
    pub fn from_handshake(reference: &Ref) -> AdvertisedRef {
        let (name, commit) = match reference {
            // `object` is already peeled through an annotated tag in every variant.
            Ref::Peeled {
                full_ref_name,
                object,
                ..
            }
            | Ref::Direct {
                full_ref_name,
                object,
            }
            | Ref::Symbolic {
                full_ref_name,
                object,
                ..
            } => (full_ref_name, Some(*object)),
            Ref::Unborn { full_ref_name, .. } => (full_ref_name, None),
        };
        AdvertisedRef {
            name: name.to_string(),
            commit,
        }
    }
}

/// The advertised ref `revision` names, if any.
pub(crate) fn find_ref<'a>(
    revision: &Revision,
    refs: &'a [AdvertisedRef],
) -> Option<&'a AdvertisedRef> {
    revision
        .ref_candidates()
        .iter()
        .find_map(|candidate| refs.iter().find(|r| &r.name == candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advertised(name: &str, byte: u8) -> AdvertisedRef {
        AdvertisedRef {
            name: name.into(),
            commit: Some(ObjectId::from_bytes_or_panic(&[byte; 20])),
        }
    }

    #[test]
    fn empty_and_head_mean_head() {
        assert_eq!(Revision::parse(""), Revision::Head);
        assert_eq!(Revision::parse(" HEAD "), Revision::Head);
        assert_eq!(Revision::parse("main"), Revision::Name("main".into()));
    }

    #[test]
    fn tags_win_over_branches_of_the_same_name_as_in_git() {
        let refs = [
            advertised("refs/heads/v1", 1),
            advertised("refs/tags/v1", 2),
        ];
        let found = find_ref(&Revision::parse("v1"), &refs).unwrap();
        assert_eq!(found.name, "refs/tags/v1");
        let found = find_ref(&Revision::parse("refs/heads/v1"), &refs).unwrap();
        assert_eq!(found.name, "refs/heads/v1");
        assert!(find_ref(&Revision::parse("v2"), &refs).is_none());
    }

    #[test]
    fn commit_ids() {
        let full = "0123456789abcdef0123456789abcdef01234567";
        assert!(Revision::parse(full).full_id().is_some());
        assert!(Revision::parse(full).is_hex_prefix());
        assert!(Revision::parse("0123abc").is_hex_prefix());
        assert!(Revision::parse("0123abc").full_id().is_none());
        assert!(!Revision::parse("abc").is_hex_prefix(), "too short");
        assert!(!Revision::parse("main").is_hex_prefix());
    }
}
