//! Job payloads, their queue names, and how jobs are put on Redis.
//!
//! Every job type names its queue explicitly ([`Job::QUEUE`]); the Redis queue is
//! `{key_prefix}:{QUEUE}`, so a name never changes when code moves and every key a deployment
//! (or a test) writes carries its prefix. Payloads carry ids, not data: Postgres is the truth.

mod payloads;

use std::time::Duration;

use apalis::prelude::TaskBuilder;
use apalis_redis::{Config as RedisQueueConfig, RedisStorage};
use redis::aio::ConnectionManager;
use serde::{Serialize, de::DeserializeOwned};

pub use payloads::{
    Deliver, DeliverReplay, DeliverRetry, Probe, ProcessInbound, QueueDepthsTick, Reconcile,
    Upkeep, VerifyConsent,
};

use crate::platform::config::Settings;

/// A background job: a serializable payload bound to one queue.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static {
    /// The queue's stable name, without the deployment prefix.
    const QUEUE: &'static str;
}

/// Every queue the worker serves, for monitoring and draining.
pub const ALL_QUEUES: &[&str] = &[
    Deliver::QUEUE,
    DeliverRetry::QUEUE,
    DeliverReplay::QUEUE,
    ProcessInbound::QUEUE,
    Upkeep::QUEUE,
    Reconcile::QUEUE,
    Probe::QUEUE,
    QueueDepthsTick::QUEUE,
    VerifyConsent::QUEUE,
];

/// Due jobs moved to a ready list per round trip (see [`Queues::promote_due`]).
const PROMOTE_CHUNK: usize = 500;

/// Attempts at a push before giving up (about three seconds of backoff in all).
const PUSH_ATTEMPTS: u32 = 6;

