//! AWS X-Ray integration for tower (under construction).
