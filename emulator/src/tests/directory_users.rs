//! Tenants' users (the control API and the seeded defaults) and how their directory roles reach
//! the ID token.

use reqwest::Method;
use serde_json::{Value, json};

use super::{harness::*, oidc_client::*};
use crate::{
    config::UserConfig,
    directory_roles::{
        CLOUD_APPLICATION_ADMINISTRATOR, GLOBAL_ADMINISTRATOR, PRIVILEGED_ROLE_ADMINISTRATOR,
    },
};

#[actix_web::test]
async fn a_user_added_through_the_control_api_can_sign_in_with_their_roles() {
    let emu = Emu::spawn().await;
    let path = format!("/tenants/{NEW_TENANT}/users");
    let body = json!({
        "user_principal_name": "pra@fabrikam.onmicrosoft.com",
        "display_name": "Fabrikam Role Admin",
        "roles": [PRIVILEGED_ROLE_ADMINISTRATOR],
    });
    let response = emu.control(Method::POST, &path, Some(body.clone())).await;
    assert_eq!(response.status().as_u16(), 201);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["userPrincipalName"], "pra@fabrikam.onmicrosoft.com");
    assert_eq!(user["roles"], json!([PRIVILEGED_ROLE_ADMINISTRATOR]));
    let oid = user["id"].as_str().unwrap().to_owned();

    assert_eq!(
        emu.control_status(Method::POST, &path, Some(body.clone()))
            .await,
        400
    );
    assert_eq!(
        emu.control_status(
            Method::POST,
            "/tenants/0f0f0f0f-0000-4000-8000-000000000000/users",
            Some(body)
        )
        .await,
        404
    );

    // Named by object id.
    let code = code_for(&emu, &oid, NEW_TENANT).await;
    let body = tokens(redeem(&emu, NEW_TENANT, &code, &[]).await).await;
    let claims = verified_id_token(&emu, body["id_token"].as_str().unwrap(), NEW_TENANT).await;
    assert_eq!(claims["oid"], oid);
    assert_eq!(claims["tid"], NEW_TENANT);
    assert!(wids(&claims).contains(&PRIVILEGED_ROLE_ADMINISTRATOR.to_string()));
}

#[actix_web::test]
async fn every_tenant_starts_with_three_users_unless_its_config_lists_its_own() {
    let emu = Emu::spawn_with(|c| {
        c.tenants[1].users = Some(vec![UserConfig {
            id: None,
            user_principal_name: "ceo@fabrikam.onmicrosoft.com".into(),
            display_name: "Fabrikam CEO".into(),
            roles: vec![GLOBAL_ADMINISTRATOR],
        }]);
    })
    .await;
    let created = emu
        .control(
            Method::POST,
            "/tenants",
            Some(json!({"domain": "northwind.onmicrosoft.com", "display_name": "Northwind"})),
        )
        .await;
    assert_eq!(created.status().as_u16(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["users"].as_array().unwrap().len(), 3);

    let tenants = emu.control_json(Method::GET, "/tenants", None).await;
    let users_of = |domain: &str| -> Vec<(String, String, Value)> {
        tenants
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["domain"] == domain)
            .unwrap()["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["userPrincipalName"].as_str().unwrap().to_owned(),
                    u["displayName"].as_str().unwrap().to_owned(),
                    u["roles"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        users_of("northwind.onmicrosoft.com"),
        [
            (
                "admin@northwind.onmicrosoft.com".to_owned(),
                "Northwind Admin".to_owned(),
                json!([GLOBAL_ADMINISTRATOR])
            ),
            (
                "user@northwind.onmicrosoft.com".to_owned(),
                "Northwind User".to_owned(),
                json!([])
            ),
            (
                "appadmin@northwind.onmicrosoft.com".to_owned(),
                "Northwind App Admin".to_owned(),
                json!([CLOUD_APPLICATION_ADMINISTRATOR])
            ),
        ]
    );
    // Contoso's defaults and its mailbox user, Adele Vance, last.
    let contoso = users_of("contoso.onmicrosoft.com");
    assert_eq!(contoso.len(), 4);
    assert_eq!(contoso[3].0, "adelev@contoso.onmicrosoft.com");
    let fabrikam = users_of("fabrikam.onmicrosoft.com");
    assert_eq!(fabrikam.len(), 1);
    assert_eq!(fabrikam[0].0, "ceo@fabrikam.onmicrosoft.com");
}
