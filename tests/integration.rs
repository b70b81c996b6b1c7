//! The single integration test binary: one module per feature.

mod render; // kiln render end to end: project format, values, templates, output, bad input
