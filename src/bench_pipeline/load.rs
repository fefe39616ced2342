//! The load generator: POSTs Graph change-notification collections (graph-protocol.md §3) for
//! the benchmark's real subscriptions, with each one's `clientState`, to
//! `/graph/notifications`. Every item is unique (ingest's dedup must drop none) and carries its
//! ledger number in its Outlook message id, which the webhook's `data.resourceData.id` echoes.
//!
//! Three pacings: closed loop with a window (a POST waits until fewer than `window`
//! notifications are outstanding, i.e. sent and not yet arrived at every endpoint, which keeps
//! the whole pipeline saturated without an unbounded backlog); closed loop without one (back to
//! back on each connection, for the generator's own ceiling against a bare server); and open
//! loop at a notification rate, latency counted from when each POST was due.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;

use super::{Subscription, ledger::Ledger};
use crate::bench_http::{Answers, connect, gather, request_bytes, send, wait_until_due};

const PATH: &str = "/graph/notifications";

/// Outlook message ids are about 150 characters: `AAMkAG`, 16 hex digits of the ledger number,
/// then this much padding.
const MESSAGE_ID_PADDING: usize = 126;

/// The ledger number in an Outlook message id the generator made.
pub(super) fn seq_of(message_id: &str) -> Option<u64> {
    let hex = message_id.strip_prefix("AAMkAG")?.get(..16)?;
    u64::from_str_radix(hex, 16).ok()
}

/// A collection of one item per number in `seqs`, all for `subscription`.
fn body(subscription: &Subscription, seqs: std::ops::Range<u64>, padding: &str) -> Vec<u8> {
    let Subscription {
        graph_id,
        client_state,
        entra_tenant,
        user,
        ..
    } = subscription;
    let items: Vec<String> = seqs
        .map(|seq| {
            let message = format!("AAMkAG{seq:016x}{padding}");
            format!(
                concat!(
                    r##"{{"id":"lsgTZMr9KwAAA{seq:016x}","subscriptionId":"{graph_id}","##,
                    r##""subscriptionExpirationDateTime":"2026-03-19T22:11:09.9696658+00:00","##,
                    r##""clientState":"{client_state}","changeType":"created","##,
                    r##""resource":"users/{user}@{tenant}/messages/{message}","tenantId":"{tenant}","##,
                    r##""resourceData":{{"@odata.type":"#Microsoft.Graph.Message","##,
                    r##""@odata.id":"Users/{user}@{tenant}/Messages/{message}","##,
                    r##""@odata.etag":"W/\"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAAUWRHf\"","id":"{message}"}}}}"##
                ),
                seq = seq,
                graph_id = graph_id,
                client_state = client_state,
                user = user,
                tenant = entra_tenant,
                message = message,
            )
        })
        .collect();
    format!(r#"{{"value":[{}]}}"#, items.join(",")).into_bytes()
}

/// How a run paces its POSTs.
#[derive(Clone, Copy)]
pub(super) enum Pace {
    /// Back to back on each connection, at most `window` notifications outstanding.
    Window,
    /// Back to back on each connection (the generator's ceiling).
    Unbounded,
    /// Notifications per second, open loop.
    Open(f64),
}

/// One run of the generator.
pub(super) struct Run<'a> {
    pub index: usize,
    pub port: u16,
    pub subscriptions: &'a [Subscription],
    pub items: usize,
    pub connections: usize,
    pub pace: Pace,
    /// Sends for this long (after which the POSTs in flight finish).
    pub duration: Duration,
    /// Sends at most this many notifications.
    pub limit: Option<u64>,
}

/// What every client of a run shares.
struct Plan {
    index: usize,
    port: u16,
    pace: Pace,
    items: u64,
    start: tokio::time::Instant,
    deadline: tokio::time::Instant,
    /// POSTs the run sends at most.
    posts_due: u64,
    /// The next POST's number, taken by whichever client is free.
    next: AtomicU64,
    ledger: Arc<Ledger>,
    subscriptions: Vec<Subscription>,
    padding: String,
}

