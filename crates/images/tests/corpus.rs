//! The byte-exact corpus (`tests/corpus/`, rules in its README): every case's edit applied to
//! its input gives exactly its expected output, byte for byte, or an error with the expected
//! words and no output.

use std::path::Path;

use bosun_images::edit::{self, Edit};

#[test]
fn every_corpus_case_is_edited_byte_exact() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".edit").map(str::to_string)
        })
        .collect();
    cases.sort();
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let read = |ext: &str| std::fs::read(dir.join(format!("{case}.{ext}"))).ok();
        let input = String::from_utf8(read("in.yaml").expect("an input")).unwrap();
        let line = String::from_utf8(read("edit").unwrap()).unwrap();
        let edits: Vec<Edit> = line
            .split_whitespace()
            .map(|e| e.parse().unwrap_or_else(|m| panic!("{case}: {m}")))
            .collect();
        let result = edit::apply(&input, &edits);
        match (read("out.yaml"), read("error"), result) {
            (Some(expected), None, Ok(edited)) => {
                if edited.text.as_bytes() != expected.as_slice() {
                    failures.push(format!(
                        "{case}: output differs\n--- expected\n{}\n--- got\n{}",
                        String::from_utf8_lossy(&expected),
                        edited.text
                    ));
                }
            }
            (None, Some(words), Err(error)) => {
                let message = error.to_string();
                for word in String::from_utf8(words).unwrap().split_whitespace() {
                    if !message.contains(word) {
                        failures.push(format!("{case}: error {message:?} lacks {word:?}"));
                    }
                }
            }
            (_, _, result) => failures.push(format!("{case}: unexpected {result:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