/// How long an idempotency key (used to run a periodic tick once) is remembered.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// How long a delivery lane's idempotency key (an endpoint's job waits) is remembered.
pub const DELIVERY_KEY_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("could not encode the job: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("could not push the job to Redis: {0}")]
    Redis(#[from] apalis_redis::Error),
}

/// Pushes jobs and builds apalis storages, all under one key prefix.
#[derive(Clone, derive_more::Debug)]
pub struct Queues {
    prefix: String,
    #[debug(skip)]
    conn: ConnectionManager,
    #[debug(skip)]
    heartbeat: Duration,
    #[debug(skip)]
    missed_heartbeats: usize,
    #[debug(skip)]
    batch_size: usize,
    /// The delivery lanes' batch sizes: live, retry, replay.
    #[debug(skip)]
    lane_batch_sizes: [usize; 3],
}

impl Queues {
    pub fn new(settings: &Settings, conn: ConnectionManager) -> Self {
        Self {
            prefix: settings.redis.key_prefix.clone(),
            conn,
            heartbeat: Duration::from_secs(settings.worker.heartbeat_interval_secs),
            missed_heartbeats: settings.worker.missed_heartbeats,
            batch_size: settings.worker.concurrency,
            lane_batch_sizes: [
                settings.worker.delivery_concurrency,
                settings.worker.retry_concurrency,
                settings.worker.replay_concurrency,
            ],
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// The pub/sub channel on which the names of queues that just received due jobs are
    /// published, so idle workers fetch at once rather than at their next poll.
    pub fn wake_channel(&self) -> String {
        format!("{}:wake", self.prefix)
    }

    /// The full Redis queue name of a queue.
    pub fn queue_name(&self, queue: &str) -> String {
        format!("{}:{queue}", self.prefix)
    }

    /// The apalis-redis configuration of a queue. Heartbeats and the orphan timeout are set
    /// explicitly (the crate's code default recovers a dead worker's jobs only after 5 minutes);
    /// the batch size matches the concurrency so one worker does not hoard jobs.
    pub fn config(&self, queue: &str) -> RedisQueueConfig {
        let batch_size = match queue {
            Deliver::QUEUE => self.lane_batch_sizes[0],
            DeliverRetry::QUEUE => self.lane_batch_sizes[1],
            DeliverReplay::QUEUE => self.lane_batch_sizes[2],
            _ => self.batch_size,
        };
        // A delivery lane's key says an endpoint's job waits: its job forgets it when it runs,
        // and it ends by itself soon, so a job lost with Redis is pushed again by the sweeper.
        let idempotency_ttl = if queue.starts_with(Deliver::QUEUE) {
            DELIVERY_KEY_TTL
        } else {
            IDEMPOTENCY_TTL
        };
        RedisQueueConfig::default()
            .queue(self.queue_name(queue))
            .heartbeat_interval(self.heartbeat)
            .missed_heartbeats(self.missed_heartbeats)
            .batch_size(batch_size.max(1))
            .idempotency_ttl(Some(idempotency_ttl))
            .emit_events(false)
    }

    /// The apalis storage of a job type.
    pub fn storage<J: Job>(&self) -> RedisStorage<J> {
        RedisStorage::new(self.conn.clone()).with_config(self.config(J::QUEUE))
    }

    /// Pushes a job. A push right after a Redis connection drop fails while the connection
    /// manager reconnects, so a failed push is tried again, for up to about three seconds.
    #[tracing::instrument(skip_all, fields(queue = J::QUEUE))]
    pub async fn push<J: Job>(&self, job: &J) -> Result<(), PushError> {
        self.push_with_key(job, None, None).await.map(|_| ())
    }

    /// Pushes a job that runs no earlier than `delay` from now.
    #[tracing::instrument(skip_all, fields(queue = J::QUEUE))]
    pub async fn push_delayed<J: Job>(&self, job: &J, delay: Duration) -> Result<(), PushError> {
        self.push_with_key(job, None, Some(delay)).await.map(|_| ())
    }

    /// Pushes a job at most once per `key` while the key is remembered ([`IDEMPOTENCY_TTL`]).
    /// Returns whether this call enqueued it.
    #[tracing::instrument(skip_all, fields(queue = J::QUEUE, key))]
    pub async fn push_unique<J: Job>(&self, job: &J, key: &str) -> Result<bool, PushError> {
        self.push_with_key(job, Some(key), None).await
    }

    async fn push_with_key<J: Job>(
        &self,
        job: &J,
        key: Option<&str>,
        delay: Option<Duration>,
    ) -> Result<bool, PushError> {
        let bytes = serde_json::to_vec(job)?;
        let mut builder = TaskBuilder::new(bytes);
        if let Some(key) = key {
            builder = builder.idempotency_key(key);
        }
        if let Some(delay) = delay {
            builder = builder.run_after(delay);
        }
        let task = builder.build();
        let pushed = self
            .push_tasks(J::QUEUE, std::slice::from_ref(&task), delay.is_none())
            .await?;
        Ok(pushed > 0)
    }

    /// Pushes many jobs at once, each at most once per key (see [`Queues::push_unique`]), in
    /// chunks of a few hundred per round trip. Returns how many were enqueued.
    #[tracing::instrument(skip_all, fields(queue = J::QUEUE, count = jobs.len()))]
    pub async fn push_many_unique<J: Job>(&self, jobs: &[(J, String)]) -> Result<usize, PushError> {
        let mut pushed = 0;
        for chunk in jobs.chunks(500) {
            let mut tasks = Vec::with_capacity(chunk.len());
            for (job, key) in chunk {
                tasks.push(
                    TaskBuilder::new(serde_json::to_vec(job)?)
                        .idempotency_key(key.as_str())
                        .build(),
                );
            }
            pushed += self.push_tasks(J::QUEUE, &tasks, true).await?;
        }
        Ok(pushed)
    }

    /// Forgets an idempotency key of `queue`, so the next push under it enqueues again.
    pub async fn forget_key(&self, queue: &str, key: &str) -> Result<(), PushError> {
        let config = self.config(queue);
        let mut conn = self.conn.clone();
        let () = redis::cmd("DEL")
            .arg(format!("{}:{key}", config.idempotency_key_set()))
            .query_async(&mut conn)
            .await
            .map_err(apalis_redis::Error::from)?;
        Ok(())
    }

    /// Moves due jobs of `queue` from its scheduled set to its ready list, a bounded number per
    /// round trip, until none is left. Returns how many it moved.
    ///
    /// apalis-redis puts every pushed job in the scheduled set (due now or later), and a worker's
    /// fetch moves *all* due ones at once with one Lua `unpack`, which fails beyond about 8,000
    /// ids: a backlog that large would stop the queue. Every push of jobs due now, and every
    /// maintenance tick, therefore moves due jobs over in chunks first. Jobs moved also wake the
    /// queue's idle workers: the script publishes the queue's name on [`Queues::wake_channel`].
    pub async fn promote_due(&self, queue: &str) -> Result<usize, PushError> {
        const PROMOTE: &str = r"
local ids = redis.call('zrangebyscore', KEYS[1], 0, ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #ids > 0 then
  redis.call('rpush', KEYS[2], unpack(ids))
  redis.call('zrem', KEYS[1], unpack(ids))
  redis.call('del', KEYS[3])
  redis.call('lpush', KEYS[3], 1)
  redis.call('publish', KEYS[4], ARGV[3])
end
return #ids
";
        let config = self.config(queue);
        let mut conn = self.conn.clone();
        static SCRIPT: std::sync::LazyLock<redis::Script> =
            std::sync::LazyLock::new(|| redis::Script::new(PROMOTE));
        let script = &*SCRIPT;
        let mut moved = 0;
        loop {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            let n: usize = script
                .key(config.scheduled_jobs_set())
                .key(config.active_jobs_list())
                .key(config.signal_list())
                .key(self.wake_channel())
                .arg(now)
                .arg(PROMOTE_CHUNK)
                .arg(queue)
                .invoke_async(&mut conn)
                .await
                .map_err(apalis_redis::Error::from)?;
            moved += n;
            if n < PROMOTE_CHUNK {
                return Ok(moved);
            }
        }
    }

    /// Pushes built tasks of `queue`; `due_now`: none is delayed, so they are promoted at once.
    async fn push_tasks(
        &self,
        queue: &str,
        tasks: &[apalis_redis::RedisTask],
        due_now: bool,
    ) -> Result<usize, PushError> {
        let config = &self.config(queue);
        let mut conn = self.conn.clone();
        let mut delay = Duration::from_millis(50);
        for attempt in 1.. {
            match apalis_redis::queries::push_tasks(&mut conn, config, tasks).await {
                Ok((enqueued, scheduled)) => {
                    if due_now && enqueued + scheduled > 0 {
                        self.promote_due(queue).await?;
                    }
                    return Ok((enqueued + scheduled) as usize);
                }
                Err(error) if attempt < PUSH_ATTEMPTS => {
                    tracing::warn!(%error, attempt, "push failed; trying again");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
                Err(error) => return Err(error.into()),
            }
        }
        unreachable!("the loop returns on its last attempt")
    }
}
