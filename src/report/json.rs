//! JSON Lines: one object per finding, written as it comes.

use super::Reporter;
use crate::check::Checked;

/// The JSON Lines reporter.
pub(super) struct Json;

impl Reporter for Json {
    fn add(&mut self, checked: &Checked, out: &mut String) {
        for f in &checked.findings {
            if let Ok(line) = serde_json::to_string(f) {
                out.push_str(&line);
                out.push('\n');
            }
        }
    }

    fn finish(&mut self, _out: &mut String) {}
}
