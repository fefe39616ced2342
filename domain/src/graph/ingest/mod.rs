//! Ingest: from Graph's POST to the tenant's events, with nothing lost.
//!
//! The request does nothing but a cheap parse and a durable write: [`Inbox::submit`] hands the
//! raw batch to a writer task, which writes everything waiting in one multi-row INSERT (group
//! commit) and answers each request once its row is committed. Then a processing job per batch
//! is queued; a batch whose job is lost is queued again by [`sweep_unprocessed`]. Processing
//! ([`process::process_batch`]) handles every item on its own, and remembers which items it
//! turned into events, so a batch processed twice delivers nothing twice.

mod fields;
pub mod guard;
mod item;
pub mod process;
pub mod rich;
mod shape;

use std::{sync::Arc, time::Duration};

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::{
    platform::clock::Clock,
    platform::config::IngestSettings,
    platform::entities::inbound_batch::{self, BatchKind},
    platform::error::{DomainError, DomainResult},
    platform::jobs::{ProcessInbound, Queues},
};

/// Most batches one INSERT writes.
const MAX_GROUP: usize = 256;

/// Why a batch could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("the inbox is not accepting batches right now")]
    Busy,
    #[error("the batch could not be written in time")]
    Timeout,
    #[error("the batch could not be written: {0}")]
    Database(String),
}

struct Pending {
    kind: BatchKind,
    body: Vec<u8>,
    reply: oneshot::Sender<Result<uuid::Uuid, InboxError>>,
}

/// The durable inbox the receivers write to.
#[derive(Clone)]
pub struct Inbox {
    tx: mpsc::Sender<Pending>,
    write_timeout: Duration,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox").finish_non_exhaustive()
    }
}

impl Inbox {
    /// Starts the writer tasks (on the current tokio runtime).
    pub fn start(
        db: DatabaseConnection,
        queues: Queues,
        clock: Clock,
        settings: &IngestSettings,
    ) -> Self {
        let (tx, rx) = mpsc::channel(MAX_GROUP * settings.writers.max(1) * 4);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..settings.writers.max(1) {
            tokio::spawn(writer(
                rx.clone(),
                db.clone(),
                queues.clone(),
                clock.clone(),
            ));
        }
        Self {
            tx,
            write_timeout: Duration::from_millis(settings.write_timeout_ms),
        }
    }

    /// Writes a raw batch durably; returns its id once committed.
    pub async fn submit(&self, kind: BatchKind, body: Vec<u8>) -> Result<uuid::Uuid, InboxError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .try_send(Pending { kind, body, reply })
            .map_err(|_| InboxError::Busy)?;
        match tokio::time::timeout(self.write_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(InboxError::Busy),
            Err(_) => Err(InboxError::Timeout),
        }
    }
}

async fn writer(
    rx: Arc<Mutex<mpsc::Receiver<Pending>>>,
    db: DatabaseConnection,
    queues: Queues,
    clock: Clock,
) {
    loop {
        // Everything waiting, up to a group, taken under the lock; the write happens outside it
        // so the other writers can gather the next group meanwhile.
        let group = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(next) => group.push(next),
                    Err(_) => break,
                }
            }
            group
        };
        let now = clock.now();
        let count = group.len();
        let mut ids = Vec::with_capacity(count);
        let mut replies = Vec::with_capacity(count);
        let mut rows = Vec::with_capacity(count);
        // The bodies move into the statement: no copy of what may be megabytes.
        for pending in group {
            let id = uuid::Uuid::now_v7();
            ids.push(id);
            replies.push(pending.reply);
            rows.push(inbound_batch::ActiveModel {
                id: sea_orm::Set(id),
                kind: sea_orm::Set(pending.kind),
                body: sea_orm::Set(pending.body),
                received_at: sea_orm::Set(now),
                processed_at: sea_orm::Set(None),
                attempts: sea_orm::Set(0),
                last_error: sea_orm::Set(None),
            });
        }
        let written = inbound_batch::Entity::insert_many(rows)
            .exec_without_returning(&db)
            .await;
        match written {
            Ok(_) => {
                metrics::histogram!("graphhook_ingest_group_size").record(count as f64);
                for (reply, id) in replies.into_iter().zip(&ids) {
                    let _ = reply.send(Ok(*id));
                }
                // The jobs are queued after the answers; a failed push is swept up later.
                let queues = queues.clone();
                tokio::spawn(async move {
                    // One job for the group: its batches are processed together.
                    let first = ids[0];
                    let job = ProcessInbound {
                        batch: first,
                        more: ids[1..].to_vec(),
                    };
                    if let Err(error) = queues.push_unique(&job, &format!("inbound:{first}")).await
                    {
                        tracing::warn!(%error, "could not queue inbound batches; the sweeper will");
                    }
                });
            }
            Err(error) => {
                // Not written again here: a statement that reached a dying connection may have
                // committed. The requests answer 503 and Graph retries (on fresh connections).
                crate::platform::db::observe(&error);
                tracing::error!(%error, batches = count, "could not write inbound batches");
                for reply in replies {
                    let _ = reply.send(Err(InboxError::Database(error.to_string())));
                }
            }
        }
    }
}

/// Whether an inbound batch waits to be processed (the worker's watchdog asks when it cannot see
/// the processing queue in Redis).
pub async fn unprocessed_exists(db: &DatabaseConnection) -> DomainResult<bool> {
    let waiting: Option<uuid::Uuid> = inbound_batch::Entity::find()
        .select_only()
        .column(inbound_batch::Column::Id)
        .filter(inbound_batch::Column::ProcessedAt.is_null())
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    Ok(waiting.is_some())
}

/// Queues again the batches not processed `after` their arrival (their job was lost: Redis
/// flushed, a push failed, a worker died), at most once a minute each. Returns how many.
pub async fn sweep_unprocessed(
    db: &DatabaseConnection,
    clock: &Clock,
    queues: &Queues,
    after: chrono::Duration,
    limit: u64,
) -> DomainResult<usize> {
    let now = clock.now();
    let stale: Vec<uuid::Uuid> = inbound_batch::Entity::find()
        .select_only()
        .column(inbound_batch::Column::Id)
        .filter(inbound_batch::Column::ProcessedAt.is_null())
        .filter(inbound_batch::Column::ReceivedAt.lte(now - after))
        .order_by_asc(inbound_batch::Column::ReceivedAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    if stale.is_empty() {
        return Ok(0);
    }
    let minute = now.timestamp() / 60;
    let jobs: Vec<(ProcessInbound, String)> = stale
        .iter()
        .map(|id| {
            (
                ProcessInbound {
                    batch: *id,
                    more: Vec::new(),
                },
                format!("inbound:{id}:{minute}"),
            )
        })
        .collect();
    let pushed = queues
        .push_many_unique(&jobs)
        .await
        .map_err(|e| DomainError::internal("queueing unprocessed inbound batches", e))?;
    if pushed > 0 {
        metrics::counter!("graphhook_ingest_swept_total").increment(pushed as u64);
    }
    Ok(pushed)
}
