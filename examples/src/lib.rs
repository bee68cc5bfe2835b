//! Runnable examples of `incident-core`: `cargo run -p incident-examples --example <name>`.
