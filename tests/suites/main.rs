//! Graphhook's end-to-end suites: one test binary, one module per feature.

// Test code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_keys;
mod endpoints;
mod errors;
mod health;
mod migrations;
mod onboarding;
mod web;
mod worker;
