//! Graphhook's end-to-end suites: one test binary, one module per feature.

// Test code: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod admin_audit;
mod admin_ops;
mod api_keys;
mod connection_lifecycle;
mod connections;
mod database_restart;
mod deliveries;
mod delivery_engine;
mod endpoint_headers;
mod endpoint_security;
mod endpoints;
mod errors;
mod every_resource;
mod flow_control;
mod hardening_exposure;
mod hardening_inputs;
mod health;
mod history;
mod history_order;
mod ingest;
mod ingest_dedup;
mod ingest_durability;
mod ingest_fields;
mod lifecycle;
mod lifecycle_failures;
mod migrations;
mod onboarding;
mod onboarding_identity;
mod onboarding_state;
mod openapi;
mod operational_events;
mod portal;
mod preflight;
mod retry_schedule;
mod startup_errors;
mod subscription_errors;
mod subscription_integrity;
mod subscription_reconciler;
mod subscriptions;
mod watchdog;
mod web;
mod worker;
