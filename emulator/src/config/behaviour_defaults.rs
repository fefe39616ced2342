//! Today's Microsoft behaviour: what every switch of [`super::Behaviour`] defaults to.

use super::*;

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            consent_mode: ConsentMode::Interactive,
            consent_decline_error: ConsentDeclineError::AccessDenied,
            auto_accept_tenant: None,
            consent_propagation_secs: 0,
            propagation_effect: PropagationEffect::NoRoles,
            token_lifetime_secs: 3599,
            lifetime_policy: LifetimePolicy::Reject,
            http_notification_urls: HttpUrls::Never,
            validation_timeout_ms: 10_000,
            validation_always_times_out: false,
            reject_duplicates: true,
            rate_limit_per_app: 5_000,
            rate_limit_per_tenant: 10_000,
            rate_window_secs: 20,
            directory_quota_per_app: 100,
            directory_quota_per_tenant: 1_000,
            mailbox_quota: 1_000,
            blocked_mailboxes: Vec::new(),
            unknown_users: UnknownUsers::Refuse,
            outage_status: None,
            delivery_timeout_ms: 3_000,
            max_batch_items: 100,
            delivery_paused: false,
            expiration_format: ExpirationFormat::Varied,
            resource_style: ResourceStyle::Normalized,
            retry_initial_secs: 60,
            retry_max_interval_secs: 3_600,
            retry_horizon_secs: 4 * 3_600,
            reauthorization_grace_secs: 600,
            reauthorization_lead_secs: 0,
            slow_threshold_ms: 2_900,
            throttle_min_samples: 100,
            slow_percent: 10,
            drop_percent: 15,
            throttle_window_secs: 600,
            slow_delay_secs: 600,
            validation_token_version: TokenVersion::V2,
            auto_sign_in_user: None,
            auth_code_lifetime_secs: 600,
            strict_refresh_tokens: false,
            refresh_token_lifetime_secs: 90 * 24 * 3_600,
        }
    }
}
