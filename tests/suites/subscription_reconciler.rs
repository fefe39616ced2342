//! No Graph subscription outlives its row: a create shows as `creating` while Graph works and
//! deleting it meanwhile leaves nothing at Graph; a create that loses Postgres right after
//! Graph's 201 leaves nothing behind once the reconciler ran; and the reconciler deletes only
//! this deployment's subscriptions that no row holds and that are older than an upkeep lease,
//! its delegated connections' (work and personal) with the connection's own token.

use graphhook_tests::fixtures::onboarded_contoso;
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Duration;
use graphhook_domain::{
    platform::entities::subscription::{self, SubscriptionStatus},
    platform::ids::SubscriptionId,
};
use graphhook_emulator::config::DEFAULT_TENANT_ID;
use graphhook_tests::connections::{ALICE, CONTOSO_USER, connect, subscribe_through};
use graphhook_tests::errors::assert_code;
use graphhook_tests::{TestApp, receiver::serve_locally};
use graphhook_tests::{
    graph::consent,
    graph::{
        held_at_graph, held_ids_at_graph, mailbox, seed_at_graph, subscription_row,
        subscription_rows,
    },
    waits::tick,
};
use reqwest::Method;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::{Notify, mpsc};

fn past_the_lease(app: &TestApp) -> Duration {
    Duration::seconds(app.settings.subscriptions.upkeep_lease_secs as i64 + 60)
}

/// Graph's side of the validation handshake, answered by the test: it echoes the token, and
/// holds the first lifecycle URL's handshake (the last step before Graph's 201) until the test
/// says go.
struct Handshakes {
    arrived: mpsc::UnboundedReceiver<()>,
    go: Arc<Notify>,
}

struct Gate {
    armed: AtomicBool,
    arrived: mpsc::UnboundedSender<()>,
    go: Arc<Notify>,
}

async fn answer(req: HttpRequest, gate: web::Data<Gate>) -> HttpResponse {
    let token = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(name, _)| name == "validationToken")
        .map(|(_, value)| value.into_owned());
    let Some(token) = token else {
        return HttpResponse::Accepted().finish();
    };
    if req.path() == "/graph/lifecycle" && gate.armed.swap(false, Ordering::SeqCst) {
        let _ = gate.arrived.send(());
        gate.go.notified().await;
    }
    HttpResponse::Ok().content_type("text/plain").body(token)
}

impl Handshakes {
    /// Graph's side of the handshakes, and an app whose public URLs lead to it, with Contoso
    /// consented at Graph and written directly: the handshakes, the app and Contoso's API key.
    async fn with_an_app() -> (Self, TestApp, String) {
        let (arrived, arrived_rx) = mpsc::unbounded_channel();
        let go = Arc::new(Notify::new());
        let gate = web::Data::new(Gate {
            armed: AtomicBool::new(true),
            arrived,
            go: go.clone(),
        });
        let base = format!("http://127.0.0.1:{}", serve_locally(gate, answer));
        let app = TestApp::spawn_with(move |s| s.api.public_base_url = base).await;
        consent(&app, DEFAULT_TENANT_ID, None).await;
        let key = app.create_tenant(DEFAULT_TENANT_ID, "Contoso").await;
        let handshakes = Self {
            arrived: arrived_rx,
            go,
        };
        (handshakes, app, key)
    }

    /// Once Graph holds its last handshake, runs `during`, then lets Graph answer: what
    /// `during` returned.
    async fn while_held<T>(&mut self, during: impl std::future::Future<Output = T>) -> T {
        self.arrived.recv().await;
        let done = during.await;
        self.go.notify_one();
        done
    }
}

