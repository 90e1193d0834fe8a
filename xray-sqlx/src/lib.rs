//! AWS X-Ray integration for sqlx (under construction).
