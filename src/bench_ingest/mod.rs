//! `graphhook bench ingest`: drives the real Graph receiver (`POST /graph/notifications`, each
//! batch durably in Postgres before its 202) with concurrent keep-alive clients, next to a bare
//! actix-web handler that answers 202 without work, in the same run on the same machine; then
//! checks that every acknowledged batch is a row in `inbound_batches`.
//!
//! The api is measured twice in the one run, over TLS to Postgres (what sqlx negotiates by
//! default, and what managed Postgres always uses) and with `sslmode=disable`: a driver that
//! mishandles small TLS records (sqlx 0.9.0 without `TCP_NODELAY`) shows as the gap between the
//! two lines. Each server is loaded closed loop for its ceiling and, with `--rate`, open loop at
//! a fixed request rate for its latency below saturation.
//!
//! It runs in a database and a Redis key prefix of its own, dropped at the end; no worker runs,
//! so the processing jobs just wait in Redis.

mod load;
mod report;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use graphhook_api::Application;
use graphhook_domain::{
    Clock, Settings, platform::config::DatabaseSettings, platform::db,
    platform::entities::inbound_batch, platform::secret::SecretString,
};
use graphhook_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, Statement};
use secrecy::ExposeSecret;
use serde_json::json;

use crate::{
    bench::{Report, memory_mib, run_isolated},
    bench_http::{Answers, request_bytes, start_bare},
};
use load::{Pace, drive};

pub struct IngestOptions {
    pub seconds: u64,
    pub connections: usize,
    /// Also measure each server open loop at this many requests per second.
    pub rate: Option<f64>,
    pub keep_database: bool,
}

#[allow(clippy::print_stdout)] // what the command prints is its output
pub async fn ingest(mut settings: Settings, options: IngestOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.seconds > 0 && options.connections > 0,
        "--seconds and --connections must be at least 1"
    );
    anyhow::ensure!(
        options.rate.is_none_or(|r| r.is_finite() && r > 0.0),
        "--rate must be a positive number of requests per second"
    );
    settings.api.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    // Every client comes from 127.0.0.1: the per-address limit would answer most of them 429,
    // and it is the write path, not the limiter, that is measured.
    settings.ingest.max_requests_per_sec_per_address = 0;
    let does = "runs the api on a loopback port";
    run_isolated(settings, does, options.keep_database, async |settings| {
        run(settings, &options).await
    })
    .await
}

/// One way the api reaches Postgres.
struct Link {
    label: &'static str,
    url: url::Url,
}

/// The configured database URL as it is (TLS unless it says `sslmode=disable`, which is
/// dropped so that sqlx negotiates TLS as by default), and the same with `sslmode=disable`.
fn links(url: &url::Url) -> [Link; 2] {
    let with_sslmode = |mode: Option<&str>| {
        let mut url = url.clone();
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(key, value)| !(key == "sslmode" && (mode.is_some() || value == "disable")))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        if !kept.is_empty() || mode.is_some() {
            let mut query = url.query_pairs_mut();
            for (key, value) in &kept {
                query.append_pair(key, value);
            }
            if let Some(mode) = mode {
                query.append_pair("sslmode", mode);
            }
        }
        url
    };
    [
        Link {
            label: "TLS",
            url: with_sslmode(None),
        },
        Link {
            label: "no TLS",
            url: with_sslmode(Some("disable")),
        },
    ]
}

/// Whether a connection made with these settings is encrypted (Postgres' own view).
async fn tls_in_use(settings: &DatabaseSettings) -> anyhow::Result<bool> {
    let mut settings = settings.clone();
    settings.max_connections = 1;
    settings.min_connections = 0;
    let db = db::connect(&settings).await?;
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ))
        .await?;
    db.close().await.ok();
    Ok(match row {
        Some(row) => row.try_get::<bool>("", "ssl")?,
        None => false,
    })
}

/// A Graph notification collection of `items` basic change notifications, shaped like
/// graph-protocol.md §3.2's example with real GUIDs and Outlook-length message ids (~1 KB an
/// item).
fn graph_batch(items: usize) -> anyhow::Result<Vec<u8>> {
    let tenant = uuid::Uuid::new_v4();
    let subscription = uuid::Uuid::new_v4();
    let user = uuid::Uuid::new_v4();
    let value: Vec<serde_json::Value> = (0..items)
        .map(|_| {
            // An Outlook message id: AAMk… base64, about 150 characters.
            let message_id = format!(
                "AAMkAG{}{}{}{}AAA=",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple(),
            );
            json!({
                "id": format!("lsgTZMr9KwAAA{}", uuid::Uuid::new_v4().simple()),
                "subscriptionId": subscription,
                "subscriptionExpirationDateTime": "2026-03-19T22:11:09.9696658+00:00",
                "clientState": "c2VjcmV0Q2xpZW50VmFsdWUtYmVuY2htYXJr",
                "changeType": "created",
                "resource": format!("users/{user}@{tenant}/messages/{message_id}"),
                "tenantId": tenant,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Message",
                    "@odata.id": format!("Users/{user}@{tenant}/Messages/{message_id}"),
                    "@odata.etag": "W/\"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAAUWRHf\"",
                    "id": message_id,
                },
            })
        })
        .collect();
    Ok(serde_json::to_vec(&json!({ "value": value }))?)
}

/// A server's runs at one batch size.
struct Measured {
    server: String,
    closed: Answers,
    open: Option<Answers>,
}

/// Every server's runs at one batch size.
struct Batch {
    items: usize,
    body: Vec<u8>,
    bare: Option<Measured>,
    ingest: Vec<Measured>,
}

const PATH: &str = "/graph/notifications";

