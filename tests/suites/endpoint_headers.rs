//! Custom endpoint headers (often `Authorization: Bearer …`) are secrets: encrypted at rest,
//! shown masked, kept when the mask is sent back, and still sent in full with every request.

use graphhook_api::Application;
use graphhook_domain::platform::ids::EndpointId;
use graphhook_tests::{Mode, Receiver, TestApp};
use graphhook_tests::{client::create_endpoint, fixtures::message};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

const MASK: &str = "********";
const TOKEN: &str = "Bearer tok-3f9a1c77e2b84d05";
/// The value that replaces [`TOKEN`].
const ROTATED: &str = "Bearer rotated-token-0001";

/// The endpoint's row as PostgreSQL holds it, every column as text (bytea as hex).
async fn stored_row(app: &TestApp, id: &str) -> String {
    let id: EndpointId = id.parse().unwrap();
    app.db
        .query_one_raw(Statement::from_sql_and_values(
            app.db.get_database_backend(),
            "SELECT row_to_json(e)::text AS row FROM endpoints e WHERE id = $1",
            [id.uuid().into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "row")
        .unwrap()
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn assert_no_plaintext(row: &str, secret: &str) {
    assert!(!row.contains(secret), "plain text in the row: {row}");
    assert!(
        !row.contains(&hex(secret)),
        "hex of the plain text in the row"
    );
    let fragment = &secret[secret.len() - 8..];
    assert!(!row.contains(fragment), "part of the plain text in the row");
}

/// Sends a test event to endpoint `id` (delivered), which arrives with `Authorization:
/// authorization`; the request, for its other headers.
async fn test_event(
    app: &TestApp,
    key: &str,
    id: &str,
    receiver: &Receiver,
    authorization: &str,
) -> graphhook_tests::receiver::Received {
    let (status, body) = app.as_tenant(key).test_endpoint(id).await;
    assert_eq!((status, &body["delivered"]), (200, &json!(true)), "{body}");
    let sent = receiver.received().pop().unwrap();
    assert_eq!(sent.header("authorization"), Some(authorization));
    sent
}

/// Delivers one message through the delivery engine; returns the request the receiver got.
async fn delivery(
    app: &TestApp,
    receiver: &Receiver,
    n: u32,
) -> graphhook_tests::receiver::Received {
    let tenant = app.tenants().await[0].id.into();
    message(app, tenant, n).await;
    app.drain_jobs().await;
    receiver
        .received()
        .into_iter()
        .rfind(|r| r.json()["data"]["n"] == json!(n))
        .unwrap()
}

/// A change of an endpoint's headers to an `Authorization` of `value` alone.
fn authorization(value: &str) -> Value {
    json!({"headers": {"Authorization": value}})
}

async fn patch(app: &TestApp, key: &str, id: &str, body: Value) -> (u16, Value) {
    app.as_tenant(key).patch_endpoint(id, body).await
}

/// A fresh app with Contoso (written directly) and an endpoint on a fresh receiver, created
/// with `headers`: the app, the API key, the receiver, and the creation's status and body.
async fn contoso_with_headers(headers: Value) -> (TestApp, String, Receiver, (u16, Value)) {
    let app = TestApp::spawn().await;
    let key = app.create_contoso().await;
    let receiver = Receiver::start(Mode::Echo);
    let created =
        create_endpoint(&app, &key, json!({"url": receiver.url, "headers": headers})).await;
    (app, key, receiver, created)
}

#[tokio::test]
async fn custom_headers_are_stored_encrypted_shown_masked_and_sent_in_full() {
    let (app, key, receiver, (status, created)) =
        contoso_with_headers(json!({"Authorization": TOKEN, "X-Team": "blue"})).await;
    assert_eq!(status, 201, "{created}");
    let masked = json!({"authorization": MASK, "x-team": MASK});
    assert_eq!(created["headers"], masked);
    let id = created["id"].as_str().unwrap().to_owned();

    let (_, shown) = app
        .as_tenant(&key)
        .get(&format!("/api/v1/endpoints/{id}"))
        .await;
    assert_eq!(shown["headers"], masked);
    let (_, list) = app.as_tenant(&key).get("/api/v1/endpoints").await;
    assert_eq!(list["data"][0]["headers"], masked);
    assert!(!list.to_string().contains(TOKEN));

    assert_no_plaintext(&stored_row(&app, &id).await, TOKEN);

    // The verification challenge and every later request carry the real values.
    let verification = receiver.received().remove(0);
    assert_eq!(verification.header("authorization"), Some(TOKEN));
    let sent = test_event(&app, &key, &id, &receiver, TOKEN).await;
    assert_eq!(sent.header("x-team"), Some("blue"));
    let delivered = delivery(&app, &receiver, 1).await;
    assert_eq!(delivered.header("authorization"), Some(TOKEN));
    assert_eq!(delivered.header("x-team"), Some("blue"));
}

#[tokio::test]
async fn the_mask_sent_back_keeps_a_header_and_a_new_value_replaces_it() {
    let (app, key, receiver, (_, created)) =
        contoso_with_headers(json!({"Authorization": TOKEN, "X-Team": "blue"})).await;
    let id = created["id"].as_str().unwrap().to_owned();

    // What a client does: GET, change one header, PATCH them all back.
    let (_, shown) = app
        .as_tenant(&key)
        .get(&format!("/api/v1/endpoints/{id}"))
        .await;
    let mut headers = shown["headers"].clone();
    headers["x-team"] = json!("green");
    let (status, patched) = patch(&app, &key, &id, json!({"headers": headers})).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        patched["headers"],
        json!({"authorization": MASK, "x-team": MASK})
    );
    let delivered = delivery(&app, &receiver, 1).await;
    assert_eq!(delivered.header("authorization"), Some(TOKEN));
    assert_eq!(delivered.header("x-team"), Some("green"));

    // A new value replaces the stored one; a header left out is removed.
    let (status, _) = patch(&app, &key, &id, authorization(ROTATED)).await;
    assert_eq!(status, 200);
    let sent = test_event(&app, &key, &id, &receiver, ROTATED).await;
    assert_eq!(sent.header("x-team"), None);
    assert_no_plaintext(&stored_row(&app, &id).await, ROTATED);

    // The mask stands for a stored value: with none to keep it is refused, not sent as is.
    let (status, error) = patch(
        &app,
        &key,
        &id,
        json!({"headers": {"Authorization": MASK, "X-New": MASK}}),
    )
    .await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["details"]["field"], "headers");
    assert_eq!(error["details"]["rule"], "mask_without_value", "{error}");
    let (status, error) = create_endpoint(
        &app,
        &key,
        json!({"url": receiver.url, "headers": {"Authorization": MASK}}),
    )
    .await;
    assert_eq!(status, 422, "{error}");
    // The refused changes changed nothing.
    test_event(&app, &key, &id, &receiver, ROTATED).await;
}

#[tokio::test]
async fn another_tenant_cannot_see_or_reuse_an_endpoints_headers() {
    let app = TestApp::spawn().await;
    let contoso = app.create_contoso().await;
    let fabrikam = app
        .create_tenant("4b3f2a1e-9c8d-4e7f-a6b5-1c2d3e4f5a6b", "Fabrikam")
        .await;
    let receiver = Receiver::start(Mode::Echo);
    let (_, created) = create_endpoint(
        &app,
        &contoso,
        json!({"url": receiver.url, "headers": {"Authorization": TOKEN}}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();

    let (status, _) = app
        .as_tenant(&fabrikam)
        .get(&format!("/api/v1/endpoints/{id}"))
        .await;
    assert_eq!(status, 404);
    let (_, list) = app.as_tenant(&fabrikam).get("/api/v1/endpoints").await;
    assert_eq!(list["data"], json!([]));
    let (status, _) = patch(&app, &fabrikam, &id, authorization("Bearer hijacked")).await;
    assert_eq!(status, 404);

    // Fabrikam's own endpoint cannot borrow Contoso's value through the mask.
    let (_, own) = create_endpoint(&app, &fabrikam, json!({"url": receiver.url})).await;
    let own_id = own["id"].as_str().unwrap();
    let (status, _) = patch(&app, &fabrikam, own_id, authorization(MASK)).await;
    assert_eq!(status, 422);

    test_event(&app, &contoso, &id, &receiver, TOKEN).await;
}

#[tokio::test]
async fn headers_stored_in_plain_text_before_the_upgrade_are_sent_and_encrypted_at_start_up() {
    let app = TestApp::spawn().await;
    let key = app.create_contoso().await;
    let receiver = Receiver::start(Mode::Echo);
    let (_, created) = create_endpoint(&app, &key, json!({"url": receiver.url})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    // The row as the previous version wrote it: headers in plain text.
    let legacy = "Bearer legacy-7d2e5b9a0c41";
    let uuid = id.parse::<EndpointId>().unwrap().uuid();
    app.db
        .execute_raw(Statement::from_sql_and_values(
            app.db.get_database_backend(),
            "UPDATE endpoints SET headers = jsonb_build_object('authorization', $1::text), \
             headers_sealed = NULL WHERE id = $2",
            [legacy.into(), uuid.into()],
        ))
        .await
        .unwrap();

    // Until the next start it is read as it is: masked, and sent.
    let (_, shown) = app
        .as_tenant(&key)
        .get(&format!("/api/v1/endpoints/{id}"))
        .await;
    assert_eq!(shown["headers"], json!({"authorization": MASK}));
    test_event(&app, &key, &id, &receiver, legacy).await;

    // Starting the api encrypts it.
    let mut settings = app.settings.clone();
    settings.api.listen = "127.0.0.1:0".parse().unwrap();
    let restarted = Application::build(settings, app.clock.clone())
        .await
        .unwrap();
    drop(restarted);
    assert_no_plaintext(&stored_row(&app, &id).await, legacy);
    test_event(&app, &key, &id, &receiver, legacy).await;
    let (_, shown) = app
        .as_tenant(&key)
        .get(&format!("/api/v1/endpoints/{id}"))
        .await;
    assert_eq!(shown["headers"], json!({"authorization": MASK}));
}

#[tokio::test]
async fn reverting_the_migration_needs_the_headers_written_back_in_plain_text_first() {
    use graphhook_domain::{delivery::endpoints::headers, delivery::webhooks::crypt::SecretBox};
    use graphhook_migrations::{ENCRYPT_ENDPOINT_HEADERS, Migrator, MigratorTrait};

    let (app, key, receiver, (_, created)) =
        contoso_with_headers(json!({"Authorization": TOKEN})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    // Down to just before the migration, as `graphhook migrate down --steps N` would.
    let applied = Migrator::get_applied_migrations(&app.db).await.unwrap();
    let position = applied
        .iter()
        .position(|m| m.name() == ENCRYPT_ENDPOINT_HEADERS)
        .expect("the migration is applied");
    let steps = u32::try_from(applied.len() - position).unwrap();

    // Reverting with encrypted headers in place would lose them: refused.
    let refused = Migrator::down(&app.db, Some(steps)).await.unwrap_err();
    assert!(
        refused.to_string().contains("graphhook migrate down"),
        "{refused}"
    );
    // What `graphhook migrate down` does first.
    let secret_box = SecretBox::new(&app.settings.webhook_encryption_key()).unwrap();
    assert_eq!(headers::unseal_all(&app.db, &secret_box).await.unwrap(), 1);
    Migrator::down(&app.db, Some(steps)).await.unwrap();
    assert!(stored_row(&app, &id).await.contains(TOKEN));

    // And up again: the next start encrypts them once more.
    Migrator::up(&app.db, None).await.unwrap();
    assert_eq!(headers::seal_plain(&app.db, &secret_box).await.unwrap(), 1);
    assert_no_plaintext(&stored_row(&app, &id).await, TOKEN);
    test_event(&app, &key, &id, &receiver, TOKEN).await;
}
