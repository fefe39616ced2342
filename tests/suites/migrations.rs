use graphhook_domain::{
    platform::config::DatabaseSettings, platform::db, platform::secret::SecretString,
};
use graphhook_migrations::{Migrator, MigratorTrait};
use graphhook_tests::database;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

async fn tables(db: &DatabaseConnection) -> Vec<String> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'seaql_migrations' ORDER BY tablename",
        ))
        .await
        .expect("listing tables");
    rows.iter()
        .filter_map(|r| r.try_get::<String>("", "tablename").ok())
        .collect()
}

async fn has_column(db: &DatabaseConnection, table: &str, column: &str) -> bool {
    columns(db, table).await.iter().any(|c| c == column)
}

async fn has_table(db: &DatabaseConnection, name: &str) -> bool {
    tables(db).await.iter().any(|t| t == name)
}

/// Reverts the latest applied migration, named `what` (for the failure message).
async fn down_one(db: &DatabaseConnection, what: &str) {
    Migrator::down(db, Some(1))
        .await
        .unwrap_or_else(|e| panic!("{what} down: {e}"));
}

async fn columns(db: &DatabaseConnection, table: &str) -> Vec<String> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{table}'"),
        ))
        .await
        .expect("listing columns");
    rows.iter()
        .filter_map(|r| r.try_get::<String>("", "column_name").ok())
        .collect()
}

async fn has_index(db: &DatabaseConnection, name: &str) -> bool {
    db.query_one_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "SELECT 1 AS found FROM pg_indexes WHERE indexname = $1",
        [name.into()],
    ))
    .await
    .expect("pg_indexes")
    .is_some()
}

fn settings_for(name: &str) -> DatabaseSettings {
    DatabaseSettings {
        url: SecretString::from(database::url_for(name)),
        ..DatabaseSettings::default()
    }
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let name = database::create_empty_database().await.expect("database");
    let db = db::connect(&settings_for(&name)).await.expect("connect");
    let expected = [
        "api_keys",
        "attempts",
        "audit_log",
        "connections",
        "consents",
        "deliveries",
        "encryption_certificates",
        "endpoint_secrets",
        "endpoints",
        "graph_throttles",
        "inbound_batches",
        "inbound_items",
        "messages",
        "operational_events",
        "revoked_operator_tokens",
        "subscription_actions",
        "subscription_reconciliations",
        "subscriptions",
        "tenants",
    ];
    // The tables of the last migration that creates tables.
    let last = ["attempts", "deliveries", "messages"];

    let expected_all = expected;
    Migrator::up(&db, None).await.expect("up");
    assert_eq!(tables(&db).await, expected);
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .expect("status")
            .is_empty()
    );

    // Up again is a no-op.
    Migrator::up(&db, None).await.expect("up twice");
    assert_eq!(tables(&db).await, expected);

    for (table, column) in [
        ("endpoints", "failing_since"),
        ("subscriptions", "due_at"),
        ("tenants", "offboarded_at"),
        ("endpoints", "headers_sealed"),
        ("endpoints", "retry_schedule"),
        ("subscriptions", "connection_id"),
        ("inbound_items", "remember_until"),
        ("deliveries", "claimed_until"),
    ] {
        assert!(
            columns(&db, table).await.contains(&column.to_owned()),
            "{table}.{column}"
        );
    }
    for index in [
        "deliveries_endpoint_idx",
        "deliveries_endpoint_due_idx",
        "connections_abandoned_idx",
    ] {
        assert!(has_index(&db, index).await, "{index}");
    }
    down_one(&db, "the delivery claims").await;
    assert!(!has_column(&db, "deliveries", "claimed_until").await);
    down_one(&db, "the abandoned connections' index").await;
    assert!(!has_index(&db, "connections_abandoned_idx").await);
    assert!(has_table(&db, "connections").await);
    down_one(&db, "the dedup windows").await;
    assert!(!has_column(&db, "inbound_items", "remember_until").await);
    down_one(&db, "the connections").await;
    assert!(!has_table(&db, "connections").await);
    for column in ["connection_id", "graph_tenant_id", "requested_resource"] {
        assert!(!has_column(&db, "subscriptions", column).await);
    }
    down_one(&db, "the delivery engine").await;
    assert!(!has_index(&db, "deliveries_endpoint_due_idx").await);
    assert!(!has_column(&db, "endpoints", "retry_schedule").await);
    down_one(&db, "the encrypted endpoint headers").await;
    assert!(!has_column(&db, "endpoints", "headers_sealed").await);
    assert!(has_index(&db, "subscriptions_creating_idx").await);
    down_one(&db, "the reconciliation").await;
    assert!(!has_table(&db, "subscription_reconciliations").await);
    assert!(!has_index(&db, "subscriptions_creating_idx").await);
    down_one(&db, "the administrator actor").await;
    down_one(&db, "the token revocations").await;
    assert!(!has_table(&db, "revoked_operator_tokens").await);
    down_one(&db, "the offboarding").await;
    assert!(!has_column(&db, "tenants", "offboarded_at").await);
    down_one(&db, "the upkeep").await;
    assert!(!has_column(&db, "subscriptions", "due_at").await);
    assert!(!has_table(&db, "subscription_actions").await);
    let expected: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|t| {
            !matches!(
                *t,
                "subscription_actions"
                    | "graph_throttles"
                    | "revoked_operator_tokens"
                    | "subscription_reconciliations"
                    | "connections"
            )
        })
        .collect();
    down_one(&db, "the inbox").await;
    let without_inbox: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|t| !t.starts_with("inbound_"))
        .collect();
    assert_eq!(tables(&db).await, without_inbox);
    let expected = without_inbox;
    Migrator::down(&db, Some(1)).await.expect("one down");
    assert!(!has_index(&db, "deliveries_endpoint_idx").await);
    Migrator::down(&db, Some(1)).await.expect("two down");
    assert_eq!(tables(&db).await, expected);
    assert!(!has_column(&db, "endpoints", "failing_since").await);
    Migrator::down(&db, Some(1)).await.expect("three down");
    let without_last: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|t| !last.contains(t))
        .collect();
    assert_eq!(tables(&db).await, without_last);

    Migrator::down(&db, None).await.expect("all down");
    assert!(tables(&db).await.is_empty(), "{:?}", tables(&db).await);
    assert_eq!(
        Migrator::get_pending_migrations(&db)
            .await
            .expect("status")
            .len(),
        Migrator::migrations().len()
    );

    Migrator::up(&db, None).await.expect("up again");
    assert!(
        tables(&db)
            .await
            .contains(&"subscription_actions".to_owned())
    );
    assert_eq!(tables(&db).await, expected_all);
    db.close().await.ok();
    database::drop_test_database(&name).await.expect("cleanup");
}