/// A warm-up, the closed-loop run, and with `--rate` the open-loop run; returns them and the
/// 202s of all three.
async fn measure(
    port: u16,
    server: String,
    body: &[u8],
    options: &IngestOptions,
    warm_up: Duration,
) -> anyhow::Result<(Measured, u64)> {
    let request: Arc<[u8]> = request_bytes(port, PATH, body).into();
    let run = Duration::from_secs(options.seconds);
    let warm = drive(
        port,
        request.clone(),
        options.connections,
        warm_up,
        Pace::Closed,
    )
    .await?;
    let closed = drive(
        port,
        request.clone(),
        options.connections,
        run,
        Pace::Closed,
    )
    .await?;
    let open = match options.rate {
        Some(rate) => Some(drive(port, request, options.connections, run, Pace::Open(rate)).await?),
        None => None,
    };
    let accepted = warm.accepted + closed.accepted + open.as_ref().map_or(0, |o| o.accepted);
    Ok((
        Measured {
            server,
            closed,
            open,
        },
        accepted,
    ))
}

/// The ceiling: each batch size against a bare actix-web server that answers 202 at once.
async fn measure_bare(
    settings: &Settings,
    batches: &mut [Batch],
    options: &IngestOptions,
    warm_up: Duration,
) -> anyhow::Result<()> {
    let (bare_port, bare) = start_bare(settings.api.workers, settings.ingest.max_body_bytes)?;
    let mut bare_result = Ok(());
    for batch in batches.iter_mut() {
        match measure(
            bare_port,
            "bare actix-web (202)".into(),
            &batch.body,
            options,
            warm_up,
        )
        .await
        {
            Ok((measured, _)) => batch.bare = Some(measured),
            Err(error) => {
                bare_result = Err(error);
                break;
            }
        }
    }
    bare.stop(true).await;
    bare_result
}

/// Each batch size against the real api, once per link to Postgres; returns the batches it
/// acknowledged and whether each link is encrypted.
async fn measure_ingest(
    settings: &Settings,
    batches: &mut [Batch],
    options: &IngestOptions,
    warm_up: Duration,
) -> anyhow::Result<(u64, Vec<(&'static str, bool)>)> {
    let url = url::Url::parse(settings.database.url.expose_secret())
        .context("database.url is not a URL")?;
    let mut acknowledged = 0u64;
    let mut tls = Vec::new();
    for link in links(&url) {
        let mut link_settings = settings.clone();
        link_settings.database.url = SecretString::from(link.url.to_string());
        let encrypted = tls_in_use(&link_settings.database).await?;
        tls.push((link.label, encrypted));
        let app = Application::build(link_settings, Clock::system()).await?;
        let port = app.port();
        let handle = app.handle();
        let task = tokio::spawn(app.run_until_stopped());
        let server = format!("ingest, {} (durable, then 202)", link.label);
        let mut result = Ok(());
        for batch in batches.iter_mut() {
            match measure(port, server.clone(), &batch.body, options, warm_up).await {
                Ok((measured, accepted)) => {
                    acknowledged += accepted;
                    batch.ingest.push(measured);
                }
                Err(error) => {
                    result = Err(error);
                    break;
                }
            }
        }
        handle.stop(true).await;
        task.await
            .context("api server task")?
            .context("api server")?;
        result?;
    }
    Ok((acknowledged, tls))
}

async fn run(settings: &Settings, options: &IngestOptions) -> anyhow::Result<Report> {
    let db = db::connect(&settings.database).await?;
    Migrator::up(&db, None).await.context("migrations")?;
    let warm_up = Duration::from_secs(options.seconds.div_ceil(5).min(2));
    let mut batches = Vec::new();
    for items in [1usize, 50] {
        batches.push(Batch {
            items,
            body: graph_batch(items)?,
            bare: None,
            ingest: Vec::new(),
        });
    }

    measure_bare(settings, &mut batches, options, warm_up).await?;
    let (acknowledged, tls) = measure_ingest(settings, &mut batches, options, warm_up).await?;
    // The jobs are queued just after the answers: let the last pushes land before the prefix
    // is deleted.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = inbound_batch::Entity::find().count(&db).await?;
    let (peak_rss, _) = memory_mib();
    db.close().await.ok();

    let failure = (stored != acknowledged).then(|| {
        format!(
            "{acknowledged} batches were acknowledged with 202 but inbound_batches has {stored} rows"
        )
    });
    let lines = report::lines(&mut report::Summary {
        settings,
        options,
        warm_up,
        tls: &tls,
        batches: &mut batches,
        acknowledged,
        stored,
        peak_rss,
    });
    Ok(Report { lines, failure })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_links_differ_only_in_sslmode() {
        let url =
            url::Url::parse("postgres://u@h:5432/db?application_name=x&sslmode=disable").unwrap();
        let [tls, plain] = links(&url);
        assert_eq!(
            tls.url.as_str(),
            "postgres://u@h:5432/db?application_name=x"
        );
        assert_eq!(
            plain.url.as_str(),
            "postgres://u@h:5432/db?application_name=x&sslmode=disable"
        );
        let url = url::Url::parse("postgres://u@h/db?sslmode=require").unwrap();
        let [tls, plain] = links(&url);
        assert_eq!(tls.url.as_str(), "postgres://u@h/db?sslmode=require");
        assert_eq!(plain.url.as_str(), "postgres://u@h/db?sslmode=disable");
        let url = url::Url::parse("postgres://u@h/db").unwrap();
        let [tls, plain] = links(&url);
        assert_eq!(tls.url.as_str(), "postgres://u@h/db");
        assert_eq!(plain.url.as_str(), "postgres://u@h/db?sslmode=disable");
    }
}