#[tokio::test]
async fn a_create_that_loses_postgres_after_graphs_201_leaves_no_orphan_once_reconciled() {
    let (mut handshakes, app, key) = Handshakes::with_an_app().await;
    let contoso = app.as_tenant(&key);
    let request = contoso.try_subscribe("users", &["updated"]);
    // Graph has validated both URLs and is about to answer 201: Postgres goes away.
    let cut = handshakes.while_held(async { app.pg_proxy.cut() });
    let ((status, body), ()) = tokio::join!(request, cut);
    assert_eq!(status, 503, "{body}");
    app.pg_proxy.restore();
    // Graph's subscription was deleted at once; the row could not be, and holds its slot.
    assert_eq!(held_at_graph(&app).await, Vec::<Value>::new());
    let stuck = subscription_rows(&app).await;
    assert_eq!(stuck.len(), 1);
    assert_eq!(stuck[0].status, SubscriptionStatus::Creating);
    // A create may take seconds: within a lease the row is left alone.
    tick(&app).await;
    assert_eq!(subscription_rows(&app).await, stuck);

    app.clock.advance(past_the_lease(&app));
    tick(&app).await;
    assert_eq!(
        held_at_graph(&app).await,
        Vec::<Value>::new(),
        "no orphan at Graph"
    );
    assert_eq!(
        subscription_rows(&app).await,
        Vec::new(),
        "no row stuck in creating"
    );

    // The tenant can create it now.
    let (status, body) = app
        .as_tenant(&key)
        .try_subscribe("users", &["updated"])
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn a_create_in_progress_shows_as_creating_and_deleting_it_meanwhile_leaves_nothing() {
    let (mut handshakes, app, key) = Handshakes::with_an_app().await;
    let contoso = app.as_tenant(&key);
    let request = contoso.try_subscribe("users", &["updated"]);
    let meanwhile = handshakes.while_held(async {
        let list = contoso.get_body("/api/v1/subscriptions").await;
        assert_eq!(list["data"][0]["status"], "creating", "{list}");
        let id = list["data"][0]["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/subscriptions/{id}");
        assert_eq!(contoso.status_of(Method::DELETE, &path).await, 204);
        path
    });
    let ((status, body), path) = tokio::join!(request, meanwhile);
    assert_code(status, &body, 409, "conflict");
    assert_eq!(held_at_graph(&app).await, Vec::<Value>::new());
    assert_eq!(contoso.get_status(&path).await, 404);
}

#[tokio::test]
async fn the_reconciler_deletes_only_this_deployments_old_subscriptions_that_no_row_holds() {
    let (app, key) = onboarded_contoso().await;
    let ours = app.url("/graph/notifications");
    let staging = "https://staging.example.com/graph/notifications";

    // Held by a row.
    let (status, held) = app
        .as_tenant(&key)
        .try_subscribe("users", &["updated"])
        .await;
    assert_eq!(status, 201, "{held}");
    // Ours, and no row holds it.
    let orphan = seed_at_graph(&app, "groups", "updated", &ours, Some("lost")).await;
    // Another deployment's (staging shares the app registration).
    let foreign = seed_at_graph(
        &app,
        &format!("users/{}/messages", mailbox(1)),
        "created",
        staging,
        None,
    )
    .await;
    // A create that died after Graph's 201: its row is still `creating`.
    let state = "state-of-a-create-that-died";
    let stuck_graph = seed_at_graph(
        &app,
        &format!("users/{}/events", mailbox(2)),
        "created",
        &ours,
        Some(state),
    )
    .await;
    let tenant = app.tenants().await[0].id;
    let stuck_row = SubscriptionId::new();
    let now = app.clock.now();
    subscription::ActiveModel {
        id: Set(stuck_row.uuid()),
        ..subscription::ActiveModel::creating(
            tenant,
            format!("users/{}/events", mailbox(2)),
            "event".into(),
            "created".into(),
            Sha256::digest(state.as_bytes()).to_vec(),
            now,
        )
    }
    .insert(&app.db)
    .await
    .unwrap();

    app.clock.advance(past_the_lease(&app));
    // Ours, without a row, but younger than a lease: a create may still be completing it.
    let young = seed_at_graph(&app, "drives/b!drive1/root", "updated", &ours, None).await;
    tick(&app).await;

    let remaining = held_ids_at_graph(&app).await;
    let held_graph_id = subscription_row(&app, held["id"].as_str().unwrap())
        .await
        .graph_id
        .unwrap();
    for kept in [&held_graph_id, &foreign, &young] {
        assert!(remaining.contains(kept), "{kept} kept: {remaining:?}");
    }
    for gone in [&orphan, &stuck_graph] {
        assert!(!remaining.contains(gone), "{gone} deleted: {remaining:?}");
    }
    assert_eq!(remaining.len(), 3, "{remaining:?}");

    let left = subscription_rows(&app).await;
    assert_eq!(left.len(), 1, "the stuck row is gone: {left:?}");
    assert_eq!(left[0].status, SubscriptionStatus::Active);
    let orphans = app.audit_entries("subscription.orphan_deleted").await;
    assert_eq!(orphans.len(), 2, "{orphans:?}");
    let abandoned = app.audit_entries("subscription.creation_abandoned").await;
    assert_eq!(abandoned.len(), 1, "{abandoned:?}");
}

#[tokio::test]
async fn the_reconciler_deletes_a_connections_orphans_with_its_users_token() {
    let (app, key) = onboarded_contoso().await;
    let work = connect(&app, &key, "work", &["message", "event"], CONTOSO_USER).await;
    let personal = connect(&app, &key, "personal", &["drive_item"], ALICE).await;
    let subscribe = |connection: String, resource: &'static str, change: &'static str| {
        let (app, key) = (&app, &key);
        async move {
            let (status, created) =
                subscribe_through(app, key, &connection, resource, &[change]).await;
            assert_eq!(status, 201, "{created}");
            subscription_row(app, created["id"].as_str().unwrap()).await
        }
    };
    let mail = subscribe(work.clone(), "me/messages", "created").await;
    let drive = subscribe(personal.clone(), "me/drive/root", "updated").await;
    let events = subscribe(work.clone(), "me/events", "created").await;
    // Two rows are lost, as a create that died after Graph's 201 leaves its Graph subscription:
    // live at Graph (the personal one in the consumers tenant), held by no row, and reachable
    // only with the user's token.
    for lost in [&mail, &drive] {
        subscription::Entity::delete_by_id(lost.id)
            .exec(&app.db)
            .await
            .unwrap();
    }

    app.clock.advance(past_the_lease(&app));
    tick(&app).await;

    let remaining = held_ids_at_graph(&app).await;
    assert_eq!(
        remaining,
        vec![events.graph_id.clone().unwrap()],
        "only the subscription a row holds is left"
    );
    let orphans = app.audit_entries("subscription.orphan_deleted").await;
    assert_eq!(orphans.len(), 2, "{orphans:?}");
    // Graph's duplicate rule no longer stands in the way.
    subscribe(work, "me/messages", "created").await;
    subscribe(personal, "me/drive/root", "updated").await;
}