#[tokio::test]
async fn the_database_is_created_when_missing_and_left_alone_when_present() {
    let name = format!(
        "gh_test_{}_{}",
        chrono::Utc::now().timestamp(),
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let settings = settings_for(&name);
    assert!(
        db::create_database_if_missing(&settings)
            .await
            .expect("create"),
        "created the first time"
    );
    assert!(
        !db::create_database_if_missing(&settings)
            .await
            .expect("create again"),
        "left alone the second time"
    );
    let db = db::connect(&settings)
        .await
        .expect("connect to the new database");
    db.ping().await.expect("ping");
    db.close().await.ok();
    database::drop_test_database(&name).await.expect("cleanup");
}

#[tokio::test]
async fn tenant_owned_rows_follow_their_tenant_and_statuses_are_checked() {
    let name = database::create_test_database().await.expect("database");
    let db = db::connect(&settings_for(&name)).await.expect("connect");
    let exec = |sql: &'static str| db.execute_unprepared(sql);
    exec("INSERT INTO tenants VALUES ('0194c1a2-7b3c-7d4e-8f90-000000000001', '11111111-1111-1111-1111-111111111111', 'Contoso', 'active', NULL, now(), now())")
        .await
        .expect("tenant");
    exec("INSERT INTO consents VALUES ('0194c1a2-7b3c-7d4e-8f90-000000000002', '0194c1a2-7b3c-7d4e-8f90-000000000001', '[\"Mail.Read\"]', now(), NULL, NULL, now())")
        .await
        .expect("consent");
    exec("INSERT INTO audit_log (id, tenant_id, actor_kind, action, created_at) VALUES ('0194c1a2-7b3c-7d4e-8f90-000000000003', '0194c1a2-7b3c-7d4e-8f90-000000000001', 'system', 'tenant.created', now())")
        .await
        .expect("audit");

    // An unknown status and a second tenant with the same Entra id are refused.
    assert!(
        exec("UPDATE tenants SET status = 'sleeping'")
            .await
            .is_err()
    );
    assert!(
        exec("INSERT INTO tenants VALUES ('0194c1a2-7b3c-7d4e-8f90-000000000009', '11111111-1111-1111-1111-111111111111', 'Again', 'active', NULL, now(), now())")
            .await
            .is_err()
    );
    // A consent for a tenant that does not exist is refused.
    assert!(
        exec("INSERT INTO consents VALUES ('0194c1a2-7b3c-7d4e-8f90-000000000004', '0194c1a2-7b3c-7d4e-8f90-00000000ffff', '[]', now(), NULL, NULL, now())")
            .await
            .is_err()
    );

    exec("DELETE FROM tenants").await.expect("delete tenant");
    let count = |table: &'static str| {
        let db = db.clone();
        async move {
            db.query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT count(*) AS n FROM {table}"),
            ))
            .await
            .ok()
            .flatten()
            .and_then(|r| r.try_get::<i64>("", "n").ok())
        }
    };
    assert_eq!(
        count("consents").await,
        Some(0),
        "consents go with their tenant"
    );
    assert_eq!(
        count("audit_log").await,
        Some(1),
        "the audit log keeps the entry"
    );
    db.close().await.ok();
    database::drop_test_database(&name).await.expect("cleanup");
}
