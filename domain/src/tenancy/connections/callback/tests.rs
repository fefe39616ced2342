//! [`super::may_connect`], every branch: who may complete which connection.

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

/// [`may_connect`] for a user of the organization `tid`, never seen before, completing
/// `connection` of [`ORGANIZATION`].
fn new_user_of(tid: Uuid, connection: &connection::Model) -> Result<(), CallbackError> {
    may_connect(connection, ORGANIZATION, &person(tid, Uuid::now_v7()))
}

#[test]
fn a_new_connection_takes_a_user_of_its_kind_of_account_and_of_the_organization() {
    type Verdict = fn(&Result<(), CallbackError>) -> bool;
    // The connection's account, the organization of the user who signs in, what is answered.
    let cases: [(Account, Uuid, Verdict); 5] = [
        (Account::Work, ORGANIZATION, Result::is_ok),
        (Account::Personal, CONSUMERS_TENANT, Result::is_ok),
        (Account::Personal, ORGANIZATION, |result| {
            matches!(result, Err(CallbackError::NotPersonal(_)))
        }),
        (Account::Work, CONSUMERS_TENANT, |result| {
            matches!(result, Err(CallbackError::NotWork(_)))
        }),
        (Account::Work, OTHER_ORGANIZATION, |result| {
            matches!(result, Err(CallbackError::OtherOrganization(_)))
        }),
    ];
    for (account, tid, verdict) in cases {
        let result = new_user_of(tid, &pending(account, None));
        assert!(
            verdict(&result),
            "{account:?} connection, user of {tid}: {result:?}"
        );
    }
}

#[test]
fn a_reconnection_takes_the_same_user_and_names_the_one_expected() {
    let before = Uuid::now_v7();
    let connection = pending(Account::Work, Some((before, "adele@example.test")));
    assert!(may_connect(&connection, ORGANIZATION, &person(ORGANIZATION, before)).is_ok());
    match new_user_of(ORGANIZATION, &connection) {
        Err(CallbackError::OtherUser(_, expected)) => assert_eq!(expected, "adele@example.test"),
        other => panic!("expected OtherUser, got {other:?}"),
    }
}

#[test]
fn a_reconnection_without_a_known_username_names_the_expected_user_by_id() {
    let before = Uuid::now_v7();
    let mut connection = pending(Account::Personal, Some((before, "")));
    connection.username = None;
    match new_user_of(CONSUMERS_TENANT, &connection) {
        Err(CallbackError::OtherUser(_, expected)) => assert_eq!(expected, before.to_string()),
        other => panic!("expected OtherUser, got {other:?}"),
    }
}
