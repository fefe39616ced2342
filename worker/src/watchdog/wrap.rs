//! The three places a lane is watched from, wrapped around what apalis already runs:
//!
//! - [`LaneConnection`], the lane's Redis connection: every answered command (fetch, heartbeat,
//!   lease renewal, acknowledgement) is progress of the lane's fetch loop. apalis-redis drives all
//!   of them from one state machine, so when none is answered the loop is stuck, whatever it is
//!   stuck on. apalis keeps no such record we could read without Redis itself;
//! - [`Watched`], the lane's backend: notes each job handed out, and is where the watchdog ends a
//!   stuck worker. Failing a poll is the one way to end an apalis worker whose fetch never
//!   returns: the monitor then drops it (and the hung fetch) and starts another under a new name;
//! - [`TrackJobsLayer`], inside the lane's concurrency limit: which jobs hold a slot, since when,
//!   so a lane busy with long jobs is told apart from a lane that stopped taking work.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use apalis::prelude::{Layer, Service};
use apalis_core::{
    backend::{Backend, BackendConfig, WireFormatBackend},
    worker::context::WorkerContext,
};
use futures::future::BoxFuture;
use redis::{Cmd, Pipeline, RedisFuture, Value, aio::ConnectionLike};

use super::lane::{LaneState, Verdict};

/// The lane's Redis connection: the process's multiplexed connection, noting each answer.
#[derive(Clone)]
pub struct LaneConnection {
    inner: redis::aio::ConnectionManager,
    lane: Arc<LaneState>,
}

impl LaneConnection {
    pub(crate) fn new(inner: redis::aio::ConnectionManager, lane: Arc<LaneState>) -> Self {
        Self { inner, lane }
    }
}

impl ConnectionLike for LaneConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let answer = self.inner.req_packed_command(cmd).await;
            if answer.is_ok() {
                self.lane.answered();
            }
            answer
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let answer = self
                .inner
                .req_packed_commands(pipeline, offset, count)
                .await;
            if answer.is_ok() {
                self.lane.answered();
            }
            answer
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

/// Why a watched backend failed.
#[derive(Debug, thiserror::Error)]
pub enum WatchedError<E> {
    #[error(transparent)]
    Backend(E),
    #[error("the watchdog restarts the {0} lane: it made no progress while work waited")]
    Stalled(&'static str),
}

/// A lane's backend, watched (see the module docs).
pub struct Watched<B> {
    inner: B,
    lane: Arc<LaneState>,
    generation: u64,
}

impl<B> Watched<B> {
    /// `inner` runs the lane as its worker named `worker`.
    pub(crate) fn new(inner: B, lane: Arc<LaneState>, worker: &str) -> Self {
        let generation = lane.begin(worker);
        Self {
            inner,
            lane,
            generation,
        }
    }
}

impl<B: Backend> Backend for Watched<B> {
    type Task = B::Task;
    type Error = WatchedError<B::Error>;

    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        match self.lane.verdict(self.generation, cx.waker()) {
            Verdict::Stop => Poll::Ready(Err(WatchedError::Stalled(self.lane.queue))),
            Verdict::Hang => Poll::Pending,
            Verdict::Run | Verdict::NoFetch => self
                .inner
                .poll_ready(cx, worker)
                .map_err(WatchedError::Backend),
        }
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, Self::Error>>> {
        match self.lane.verdict(self.generation, cx.waker()) {
            Verdict::Stop => Poll::Ready(Some(Err(WatchedError::Stalled(self.lane.queue)))),
            Verdict::Hang | Verdict::NoFetch => Poll::Pending,
            Verdict::Run => match self.inner.poll_next(cx, worker) {
                Poll::Ready(Some(Ok(task))) => {
                    self.lane.job_taken();
                    Poll::Ready(Some(Ok(task)))
                }
                Poll::Ready(Some(Err(error))) => {
                    Poll::Ready(Some(Err(WatchedError::Backend(error))))
                }
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        self.inner
            .poll_close(cx, worker)
            .map_err(WatchedError::Backend)
    }
}

impl<B: BackendConfig> BackendConfig for Watched<B> {
    type Args = B::Args;
    type Id = B::Id;
    type Kind = B::Kind;
    type Config = B::Config;
    type Layer = B::Layer;

    fn config(&self) -> &Self::Config {
        self.inner.config()
    }

    fn middleware(&mut self, worker: &mut WorkerContext) -> Self::Layer {
        self.inner.middleware(worker)
    }
}

impl<B: WireFormatBackend> WireFormatBackend for Watched<B> {
    type Codec = B::Codec;
    type Compact = B::Compact;

    fn codec(&self) -> &Self::Codec {
        self.inner.codec()
    }
}

/// Records which jobs hold one of the lane's slots (see the module docs).
#[derive(Clone)]
pub struct TrackJobsLayer {
    lane: Arc<LaneState>,
}

impl TrackJobsLayer {
    pub(crate) fn new(lane: Arc<LaneState>) -> Self {
        Self { lane }
    }
}

impl<S> Layer<S> for TrackJobsLayer {
    type Service = TrackJobs<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TrackJobs {
            inner,
            lane: self.lane.clone(),
        }
    }
}

#[derive(Clone)]
pub struct TrackJobs<S> {
    inner: S,
    lane: Arc<LaneState>,
}

impl<S, Request> Service<Request> for TrackJobs<S>
where
    S: Service<Request>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let guard = self.lane.job_started();
        let job = self.inner.call(request);
        Box::pin(async move {
            let _holds_a_slot = guard;
            job.await
        })
    }
}
