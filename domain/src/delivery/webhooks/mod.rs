//! Outgoing webhooks: Standard Webhooks signing, secrets and their encryption at rest, the SSRF
//! rules, and the one HTTP sender every webhook goes through.

pub mod crypt;
pub mod secrets;
pub mod sender;
pub mod signing;
pub mod ssrf;

/// A message id: `msg_` and a sortable unique id, the same for every attempt of a message.
pub fn new_message_id() -> String {
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}
