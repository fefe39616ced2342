use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "encryption_certificates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The `encryptionCertificateId` Graph echoes in rich notifications.
    pub label: String,
    /// The X.509 certificate (DER) sent to Graph.
    pub certificate: Vec<u8>,
    /// The PKCS#8 private key, encrypted (see `webhooks::crypt`).
    pub private_key: Vec<u8>,
    pub created_at: DateTimeUtc,
    /// Set when a newer certificate replaced it; kept to decrypt what was encrypted for it.
    pub retired_at: Option<DateTimeUtc>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("encryption_certificate::Model")
            .field("label", &self.label)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
