//! Counts of the calls that reached the subscription API, by operation and by answer, so that
//! tests and benchmarks can see how hard a client drives Graph (throttled calls included).

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// An operation of the subscription API (§1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Create,
    List,
    Get,
    Update,
    Delete,
    Reauthorize,
}

impl Operation {
    const ALL: [Operation; 6] = [
        Operation::Create,
        Operation::List,
        Operation::Get,
        Operation::Update,
        Operation::Delete,
        Operation::Reauthorize,
    ];

    /// The name Exchange puts in `ExtensionError` messages (`Operation: Update; …`).
    pub fn graph_name(self) -> &'static str {
        match self {
            Operation::Create => "Create",
            Operation::List => "List",
            Operation::Get => "Get",
            Operation::Update => "Update",
            Operation::Delete => "Delete",
            Operation::Reauthorize => "Reauthorize",
        }
    }

    /// The key in `GET /_emulator/calls`.
    fn key(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::List => "list",
            Operation::Get => "get",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Reauthorize => "reauthorize",
        }
    }
}

/// The statuses the subscription API answers; they are listed even when none was seen, so a
/// reader can index them without guarding.
const KNOWN_STATUSES: [u16; 9] = [200, 201, 204, 400, 401, 403, 404, 409, 429];

#[derive(Clone, Debug, Default)]
pub struct CallStats {
    by_operation: BTreeMap<Operation, u64>,
    by_status: BTreeMap<u16, u64>,
}

impl CallStats {
    pub fn record(&mut self, operation: Operation, status: u16) {
        *self.by_operation.entry(operation).or_default() += 1;
        *self.by_status.entry(status).or_default() += 1;
    }

    /// `{"total", "throttled", "byOperation": {"create", …}, "byStatus": {"200", …}}`.
    pub fn to_json(&self) -> Value {
        let count = |op: Operation| self.by_operation.get(&op).copied().unwrap_or(0);
        let by_operation: serde_json::Map<String, Value> = Operation::ALL
            .iter()
            .map(|op| (op.key().to_owned(), json!(count(*op))))
            .collect();
        let mut by_status: BTreeMap<u16, u64> = KNOWN_STATUSES.iter().map(|s| (*s, 0)).collect();
        by_status.extend(&self.by_status);
        let by_status: serde_json::Map<String, Value> = by_status
            .into_iter()
            .map(|(status, n)| (status.to_string(), json!(n)))
            .collect();
        json!({
            "total": self.by_operation.values().sum::<u64>(),
            "throttled": self.by_status.get(&429).copied().unwrap_or(0),
            "byOperation": by_operation,
            "byStatus": by_status,
        })
    }
}
