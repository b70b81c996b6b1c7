//! The single integration test binary: one module per feature.

mod changelog; // CHANGELOG.md keeps its Unreleased section
mod consumers; // reports and hooks read by real tools: junitparser, the SARIF schema, pre-commit
mod convert; // kiln convert: mechanical API migrations
mod diff; // kiln diff, golden update, golden drift in kiln check
mod fuzz; // mutation fuzzing of every input reader: no panic, no hang, exact YAML round trip
mod golden; // the bundled example fleet renders exactly to golden/
mod lint; // kiln lint and the checks: corpus verdicts, bad input, report formats
mod newcomer; // the first five minutes: init to check, help, did-you-mean, README commands
mod output; // atomic replacement of out/ and golden/: exchange, syncfs, leftovers, kills
mod patches; // patches: in values layers: the kubectl kustomize oracle, bad patches
mod platform; // built-in template library behaviour: eureka, filebeat, variants, RBAC, ingress ports
mod render; // kiln render end to end: project format, values, templates, output, bad input
mod schemas; // kiln schemas import/list, consistency with upstream OpenAPI
mod sets; // the stateful and external sets, the DNS proxy controller: schemas, kubectl oracles
mod support; // the kiln runner, temporary projects, ../shared and external tools (skip or fail)
mod templates; // kiln templates list/show/eject; adding a file to a built-in set, extending its schema
mod trust; // no panic, no path escape, exact numbers, runaway templates, secrets never shown
