//! Reports: the same findings as text (one line each, for logs and terminals), JSON Lines,
//! `JUnit` XML (one testcase per resource, for Jenkins' `junit` step) and SARIF 2.1.0 (for code
//! scanning). Every format is a [`Reporter`] fed the same [`Checked`] documents in order, one
//! file per format, so adding a format never touches the checks or the other formats.

mod json;
mod junit;
mod sarif;
mod text;

pub use text::line as text_line;

use crate::check::Checked;
use crate::diagnostic::Severity;

/// Output format of `kiln check` and `kiln lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One line per finding, then a summary.
    #[default]
    Text,
    /// JSON Lines: one object per finding.
    Json,
    /// `JUnit` XML: one testcase per resource.
    Junit,
    /// SARIF 2.1.0.
    Sarif,
}

/// Counts for the summary and the exit code.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Resources checked.
    pub resources: usize,
    /// Error findings.
    pub errors: usize,
    /// Warning findings.
    pub warnings: usize,
    /// Resources skipped for want of a schema.
    pub skipped: usize,
}

impl Summary {
    /// Count a result list.
    #[must_use]
    pub fn of(results: &[Checked]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            s.add(r);
        }
        s
    }

    /// Count one more checked document.
    pub fn add(&mut self, r: &Checked) {
        self.resources += 1;
        self.skipped += usize::from(r.skipped);
        for f in &r.findings {
            match f.severity {
                Severity::Error => self.errors += 1,
                Severity::Warning => self.warnings += 1,
            }
        }
    }
}

/// One report format. Checked documents arrive one at a time, in order: a format that can
/// write as it goes (text, JSON Lines) keeps only its totals, one that needs totals before its
/// body (`JUnit`, SARIF) keeps what it will print.
pub trait Reporter {
    /// One checked document.
    fn add(&mut self, checked: &Checked, out: &mut String);
    /// Everything that follows the last document.
    fn finish(&mut self, out: &mut String);
}

/// The reporter of `format`.
#[must_use]
pub fn reporter(format: Format) -> Box<dyn Reporter> {
    match format {
        Format::Text => Box::<text::Text>::default(),
        Format::Json => Box::new(json::Json),
        Format::Junit => Box::<junit::Junit>::default(),
        Format::Sarif => Box::<sarif::Sarif>::default(),
    }
}

/// Render the results in `format`.
#[must_use]
pub fn render(results: &[Checked], format: Format) -> String {
    let mut reporter = reporter(format);
    // About the size of the text report (the other formats add their syntax to the same
    // texts): a fleet's 8,000 findings make megabytes, and growing by doubling would touch
    // about twice that in new pages.
    let mut out = String::with_capacity(
        results
            .iter()
            .flat_map(|r| &r.findings)
            .map(|f| {
                f.file.len()
                    + f.message.len()
                    + f.resource.as_ref().map_or(0, String::len)
                    + f.template.as_ref().map_or(0, String::len)
                    + 48
            })
            .sum(),
    );
    // Whatever made a finding, a value decrypted from a SOPS file is not quoted in it.
    let decrypted = crate::secret::any_decrypted();
    for checked in results {
        if decrypted {
            let mut hidden = checked.clone();
            for f in &mut hidden.findings {
                if let Some(m) = crate::secret::hide_decrypted(&f.message) {
                    f.message = m;
                }
            }
            reporter.add(&hidden, &mut out);
        } else {
            reporter.add(checked, &mut out);
        }
    }
    reporter.finish(&mut out);
    out
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}
