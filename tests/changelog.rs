//! The changelog keeps its `Unreleased` section (Keep a Changelog).

#[test]
fn changelog_has_an_unreleased_section() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/CHANGELOG.md")).unwrap();
    assert!(
        text.contains("\n## [Unreleased]\n"),
        "CHANGELOG.md lost its `## [Unreleased]` header"
    );
}
