//! Starting with PostgreSQL or Redis unreachable fails within the connect timeouts, with an
//! error that names the server's URL (password masked), the cause and the README section,
//! for the api, the worker and `migrate`'s database creation alike.

use std::{future::Future, time::Duration};

use graphhook_api::Application;
use graphhook_domain::{Clock, Mode, Settings, platform::db, platform::secret::SecretString};
use graphhook_tests::{TcpProxy, database};
use graphhook_worker::WorkerProcess;

/// Development settings on ports of their own, with `database` and `redis` URLs.
fn settings(database: &str, redis: &str) -> Settings {
    let mut settings = Settings {
        mode: Mode::Development,
        ..Settings::default()
    };
    settings.database.url = SecretString::from(database);
    settings.redis.url = SecretString::from(redis);
    settings.redis.key_prefix = format!("t_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    settings.api.listen = "127.0.0.1:0".parse().unwrap();
    settings.worker.listen = "127.0.0.1:0".parse().unwrap();
    settings
}

fn redis_url() -> String {
    std::env::var("GRAPHHOOK_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The error text of a start that must fail. The timeout only keeps a hang from hanging the
/// suite; it measures nothing.
async fn failure<T>(start: impl Future<Output = anyhow::Result<T>>) -> String {
    match tokio::time::timeout(Duration::from_secs(20), start).await {
        Err(_) => panic!("starting hung instead of failing"),
        Ok(Ok(_)) => panic!("starting succeeded against an unreachable server"),
        Ok(Err(error)) => format!("{error:#}"),
    }
}

fn assert_names(text: &str, url: &str, cause: &str) {
    assert!(text.contains(url), "the masked URL {url} in: {text}");
    assert!(text.contains(cause), "the cause '{cause}' in: {text}");
    assert!(
        text.contains("\"Start-up errors\" in the README"),
        "the README section in: {text}"
    );
    assert!(!text.contains("hunter2"), "no password in: {text}");
}

/// A proxy in front of the server at `server` (its port defaulting to `port`) that accepts
/// connections and never answers.
async fn stalled_proxy(server: &url::Url, port: u16) -> TcpProxy {
    let upstream = tokio::net::lookup_host((
        server.host_str().unwrap_or("127.0.0.1"),
        server.port().unwrap_or(port),
    ))
    .await
    .unwrap()
    .next()
    .unwrap();
    let proxy = TcpProxy::start(upstream).await.unwrap();
    proxy.stall();
    proxy
}

#[tokio::test]
async fn the_api_and_the_worker_name_an_unreachable_postgres_and_why() {
    let unreachable = "postgres://graphhook:hunter2@127.0.0.1:1/graphhook";
    let masked = "postgres://graphhook:***@127.0.0.1:1/graphhook";
    let text = failure(Application::build(
        settings(unreachable, &redis_url()),
        Clock::system(),
    ))
    .await;
    assert_names(&text, masked, "connection refused");

    let text = failure(WorkerProcess::start(
        settings(unreachable, &redis_url()),
        Clock::system(),
    ))
    .await;
    assert_names(&text, masked, "connection refused");

    // `graphhook migrate up` and `dev` create the database first: the same, not 30 s of retries.
    let mut unreachable_settings = settings(unreachable, &redis_url()).database;
    unreachable_settings.connect_timeout_ms = 1_000;
    let text = failure(async {
        db::create_database_if_missing(&unreachable_settings)
            .await
            .map_err(anyhow::Error::from)
    })
    .await;
    assert_names(
        &text,
        "postgres://graphhook:***@127.0.0.1:1/postgres",
        "connection refused",
    );
}

#[tokio::test]
async fn a_postgres_that_never_answers_fails_after_the_connect_timeout() {
    let proxy = stalled_proxy(&database::server_url(), 5432).await;
    let url = format!(
        "postgres://graphhook:hunter2@127.0.0.1:{}/graphhook",
        proxy.addr().port()
    );
    let mut settings = settings(&url, &redis_url());
    settings.database.connect_timeout_ms = 1_000;
    let text = failure(Application::build(settings, Clock::system())).await;
    assert_names(
        &text,
        &format!(
            "postgres://graphhook:***@127.0.0.1:{}/graphhook",
            proxy.addr().port()
        ),
        "no answer within 1000 ms",
    );
}

#[tokio::test]
async fn a_postgres_that_refuses_the_credentials_or_lacks_the_database_says_so() {
    let mut server = database::server_url();
    server.set_path("/graphhook_no_such_database");
    let text = failure(Application::build(
        settings(server.as_str(), &redis_url()),
        Clock::system(),
    ))
    .await;
    assert!(
        text.contains("the database does not exist (`graphhook migrate up` creates it)"),
        "{text}"
    );

    let mut stranger = database::server_url();
    stranger.set_path("/postgres");
    stranger.set_username("graphhook_no_such_role").unwrap();
    stranger.set_password(Some("hunter2")).unwrap();
    let text = failure(Application::build(
        settings(stranger.as_str(), &redis_url()),
        Clock::system(),
    ))
    .await;
    assert!(text.contains("refused the credentials"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[tokio::test]
async fn the_api_and_the_worker_name_an_unreachable_redis_and_why() {
    let name = database::create_test_database().await.unwrap();
    let postgres = database::url_for(&name);
    let unreachable = "redis://:hunter2@127.0.0.1:1/0";
    let masked = "redis://:***@127.0.0.1:1/0";

    let text = failure(Application::build(
        settings(&postgres, unreachable),
        Clock::system(),
    ))
    .await;
    assert_names(&text, masked, "connection refused");
    let text = failure(WorkerProcess::start(
        settings(&postgres, unreachable),
        Clock::system(),
    ))
    .await;
    assert_names(&text, masked, "connection refused");

    // A Redis that accepts the connection and never answers.
    let proxy = stalled_proxy(&url::Url::parse(&redis_url()).unwrap(), 6379).await;
    let mut stalled = settings(
        &postgres,
        &format!("redis://:hunter2@127.0.0.1:{}", proxy.addr().port()),
    );
    stalled.redis.connect_timeout_ms = 1_000;
    let text = failure(Application::build(stalled, Clock::system())).await;
    assert_names(
        &text,
        &format!("redis://:***@127.0.0.1:{}", proxy.addr().port()),
        "no answer within 1000 ms",
    );
    database::drop_test_database(&name).await.unwrap();
}
