//! Bodies copied from graph-protocol.md; tests compare field names against them.

/// §1.2, create response (Microsoft's example, abridged values).
pub const CREATE_RESPONSE: &str = r#"{
  "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
  "id": "7f105c7d-2dc5-4530-97cd-4e7ae6534c07",
  "resource": "users/8ee44408-.../mailFolders('inbox')/messages",
  "applicationId": "24d3b144-21ae-4080-943f-7067b395b913",
  "changeType": "created,updated",
  "clientState": "...",
  "notificationUrl": "https://relay.example.com/graph/notify?route=t42",
  "lifecycleNotificationUrl": "https://relay.example.com/graph/lifecycle?route=t42",
  "expirationDateTime": "2025-01-03T10:00:00Z",
  "creatorId": "<service principal object id>",
  "includeResourceData": null,
  "encryptionCertificate": null,
  "encryptionCertificateId": null,
  "latestSupportedTlsVersion": "v1_2",
  "notificationQueryOptions": null,
  "notificationContentType": null,
  "notificationUrlAppId": null
}"#;

/// §1.2, list response.
pub const LIST_RESPONSE: &str = r#"{ "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions",
  "value": [ ] }"#;

/// §1.3, Graph error body.
pub const GRAPH_ERROR: &str = r#"{
  "error": {
    "code": "InvalidRequest",
    "message": "human readable text",
    "innerError": {
      "date": "2021-12-15T01:31:15",
      "request-id": "b2e40ef6-765e-4b84-a147-f9ebc0683d30",
      "client-request-id": "b2e40ef6-765e-4b84-a147-f9ebc0683d30"
    }
  }
}"#;

/// §8.2, token success.
pub const TOKEN_RESPONSE: &str = r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAiOiJKV1Qi..."}"#;

/// §8.2, token error (plus `error_uri`, "often present too").
pub const TOKEN_ERROR: &str = r#"{
  "error": "invalid_scope",
  "error_description": "AADSTS70011: The provided value for the input parameter 'scope' is not valid. ...\r\nTrace ID: 255d1aef-...\r\nCorrelation ID: fb3d2015-...\r\nTimestamp: 2016-01-09 02:02:12Z",
  "error_codes": [70011],
  "timestamp": "2016-01-09 02:02:12Z",
  "trace_id": "255d1aef-8c98-452f-ac51-23d051240864",
  "correlation_id": "fb3d2015-bc17-4bb9-bb85-30c5cf1aaaa7",
  "error_uri": "https://login.microsoftonline.com/error?code=70011"
}"#;

/// The sorted key paths of a JSON value (objects only, arrays by their first element).
pub fn shape(value: &serde_json::Value) -> Vec<String> {
    fn walk(value: &serde_json::Value, prefix: &str, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    out.push(path.clone());
                    walk(v, &path, out);
                }
            }
            serde_json::Value::Array(items) => {
                if let Some(first) = items.first() {
                    walk(first, &format!("{prefix}[]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, "", &mut out);
    out.sort();
    out
}

pub fn shape_of(fixture: &str) -> Vec<String> {
    shape(&serde_json::from_str(fixture).expect("fixture is JSON"))
}

/// §3.2, a basic change notification (Microsoft's docs sample).
pub const CHANGE_NOTIFICATION: &str = r##"{"value":[{"id":"lsgTZMr9KwAAA","subscriptionId":"{subscription_guid}",
 "subscriptionExpirationDateTime":"2016-03-19T22:11:09.952Z","clientState":"secretClientValue",
 "changeType":"created","resource":"users/{user_guid}@{tenant_guid}/messages/{long_id_string}",
 "tenantId":"84bd8158-6d4d-4958-8b9f-9d6445542f95",
 "resourceData":{"@odata.type":"#Microsoft.Graph.Message",
  "@odata.id":"Users/{user_guid}@{tenant_guid}/Messages/{long_id_string}",
  "@odata.etag":"W/\"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAAUWRHf\"","id":"{long_id_string}"}}]}"##;

/// §4, a lifecycle notification (Microsoft's docs sample).
pub const LIFECYCLE_NOTIFICATION: &str = r#"{ "value": [ {
    "lifecycleEvent": "reauthorizationRequired",
    "subscriptionId": "e3898f08-5cd0-4a6a-80fc-6addbfb73b7b",
    "subscriptionExpirationDateTime": "2019-09-18T00:52:45.9696658+00:00",
    "clientState": "{secret client state}",
    "tenantId": "84bd8158-6d4d-4958-8b9f-9d6445542f95" } ] }"#;

/// §5.2, `encryptedContent` (Microsoft's field names; values abridged).
pub const ENCRYPTED_CONTENT: &str = r#"{"encryptedContent": {
  "data": "<base64 ciphertext>",
  "dataSignature": "<base64 HMAC-SHA256>",
  "dataKey": "<base64 RSA-encrypted symmetric key>",
  "encryptionCertificateId": "<your encryptionCertificateId>",
  "encryptionCertificateThumbprint": "4B95353E086AD37196606ACF834A14532F03E6DB"
}}"#;
