//! A write-back: edits of one file committed and pushed, made again on a newer head when the
//! branch moved, and refused when someone else changed the same value.

use bosun_source::{Author, FileChange, Pushed, WriteError, Writer};

use crate::edit::{self, Edit};

/// The value each edit expects to replace: what the file held when the edit was decided.
#[derive(Debug, Clone)]
pub struct Expected {
    pub edit: Edit,
    /// `None` when the key did not exist (a kustomization image without `newTag`).
    pub old: Option<String>,
}

/// Re-applies `edits` to a file's content at some head: `Ok(None)` when every value is already
/// the new one, an error when a value is neither the old nor the new one (someone else changed
/// it: their change wins, bosun does not overwrite it).
pub fn reapply(file: &str, edits: &[Expected], content: &str) -> Result<Option<String>, String> {
    let mut todo = Vec::new();
    for expected in edits {
        let current =
            edit::get(content, &expected.edit.path).map_err(|e| format!("{file}: {e}"))?;
        if current.as_deref() == Some(expected.edit.value.as_str()) {
            continue;
        }
        if current != expected.old {
            return Err(format!(
                "{file}: {} was changed by someone else to {} (from {}); not overwriting it with {}",
                expected.edit.path,
                current.as_deref().unwrap_or("nothing"),
                expected.old.as_deref().unwrap_or("nothing"),
                expected.edit.value,
            ));
        }
        todo.push(expected.edit.clone());
    }
    if todo.is_empty() {
        return Ok(None);
    }
    let edited = edit::apply(content, &todo).map_err(|e| format!("{file}: {e}"))?;
    Ok(Some(edited.text))
}

/// Edits of one file, to be committed with a message by an author.
pub struct WriteBack<'a> {
    pub path: &'a str,
    pub edits: &'a [Expected],
    pub message: &'a str,
    pub author: &'a Author,
}

impl WriteBack<'_> {
    /// Commits the edits on `base`'s head and pushes to `target`, retrying on a moved branch.
    /// `first` is a commit already made and its parent (the user's clone), pushed as is first.
    pub fn push(
        &self,
        writer: &Writer,
        base: &str,
        target: &str,
        first: Option<(&str, &str)>,
    ) -> Result<Pushed, WriteError> {
        let edit = |content: &str| reapply(self.path, self.edits, content);
        let change = FileChange {
            path: self.path,
            message: self.message,
            author: self.author,
            edit: &edit,
        };
        writer.commit_and_push(base, target, &change, first)
    }
}
