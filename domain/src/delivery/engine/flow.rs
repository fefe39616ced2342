//! Flow control and endpoint health, shared by every worker process through Redis.
//!
//! Before a batch of attempts to one endpoint, [`FlowControl::admit`] decides in one Lua script
//! how many of them may go now:
//! - the endpoint's **circuit** (`closed`, `open`, `half_open`): while open, nothing is sent;
//!   when its wait is over, exactly one attempt is admitted as the probe (`half_open`);
//! - its **in-flight cap**: a sorted set of leases (score = expiry), so a lease of a killed
//!   worker expires by itself; retries and replays may use only half the cap, which keeps the
//!   other half for first attempts;
//! - its **rate limit**: a sliding one-second window of admissions, exact across processes.
//!
//! After the batch, [`FlowControl::release`] frees its leases and [`FlowControl::record`] feeds
//! the outcomes to the circuit, each in one call: it opens when at least `failure_percent` of at least
//! `min_attempts` attempts in the window failed, a failed probe opens it again for twice as
//! long (up to a maximum), a successful probe closes it.
//!
//! Circuit times follow the service's clock (so tests can move time); leases and the rate window
//! follow Redis' own clock, the same for every process.

use std::{sync::LazyLock, time::Duration};

use chrono::{DateTime, TimeZone, Utc};
use redis::{Script, aio::ConnectionManager};
use serde::Serialize;
use uuid::Uuid;

use crate::{platform::config::WebhookSettings, platform::entities::endpoint};

/// Which capacity an attempt draws on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// A delivery's first attempt.
    Live,
    /// An attempt after a failure.
    Retry,
    /// A resend or recovery the tenant asked for.
    Replay,
}

impl Lane {
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Live => "live",
            Lane::Retry => "retry",
            Lane::Replay => "replay",
        }
    }
}

/// The circuit breaker's parameters.
#[derive(Clone, Debug)]
pub struct CircuitSettings {
    pub window: Duration,
    pub min_attempts: u32,
    pub failure_percent: u32,
    pub open: Duration,
    pub max_open: Duration,
}

impl CircuitSettings {
    pub fn from_settings(webhooks: &WebhookSettings) -> Self {
        Self {
            window: Duration::from_secs(webhooks.circuit_window_secs),
            min_attempts: webhooks.circuit_min_attempts,
            failure_percent: webhooks.circuit_failure_percent,
            open: Duration::from_secs(webhooks.circuit_open_secs),
            max_open: Duration::from_secs(webhooks.circuit_max_open_secs),
        }
    }
}

/// Buckets the circuit's window is counted in.
const WINDOW_BUCKETS: u64 = 30;

/// Flow control for every endpoint, under one key prefix.
#[derive(Clone, derive_more::Debug)]
pub struct FlowControl {
    #[debug(skip)]
    conn: ConnectionManager,
    prefix: String,
    #[debug(skip)]
    circuit: CircuitSettings,
}

/// Admitted attempts' hold on the endpoint's capacity: one place in its in-flight cap each.
#[derive(Debug)]
pub struct Lease {
    endpoint: Uuid,
    token: String,
    /// How many attempts the lease admits.
    pub count: usize,
    /// The one attempt admitted is the half-open circuit's probe.
    pub probe: bool,
}

impl Lease {
    fn members(&self) -> impl Iterator<Item = String> + '_ {
        (1..=self.count).map(|i| format!("{}:{i}", self.token))
    }
}

/// Why an attempt must wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// The endpoint's circuit is open (or its probe is out) until then.
    CircuitOpen { until: DateTime<Utc> },
    /// The endpoint has as many attempts in flight as its lane may have.
    InFlight,
    /// The endpoint's rate limit is reached; a slot frees up in `retry_in`.
    RateLimited { retry_in: Duration },
}

impl Hold {
    pub fn as_str(self) -> &'static str {
        match self {
            Hold::CircuitOpen { .. } => "circuit_open",
            Hold::InFlight => "in_flight",
            Hold::RateLimited { .. } => "rate_limited",
        }
    }
}

