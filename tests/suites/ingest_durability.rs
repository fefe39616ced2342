//! Ingest never loses what it acknowledged: lost Redis jobs, a worker killed mid-batch,
//! Postgres down while Graph POSTs.

use std::time::Duration;

use graphhook_domain::platform::entities::inbound_batch;
use graphhook_tests::fixtures::onboarded_receiving;
use graphhook_tests::poll::poll;
use graphhook_tests::{
    client::{post_body, subscribe},
    fixtures::{TENANT, USER},
    graph::change,
    waits::{drain_until, tick_at},
};
use reqwest::Method;
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, TransactionTrait};
use serde_json::{Value, json};

#[tokio::test]
async fn an_acknowledged_batch_survives_lost_redis_keys_and_postgres_down_means_503() {
    let (app, receiver, key) = onboarded_receiving().await;
    subscribe(&app, &key, "groups", &["updated"]).await;
    change(
        &app,
        json!({"tenant": TENANT, "resource": "groups", "changeType": "updated", "count": 1}),
    )
    .await;
    // Acknowledged (stored), then Redis loses every key of the test, the job included.
    poll(
        Duration::from_secs(10),
        Duration::from_millis(20),
        || async {
            match inbound_batch::Entity::find().count(&app.db).await.unwrap() {
                0 => Err("the POST did not arrive".to_owned()),
                _ => Ok(()),
            }
        },
    )
    .await;
    app.flush_redis().await;
    app.drain_jobs().await;
    assert_eq!(receiver.count("graph.group.updated"), 0);
    // The sweeper queues it again once it is overdue.
    app.clock.advance(chrono::Duration::seconds(31));
    tick_at(&app, 1).await;
    assert_eq!(receiver.count("graph.group.updated"), 1);

    // Postgres unreachable: 503, so Graph retries.
    app.pg_proxy.cut();
    let item = json!({"value": [{"subscriptionId": "x", "changeType": "updated"}]});
    let (status, error) = post_body(&app, "/graph/notifications", item.to_string()).await;
    app.pg_proxy.restore();
    assert_eq!(
        (status, error["code"].as_str()),
        (503, Some("service_unavailable"))
    );
}

#[tokio::test]
async fn a_worker_killed_mid_batch_delivers_each_item_once() {
    let (app, receiver, key) = onboarded_receiving().await;
    let resource = format!("users/{USER}/messages");
    subscribe(&app, &key, &resource, &["created"]).await;
    change(
        &app,
        json!({"tenant": TENANT, "resource": resource, "changeType": "created", "count": 40}),
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let batch = loop {
        if let Some(batch) = inbound_batch::Entity::find().one(&app.db).await.unwrap() {
            break batch;
        }
        assert!(tokio::time::Instant::now() < deadline, "the POST arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Its job is lost, and the worker that processes it dies part way through: the batch's row
    // is held by another transaction, so the processing stops at its last statement (marking
    // the batch processed), with every item and message written but not committed.
    app.flush_redis().await;
    let blocker = app.db.begin().await.unwrap();
    blocker
        .execute_unprepared(&format!(
            "SELECT 1 FROM inbound_batches WHERE id = '{}' FOR UPDATE",
            batch.id
        ))
        .await
        .unwrap();
    let jobs = app.services.clone();
    let id = batch.id;
    let worker = tokio::spawn(async move {
        graphhook_domain::graph::ingest::process::process_batch(&jobs, id).await
    });
    poll(
        Duration::from_secs(10),
        Duration::from_millis(5),
        || async {
            let waiting = app
                .db
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DatabaseBackend::Postgres,
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
                 AND wait_event_type = 'Lock' AND query LIKE 'UPDATE \"inbound_batches\"%'",
                ))
                .await
                .unwrap()
                .unwrap()
                .try_get::<i64>("", "n")
                .unwrap();
            if waiting > 0 {
                Ok(())
            } else {
                Err("processing did not reach its last statement".to_owned())
            }
        },
    )
    .await;
    worker.abort();
    assert!(worker.await.is_err(), "killed mid-batch");
    blocker.rollback().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let done = graphhook_domain::platform::entities::message::Entity::find()
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(done, 0, "nothing of the killed processing was committed");

    // The sweeper queues the batch again; what was done is not done twice.
    app.clock.advance(chrono::Duration::seconds(31));
    tick_at(&app, 1).await;
    drain_until(&app, &receiver, "graph.message.created", 40).await;
    let mut resources: Vec<String> = receiver
        .received()
        .iter()
        .filter(|r| r.event_type() == "graph.message.created")
        .map(|r| r.json()["data"]["resource"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(resources.len(), 40);
    resources.sort();
    resources.dedup();
    assert_eq!(resources.len(), 40, "each item once");
}

#[tokio::test]
async fn while_postgres_is_down_graph_gets_503_and_its_retry_delivers() {
    let (app, receiver, key) = onboarded_receiving().await;
    subscribe(&app, &key, "groups", &["updated"]).await;
    app.pg_proxy.cut();
    change(
        &app,
        json!({"tenant": TENANT, "resource": "groups", "changeType": "updated"}),
    )
    .await;
    // Graph's attempt is answered 503 (the emulator lists every attempt with its status).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let deliveries = app.emulator_control(Method::GET, "/deliveries", None).await;
        let statuses: Vec<Value> = deliveries["attempts"]
            .as_array()
            .map(|a| a.iter().map(|a| a["status"].clone()).collect())
            .unwrap_or_default();
        if statuses.contains(&json!(503)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "Graph saw a 503: {deliveries}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.pg_proxy.restore();
    assert_eq!(receiver.count("graph.group.updated"), 0);
    // Graph retries with backoff (on the shared clock) until one attempt is stored. (The first
    // retry may still meet a pooled connection the outage broke, and get 503 again.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while receiver.count("graph.group.updated") == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a retry was delivered"
        );
        app.clock.advance(chrono::Duration::minutes(2));
        tokio::time::sleep(Duration::from_millis(200)).await;
        app.drain_jobs().await;
    }
    assert_eq!(receiver.count("graph.group.updated"), 1);
}