pub(super) async fn drive(run: &Run<'_>, ledger: &Arc<Ledger>) -> anyhow::Result<Answers> {
    anyhow::ensure!(!run.subscriptions.is_empty(), "no subscriptions to notify");
    let started = Instant::now();
    let start = tokio::time::Instant::now();
    let items = run.items as u64;
    let limit = run.limit.unwrap_or(u64::MAX);
    let posts_due = match run.pace {
        Pace::Open(rate) => {
            let posts = (rate * run.duration.as_secs_f64() / items as f64).ceil() as u64;
            posts.min(limit.div_ceil(items))
        }
        Pace::Window | Pace::Unbounded => limit.div_ceil(items),
    };
    let plan = Arc::new(Plan {
        index: run.index,
        port: run.port,
        pace: run.pace,
        items,
        start,
        deadline: start + run.duration,
        posts_due,
        next: AtomicU64::new(0),
        ledger: ledger.clone(),
        subscriptions: run.subscriptions.to_vec(),
        padding: "A".repeat(MESSAGE_ID_PADDING),
    });
    let clients = (0..run.connections)
        .map(|_| tokio::spawn(client(plan.clone())))
        .collect();
    gather(clients, started).await
}

/// One client on its own keep-alive connection, POSTing until the run's time or POSTs are
/// used up.
async fn client(plan: Arc<Plan>) -> anyhow::Result<Answers> {
    let mut stream = connect(plan.port).await?;
    let mut buf = Vec::with_capacity(4096);
    let mut sent = Answers::default();
    loop {
        let open = matches!(plan.pace, Pace::Open(_));
        if tokio::time::Instant::now() >= plan.deadline && !open {
            break;
        }
        let post = plan.next.fetch_add(1, Ordering::Relaxed);
        if post >= plan.posts_due {
            break;
        }
        let Some(due) = wait_for_turn(&plan, post, &mut sent).await? else {
            break;
        };
        let subscriptions = &plan.subscriptions;
        let subscription = &subscriptions[(post % subscriptions.len() as u64) as usize];
        let seqs = plan.ledger.issue(
            plan.index,
            subscription.tenant,
            plan.items as usize,
            plan.ledger.ns(due.into_std()),
            matches!(plan.pace, Pace::Window),
        );
        let body = body(subscription, seqs.clone(), &plan.padding);
        let request = request_bytes(plan.port, PATH, &body);
        let status = send(&mut stream, &mut buf, &request).await?;
        plan.ledger.answered(seqs, status == 202);
        sent.record(status, due.elapsed());
    }
    Ok(sent)
}

/// Waits as the pace says before POST number `post`: until it is due (open loop), or until the
/// window has room for its items; returns when its latency counts from, `None` when the run
/// ended while waiting.
async fn wait_for_turn(
    plan: &Plan,
    post: u64,
    sent: &mut Answers,
) -> anyhow::Result<Option<tokio::time::Instant>> {
    Ok(Some(match plan.pace {
        Pace::Open(rate) => {
            let (due, late) = wait_until_due(plan.start, rate / plan.items as f64, post).await;
            sent.late += u64::from(late);
            due
        }
        Pace::Window => {
            let places = u32::try_from(plan.items).unwrap_or(u32::MAX);
            let acquire = plan.ledger.window.acquire_many(places);
            match tokio::time::timeout_at(plan.deadline, acquire).await {
                Ok(permit) => permit.context("the window closed")?.forget(),
                Err(_) => return Ok(None),
            }
            tokio::time::Instant::now()
        }
        Pace::Unbounded => tokio::time::Instant::now(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_graph_shaped_and_carries_its_ledger_number() {
        let subscription = Subscription {
            tenant: 0,
            graph_id: uuid::Uuid::new_v4().to_string(),
            client_state: "a-client-state".into(),
            entra_tenant: uuid::Uuid::new_v4(),
            user: uuid::Uuid::new_v4(),
        };
        let padding = "A".repeat(MESSAGE_ID_PADDING);
        let collection: serde_json::Value =
            serde_json::from_slice(&body(&subscription, 41..43, &padding)).unwrap();
        let items = collection["value"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        for (item, seq) in items.iter().zip(41..) {
            assert_eq!(item["subscriptionId"], subscription.graph_id.as_str());
            assert_eq!(item["clientState"], "a-client-state");
            assert_eq!(item["changeType"], "created");
            assert_eq!(item["tenantId"], subscription.entra_tenant.to_string());
            let data = &item["resourceData"];
            assert_eq!(data["@odata.type"], "#Microsoft.Graph.Message");
            assert_eq!(
                data["@odata.etag"],
                "W/\"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAAUWRHf\""
            );
            let id = data["id"].as_str().unwrap();
            assert_eq!(id.len(), 6 + 16 + MESSAGE_ID_PADDING);
            assert_eq!(seq_of(id), Some(seq));
            assert!(item["resource"].as_str().unwrap().ends_with(id));
        }
        assert_eq!(seq_of("AAMkAGnot-hex-at-all"), None);
    }
}
