//! The operator api's operational views: queues, delivery statistics, the app credential.