#[derive(Debug)]
pub enum Admission {
    /// Some attempts may go (at least one); `rest` says why the others, if any, must wait.
    Admitted { lease: Lease, rest: Option<Hold> },
    /// None may go.
    Held(Hold),
}

/// What an outcome did to the circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitChange {
    Unchanged,
    /// It opened: `failed` of `attempts` in the window failed.
    Opened {
        until: DateTime<Utc>,
        attempts: u64,
        failed: u64,
    },
    /// The probe failed: open again, for longer.
    Reopened {
        until: DateTime<Utc>,
    },
    /// The probe succeeded.
    Closed,
}

/// An endpoint's circuit as the API shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum CircuitState {
    Closed,
    Open { until: DateTime<Utc> },
    HalfOpen,
}

const ADMIT: &str = r"
local now = tonumber(ARGV[1])
local want = tonumber(ARGV[7])
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local probe = 0
if state == 'open' then
  local open_until = tonumber(redis.call('HGET', KEYS[1], 'until'))
  if now < open_until then return {1, open_until, 0, 0} end
  probe = 1
elseif state == 'half_open' then
  local probe_until = tonumber(redis.call('HGET', KEYS[1], 'probe_until'))
  if now < probe_until then return {1, probe_until, 0, 0} end
  probe = 1
end
if probe == 1 then want = 1 end
local t = redis.call('TIME')
local real = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', real)
local free = tonumber(ARGV[2]) - redis.call('ZCARD', KEYS[2])
if free <= 0 then return {2, 0, 0, 0} end
local n = math.min(want, free)
local short, wait = 0, 0
if n < want then short = 2 end
local limit = tonumber(ARGV[3])
if limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', real - 1000)
  local room = limit - redis.call('ZCARD', KEYS[3])
  if room <= 0 then
    local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
    return {3, tonumber(oldest[2]) + 1000 - real, 0, 0}
  end
  if room < n then
    n = room
    short = 3
  end
  for i = 1, n do redis.call('ZADD', KEYS[3], real, ARGV[4] .. ':' .. i) end
  redis.call('PEXPIRE', KEYS[3], 2000)
  if short == 3 then
    local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
    wait = tonumber(oldest[2]) + 1000 - real
  end
end
for i = 1, n do redis.call('ZADD', KEYS[2], real + tonumber(ARGV[5]), ARGV[4] .. ':' .. i) end
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[5]) + 1000)
if probe == 1 then
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'probe_until', now + tonumber(ARGV[6]))
end
return {0, probe, n, short * 1000000000 + wait}
";

const RECORD: &str = r"
local now = tonumber(ARGV[1])
local ok_n = tonumber(ARGV[2])
local fail_n = tonumber(ARGV[11])
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'half_open' then
  if ARGV[3] ~= '1' then return {0, 0, 0, 0} end
  if fail_n == 0 then
    redis.call('DEL', KEYS[1], KEYS[2])
    redis.call('SREM', KEYS[3], ARGV[10])
    return {3, 0, 0, 0}
  end
  local trips = redis.call('HINCRBY', KEYS[1], 'trips', 1)
  local wait = math.min(tonumber(ARGV[8]) * (2 ^ trips), tonumber(ARGV[9]))
  redis.call('HSET', KEYS[1], 'state', 'open', 'until', now + wait)
  return {2, now + wait, 0, 0}
end
if state == 'open' then return {0, 0, 0, 0} end
local bucket_ms = tonumber(ARGV[4])
local buckets = tonumber(ARGV[5])
local bucket = math.floor(now / bucket_ms)
redis.call('HINCRBY', KEYS[2], 't:' .. bucket, ok_n + fail_n)
if fail_n > 0 then redis.call('HINCRBY', KEYS[2], 'f:' .. bucket, fail_n) end
redis.call('PEXPIRE', KEYS[2], bucket_ms * (buckets + 1))
local fields = redis.call('HGETALL', KEYS[2])
local total, failed = 0, 0
for i = 1, #fields, 2 do
  local kind, b = string.match(fields[i], '^(%a):(%-?%d+)$')
  b = tonumber(b)
  if b <= bucket - buckets then
    redis.call('HDEL', KEYS[2], fields[i])
  elseif kind == 't' then
    total = total + tonumber(fields[i + 1])
  else
    failed = failed + tonumber(fields[i + 1])
  end
