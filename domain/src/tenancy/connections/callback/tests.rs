//! [`super::may_connect`], one test per branch: who may complete which connection.

use chrono::Utc;
use uuid::Uuid;

use super::{CallbackError, may_connect};
use crate::{
    graph::microsoft::delegated::CONSUMERS_TENANT,
    platform::entities::connection::{self, Account, ConnectionStatus},
    tenancy::onboarding::state::Person,
};

const ORGANIZATION: Uuid = Uuid::from_u128(0x0a);
const OTHER_ORGANIZATION: Uuid = Uuid::from_u128(0x0b);

fn pending(account: Account, user_before: Option<(Uuid, &str)>) -> connection::Model {
    let now = Utc::now();
    connection::Model {
        id: Uuid::now_v7(),
        tenant_id: Uuid::now_v7(),
        account,
        status: ConnectionStatus::Pending,
        scopes: "Group.Read.All".into(),
        granted_scopes: None,
        user_object_id: user_before.map(|(oid, _)| oid),
        user_tenant_id: None,
        username: user_before.map(|(_, name)| name.to_owned()),
        display_name: None,
        refresh_token: None,
        access_token: None,
        access_expires_at: None,
        refreshed_at: None,
        auth_state_hash: None,
        auth_verifier: None,
        auth_nonce: None,
        auth_expires_at: None,
        login_hint: None,
        last_error: None,
        created_at: now,
        updated_at: now,
        connected_at: None,
    }
}

fn person(tid: Uuid, oid: Uuid) -> Person {
    Person {
        tid,
        oid,
        name: None,
        username: Some("megan@example.test".into()),
    }
}

#[test]
fn a_work_user_of_the_organization_may_connect_a_work_connection() {
    let result = may_connect(
        &pending(Account::Work, None),
        ORGANIZATION,
        &person(ORGANIZATION, Uuid::now_v7()),
    );
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn a_personal_account_may_connect_a_personal_connection() {
    let result = may_connect(
        &pending(Account::Personal, None),
        ORGANIZATION,
        &person(CONSUMERS_TENANT, Uuid::now_v7()),
    );
    assert!(result.is_ok(), "{result:?}");
}

#[test]
fn a_work_account_is_refused_for_a_personal_connection() {
    let result = may_connect(
        &pending(Account::Personal, None),
        ORGANIZATION,
        &person(ORGANIZATION, Uuid::now_v7()),
    );
    assert!(
        matches!(result, Err(CallbackError::NotPersonal(_))),
        "{result:?}"
    );
}

#[test]
fn a_personal_account_is_refused_for_a_work_connection() {
    let result = may_connect(
        &pending(Account::Work, None),
        ORGANIZATION,
        &person(CONSUMERS_TENANT, Uuid::now_v7()),
    );
    assert!(
        matches!(result, Err(CallbackError::NotWork(_))),
        "{result:?}"
    );
}

#[test]
fn a_user_of_another_organization_is_refused_for_a_work_connection() {
    let result = may_connect(
        &pending(Account::Work, None),
        ORGANIZATION,
        &person(OTHER_ORGANIZATION, Uuid::now_v7()),
    );
    assert!(
        matches!(result, Err(CallbackError::OtherOrganization(_))),
        "{result:?}"
    );
}

#[test]
fn a_reconnection_takes_the_same_user_and_names_the_one_expected() {
    let before = Uuid::now_v7();
    let connection = pending(Account::Work, Some((before, "adele@example.test")));
    assert!(may_connect(&connection, ORGANIZATION, &person(ORGANIZATION, before)).is_ok());
    let result = may_connect(
        &connection,
        ORGANIZATION,
        &person(ORGANIZATION, Uuid::now_v7()),
    );
    match result {
        Err(CallbackError::OtherUser(_, expected)) => assert_eq!(expected, "adele@example.test"),
        other => panic!("expected OtherUser, got {other:?}"),
    }
}

#[test]
fn a_reconnection_without_a_known_username_names_the_expected_user_by_id() {
    let before = Uuid::now_v7();
    let mut connection = pending(Account::Personal, Some((before, "")));
    connection.username = None;
    let result = may_connect(
        &connection,
        ORGANIZATION,
        &person(CONSUMERS_TENANT, Uuid::now_v7()),
    );
    match result {
        Err(CallbackError::OtherUser(_, expected)) => assert_eq!(expected, before.to_string()),
        other => panic!("expected OtherUser, got {other:?}"),
    }
}
