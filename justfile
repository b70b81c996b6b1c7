# kiln's tasks. `just --list` shows them.

# Run the tests (the README's test command).
test:
    cargo test --locked

# Format check, clippy and leftovers, as CI runs them.
lint:
    cargo fmt --check
    cargo clippy --locked --all-targets -- -D warnings

# Exactly what CI runs.
ci:
    bash .ci/run

# Re-record the example fleet into golden/ on purpose; review `git diff golden/` afterwards.
golden:
    cargo run --locked -- golden update

# Benchmark `kiln render` on a generated fleet of N services x 4 environments.
bench n="1000":
    bash bench/run.sh {{n}}

# Fuzz every input reader for MINUTES in a release build; failing inputs land in target/fuzz-failures/.
fuzz minutes="10":
    bash bench/fuzz.sh {{minutes}}
