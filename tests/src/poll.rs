//! The one polling wait every deadline loop of the tests uses, below the waits that need a
//! running app ([`crate::waits`]) and the receivers ([`crate::receiver`]).

use std::time::Duration;

/// Runs `check` every `every` until it answers `Ok` (whose value it returns), for at most
/// `within`; past that, fails the test with its last `Err`, which says how far things got.
pub async fn poll<T, F, Fut>(within: Duration, every: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) => assert!(tokio::time::Instant::now() < deadline, "{last}"),
        }
        tokio::time::sleep(every).await;
    }
}
