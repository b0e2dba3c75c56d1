//! Typed YAML decoding of one document with serde-saphyr, turning its errors into [`ModelError`]s
//! that carry the field path (serde_path_to_error) and the line in the whole file.

use serde::Deserialize;
use serde_saphyr::{Error as YamlError, MessageFormatter, UserMessageFormatter};

use crate::error::{ErrorKind, ModelError, saturating_u32};

/// Decodes `text`, one YAML document that starts `line_offset` lines into its file.
pub(crate) fn decode<'de, T: Deserialize<'de>>(
    text: &'de str,
    line_offset: u64,
) -> Result<T, ModelError> {
    // The default budget stays on: it bounds aliases, depth and size for hostile input.
    let options = serde_saphyr::options! { with_snippet: false };
    let mut path = String::new();
    serde_saphyr::with_deserializer_from_str_with_options(text, options, |deserializer| {
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    })
    .map_err(|e| to_model_error(&e, &path, line_offset))
}

fn to_model_error(error: &YamlError, path: &str, line_offset: u64) -> ModelError {
    let kind = if is_schema_error(error) {
        ErrorKind::Schema
    } else {
        ErrorKind::Syntax
    };
    // serde_path_to_error writes `.` for the root and `?` where it lost track.
    let path = match path {
        "." | "?" => "",
        p => p,
    };
    // The formatter leaves the location out; it is kept in `line`/`column` instead. Escape control
    // characters, as serde-saphyr's own renderer does, so that input cannot forge terminal output.
    let message = UserMessageFormatter
        .format_message(error)
        .escape_debug()
        .to_string();
    let mut model_error = ModelError::new(kind, path, message);
    if let Some(location) = error.location().filter(|l| l.line() > 0) {
        model_error.line = Some(saturating_u32(location.line() + line_offset));
        model_error.column = Some(saturating_u32(location.column()));
    }
    model_error
}

fn is_schema_error(error: &YamlError) -> bool {
    matches!(
        error,
        YamlError::Message { .. }
            | YamlError::Unexpected { .. }
            | YamlError::InvalidScalar { .. }
            | YamlError::NullIntoString { .. }
            | YamlError::InvalidBooleanStrict { .. }
            | YamlError::SerdeInvalidType { .. }
            | YamlError::SerdeInvalidValue { .. }
            | YamlError::SerdeInvalidLength { .. }
            | YamlError::SerdeUnknownVariant { .. }
            | YamlError::SerdeUnknownField { .. }
            | YamlError::SerdeMissingField { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        inner: Vec<Inner>,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    #[test]
    fn errors_carry_path_and_file_line() {
        let e = decode::<Outer>("inner:\n  - count: 1\n  - cuont: 2\n", 10).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Schema);
        assert_eq!(e.path, "inner[1].cuont");
        assert!(
            e.message.starts_with("unknown field `cuont`"),
            "{}",
            e.message
        );
        assert_eq!(e.line, Some(13));
    }

    #[test]
    fn wrong_types_are_schema_errors() {
        let e = decode::<Outer>("inner:\n  - count: many\n", 0).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Schema);
        assert_eq!(e.path, "inner[0].count");
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn broken_yaml_is_a_syntax_error() {
        let e = decode::<Outer>("inner: \"unterminated\n", 0).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Syntax, "{e}");
    }
}
