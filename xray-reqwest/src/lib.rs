//! AWS X-Ray integration for reqwest (under construction).