end
if total >= tonumber(ARGV[6]) and failed * 100 >= tonumber(ARGV[7]) * total then
  redis.call('HSET', KEYS[1], 'state', 'open', 'until', now + tonumber(ARGV[8]), 'trips', 0)
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[9]) * 4 + 86400000)
  redis.call('DEL', KEYS[2])
  redis.call('SADD', KEYS[3], ARGV[10])
  return {1, now + tonumber(ARGV[8]), total, failed}
end
return {0, 0, total, failed}
";

/// The scripts, hashed once (each call sends only the hash, and the text if Redis lacks it).
static ADMIT_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ADMIT));
static RECORD_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RECORD));

fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl FlowControl {
    pub fn new(prefix: &str, conn: ConnectionManager, circuit: CircuitSettings) -> Self {
        Self {
            conn,
            prefix: prefix.to_owned(),
            circuit,
        }
    }

    /// Flow control under the deployment's key prefix, with the configured circuit.
    pub fn from_settings(settings: &crate::Settings, conn: ConnectionManager) -> Self {
        Self::new(
            &settings.redis.key_prefix,
            conn,
            CircuitSettings::from_settings(&settings.webhooks),
        )
    }

    fn key(&self, endpoint: Uuid, what: &str) -> String {
        format!("{}:flow:{endpoint}:{what}", self.prefix)
    }

    fn open_set(&self) -> String {
        format!("{}:flow:open_circuits", self.prefix)
    }

    /// Admits up to `want` attempts to `endpoint` on `lane` now, or says why none may go. The
    /// admitted attempts hold their places for at most `lease` unless released sooner. A
    /// half-open circuit admits one attempt, its probe.
    pub async fn admit(
        &self,
        endpoint: &endpoint::Model,
        lane: Lane,
        want: usize,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Admission, redis::RedisError> {
        let cap = endpoint.max_in_flight.max(1);
        let cap = match lane {
            Lane::Live => cap,
            Lane::Retry | Lane::Replay => (cap + 1) / 2,
        };
        let token = Uuid::now_v7().to_string();
        let mut conn = self.conn.clone();
        let (verdict, value, count, rest): (i64, i64, i64, i64) = ADMIT_SCRIPT
            .key(self.key(endpoint.id, "circuit"))
            .key(self.key(endpoint.id, "inflight"))
            .key(self.key(endpoint.id, "rate"))
            .arg(millis(now))
            .arg(cap)
            .arg(endpoint.rate_limit_per_sec.unwrap_or(0).max(0))
            .arg(&token)
            .arg(duration_ms(lease))
            .arg(duration_ms(lease))
            .arg(want.max(1))
            .invoke_async(&mut conn)
            .await?;
        Ok(match verdict {
            0 => Admission::Admitted {
                lease: Lease {
                    endpoint: endpoint.id,
                    token,
                    count: usize::try_from(count).unwrap_or(0),
                    probe: value == 1,
                },
                rest: match rest / 1_000_000_000 {
                    2 => Some(Hold::InFlight),
                    3 => Some(Hold::RateLimited {
                        retry_in: Duration::from_millis((rest % 1_000_000_000).max(1) as u64),
                    }),
                    _ => None,
                },
            },
            1 => Admission::Held(Hold::CircuitOpen {
                until: from_millis(value),
            }),
            2 => Admission::Held(Hold::InFlight),
            _ => Admission::Held(Hold::RateLimited {
                retry_in: Duration::from_millis(value.max(1) as u64),
            }),
        })
    }

    /// Frees admitted attempts' places in the in-flight cap.
    pub async fn release(&self, lease: &Lease) -> Result<(), redis::RedisError> {
        if lease.count == 0 {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        redis::cmd("ZREM")
            .arg(self.key(lease.endpoint, "inflight"))
            .arg(lease.members().collect::<Vec<_>>())
            .query_async(&mut conn)
            .await
    }

    /// Feeds a batch's outcomes (`succeeded` and `failed` attempts) to the endpoint's circuit;
    /// `probe`: the batch was the half-open circuit's one probe.
    pub async fn record(
        &self,
        endpoint: Uuid,
        probe: bool,
        succeeded: usize,
        failed: usize,
        now: DateTime<Utc>,
    ) -> Result<CircuitChange, redis::RedisError> {
        let window_ms = duration_ms(self.circuit.window).max(WINDOW_BUCKETS);
        let mut conn = self.conn.clone();
        let (change, until, attempts, failed): (i64, i64, u64, u64) = RECORD_SCRIPT
            .key(self.key(endpoint, "circuit"))
            .key(self.key(endpoint, "window"))
            .key(self.open_set())
            .arg(millis(now))
            .arg(succeeded)
            .arg(u8::from(probe))
            .arg(window_ms / WINDOW_BUCKETS)
            .arg(WINDOW_BUCKETS)
            .arg(self.circuit.min_attempts)
            .arg(self.circuit.failure_percent)
            .arg(duration_ms(self.circuit.open))
            .arg(duration_ms(self.circuit.max_open))
            .arg(endpoint.to_string())
            .arg(failed)
            .invoke_async(&mut conn)
            .await?;
        let change = match change {
            1 => CircuitChange::Opened {
                until: from_millis(until),
                attempts,
                failed,
            },
            2 => CircuitChange::Reopened {
                until: from_millis(until),
            },
            3 => CircuitChange::Closed,
            _ => CircuitChange::Unchanged,
        };
        match change {
            CircuitChange::Unchanged => {}
            CircuitChange::Opened { .. } => {
                metrics::counter!("graphhook_circuit_transitions_total", "to" => "open")
                    .increment(1);
            }
            CircuitChange::Reopened { .. } => {
                metrics::counter!("graphhook_circuit_transitions_total", "to" => "reopen")
                    .increment(1);
            }
            CircuitChange::Closed => {
                metrics::counter!("graphhook_circuit_transitions_total", "to" => "closed")
                    .increment(1);
            }
        }
        Ok(change)
    }

    /// The endpoint's circuit now.
    pub async fn circuit(
        &self,
        endpoint: Uuid,
        now: DateTime<Utc>,
    ) -> Result<CircuitState, redis::RedisError> {
        let mut conn = self.conn.clone();
        let (state, until): (Option<String>, Option<i64>) = redis::cmd("HMGET")
            .arg(self.key(endpoint, "circuit"))
            .arg("state")
            .arg("until")
            .query_async(&mut conn)
            .await?;
        Ok(match (state.as_deref(), until) {
            (Some("open"), Some(until)) if millis(now) < until => CircuitState::Open {
                until: from_millis(until),
            },
            (Some("open" | "half_open"), _) => CircuitState::HalfOpen,
            _ => CircuitState::Closed,
        })
    }

    /// How many endpoints' circuits are not closed.
    pub async fn open_circuits(&self) -> Result<u64, redis::RedisError> {
        let mut conn = self.conn.clone();
        redis::cmd("SCARD")
            .arg(self.open_set())
            .query_async(&mut conn)
            .await
    }

    /// How many attempts are in flight to `endpoint` (leases not yet released or expired).
    pub async fn in_flight(&self, endpoint: Uuid) -> Result<u64, redis::RedisError> {
        let mut conn = self.conn.clone();
        let now_ms = Utc::now().timestamp_millis();
        redis::cmd("ZCOUNT")
            .arg(self.key(endpoint, "inflight"))
            .arg(now_ms)
            .arg("+inf")
            .query_async(&mut conn)
            .await
    }
}
