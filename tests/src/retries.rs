//! Following failing deliveries through their retry schedule on the manual clock, as the
//! sweeper would: each attempt due on time, nothing sent early, exhausted after the last.

use graphhook_domain::{
    delivery::engine,
    platform::entities::{attempt, delivery::DeliveryStatus},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::{TestApp, fixtures::delivery_row};

/// Follows failing deliveries (all to endpoints answering 500) through their schedule: each
/// attempt's next one is due `delays[i]` seconds ±20 % after it, nothing is sent before, a due
/// batch is enqueued once, and after the last delay's attempt every delivery is exhausted,
/// `delays.len() + 1` scheduled attempts in all, with nothing left to send.
pub async fn fails_through(app: &TestApp, deliveries: &[uuid::Uuid], delays: &[i64]) {
    let sweep = || async {
        engine::sweep_due(&app.db, &app.clock, &app.services.queues, 100)
            .await
            .unwrap_or_else(|e| panic!("sweeping: {e}"))
    };
    let mut attempted_at = app.clock.now();
    app.drain_jobs().await;
    for (index, base) in delays.iter().enumerate() {
        let mut latest = attempted_at;
        for id in deliveries {
            let row = delivery_row(app, *id).await;
            assert_eq!(row.status, DeliveryStatus::Failed);
            assert_eq!(row.attempt_count, index as i32 + 1);
            let next = row
                .next_attempt_at
                .unwrap_or_else(|| panic!("delivery {id} has no next attempt"));
            let gap = (next - attempted_at).num_milliseconds() as f64;
            assert!(
                gap >= *base as f64 * 800.0 && gap <= *base as f64 * 1200.0,
                "attempt {} due {gap} ms after attempt {}, not {base} s ±20 %",
                index + 2,
                index + 1
            );
            latest = latest.max(next);
        }
        assert_eq!(sweep().await, 0, "not due yet");
        app.clock.set(latest);
        attempted_at = latest;
        // One job for the tenant's batch, however many of its deliveries are due.
        assert_eq!(sweep().await, 1);
        assert_eq!(sweep().await, 0, "enqueued once");
        app.drain_jobs().await;
    }
    for id in deliveries {
        let row = delivery_row(app, *id).await;
        assert_eq!(row.status, DeliveryStatus::Exhausted);
        assert_eq!(row.attempt_count, delays.len() as i32 + 1);
        assert_eq!(row.next_attempt_at, None);
        let attempts = attempt::Entity::find()
            .filter(attempt::Column::DeliveryId.eq(*id))
            .all(&app.db)
            .await
            .unwrap_or_else(|e| panic!("attempts of {id}: {e}"));
        assert_eq!(attempts.len(), delays.len() + 1);
        assert!(
            attempts
                .iter()
                .all(|a| a.status_code == Some(500) && a.trigger == "scheduled"),
            "{attempts:?}"
        );
    }
    // Nothing is left to send.
    app.clock.advance(chrono::Duration::days(3));
    assert_eq!(sweep().await, 0);
}
