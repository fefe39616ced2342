//! A request body must arrive in time: `api.request_body_timeout_secs` after the request's head
//! arrived, a body still incomplete ends with an error (400, the connection closed), so a
//! client that stops sending half-way cannot hold a connection, and a file descriptor, for
//! ever. (actix's `client_request_timeout` covers the request head only.)

use std::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use actix_web::{
    Error, HttpMessage,
    body::MessageBody,
    dev::{Payload, ServiceRequest, ServiceResponse},
    error::PayloadError,
    middleware::Next,
    web::Bytes,
};
use futures::{Stream, future::Future};

/// The request's body, failing once `sleep` has run out.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
    within: Duration,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            let message = format!(
                "the request body did not arrive within {} seconds",
                self.within.as_secs()
            );
            let error = std::io::Error::new(std::io::ErrorKind::TimedOut, message);
            return Poll::Ready(Some(Err(PayloadError::Io(error))));
        }
        Poll::Pending
    }
}

/// The middleware: wraps the body of a request that has one in a [`Deadline`].
pub async fn middleware(
    within: Duration,
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let inner = req.take_payload();
    let timed = Deadline {
        inner,
        sleep: Box::pin(tokio::time::sleep(within)),
        within,
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(timed),
    });
    next.call(req).await
}
