//! The single integration test binary: one module per feature.

mod access; // team access: ServiceAccounts per team (kubectl and schema oracles), kiln kubeconfig read by kubectl
mod adopt; // kiln adopt: round trips of the bundled fleet, golden/, fleet.py and the field corpus; bad input
mod changelog; // CHANGELOG.md keeps its Unreleased section
mod clusters; // several clusters: kiln.yaml clusters, per-cluster layout, values layer, --cluster, collisions
mod consumers; // reports and hooks read by real tools: junitparser, the SARIF schema, pre-commit
mod convert; // kiln convert: mechanical API migrations
mod delivery; // secrets: as Secret objects, Secret digests in golden/, ApplySets and prune lists
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
mod set; // kiln set: one value written into a values file, the rest of the file untouched
mod sets; // the stateful and external sets, the DNS proxy controller: schemas, kubectl oracles
mod sops; // SOPS-encrypted values layers with the real sops and age: precedence, errors, no leaks
mod support; // the kiln runner, temporary projects, ../shared and external tools (skip or fail)
mod templates; // kiln templates list/show/eject; adding a file to a built-in set, extending its schema
mod trust; // no panic, no path escape, exact numbers, runaway templates, secrets never shown
