//! Local sampling rules: what the rules file holds, built from JSON or in code, always valid.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A custom rule: requests whose host, method and path match are sampled with this rule's
/// reservoir and rate.
///
/// Patterns use `*` (any run of characters) and `?` (one character) and ignore case. A new
/// rule matches every request until narrowed with the `with_*` setters.
///
/// ```
/// use xray_core::sampling::LocalRule;
/// let health = LocalRule::new(0, 0.01).with_description("health checks").with_url_path("/health*");
/// assert_eq!(health.host, "*");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LocalRule {
    /// Names the rule in errors and in `aws.xray.sampling_rule_name`.
    pub description: Option<String>,
    /// Pattern for the `Host` header (version 1 files call it `service_name`).
    pub host: String,
    /// Pattern for the HTTP method.
    pub http_method: String,
    /// Pattern for the URL path.
    pub url_path: String,
    /// Requests sampled per second before the rate applies.
    pub fixed_target: u32,
    /// Share of the further requests that are sampled, from 0 to 1.
    pub rate: f64,
}

impl LocalRule {
    /// A rule matching every request, sampling `fixed_target` per second and then `rate`.
    pub fn new(fixed_target: u32, rate: f64) -> Self {
        Self {
            description: None,
            host: "*".to_owned(),
            http_method: "*".to_owned(),
            url_path: "*".to_owned(),
            fixed_target,
            rate,
        }
    }

    /// The rule's description. Defaults to none (the rule is then named `rules[i]`).
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The host pattern. Defaults to `*`.
    #[must_use]
    pub fn with_host(mut self, pattern: impl Into<String>) -> Self {
        self.host = pattern.into();
        self
    }

    /// The HTTP method pattern. Defaults to `*`.
    #[must_use]
    pub fn with_http_method(mut self, pattern: impl Into<String>) -> Self {
        self.http_method = pattern.into();
        self
    }

    /// The URL path pattern. Defaults to `*`.
    #[must_use]
    pub fn with_url_path(mut self, pattern: impl Into<String>) -> Self {
        self.url_path = pattern.into();
        self
    }
}

/// The rule for requests that no custom rule matches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DefaultRule {
    /// Requests sampled per second before the rate applies.
    pub fixed_target: u32,
    /// Share of the further requests that are sampled, from 0 to 1.
    pub rate: f64,
}

impl Default for DefaultRule {
    /// X-Ray's default: one request per second, then 5 %.
    fn default() -> Self {
        Self { fixed_target: 1, rate: 0.05 }
    }
}

/// A validated set of local sampling rules: custom rules tried in order, then the default.
///
/// Load the rules file format (versions 1 and 2) with [`from_json`](Self::from_json) or
/// [`from_path`](Self::from_path), or build rules in code:
///
/// ```
/// use xray_core::sampling::{LocalRule, LocalRules};
/// // 1 % of health checks, 10 % of everything else.
/// let rules = LocalRules::builder()
///     .with_rule(LocalRule::new(0, 0.01).with_description("health").with_url_path("/health"))
///     .with_default(1, 0.1)
///     .build()
///     .unwrap();
/// assert_eq!(rules.rules().len(), 1);
///
/// let same = LocalRules::from_json(r#"{"version": 2, "rules": [
///     {"description": "health", "host": "*", "http_method": "*", "url_path": "/health",
///      "fixed_target": 0, "rate": 0.01}],
///   "default": {"fixed_target": 1, "rate": 0.1}}"#).unwrap();
/// assert_eq!(same, rules);
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LocalRules {
    pub(crate) rules: Vec<LocalRule>,
    pub(crate) default: DefaultRule,
}

impl LocalRules {
    /// Builds rules in code.
    pub fn builder() -> LocalRulesBuilder {
        LocalRulesBuilder::default()
    }

    /// Parses and validates a rules file's text.
    pub fn from_json(text: &str) -> Result<Self, RulesError> {
        super::file::parse(text)
    }

    /// Reads, parses and validates a rules file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, RulesError> {
        let path = path.as_ref();
        let text =
            std::fs::read_to_string(path).map_err(|source| RulesError::Read { path: path.to_owned(), source })?;
        Self::from_json(&text).map_err(|error| RulesError::File { path: path.to_owned(), error: Box::new(error) })
    }

    /// The custom rules, in matching order.
    pub fn rules(&self) -> &[LocalRule] {
        &self.rules
    }

    /// The default rule.
    pub fn default_rule(&self) -> DefaultRule {
        self.default
    }
}

impl FromStr for LocalRules {
    type Err = RulesError;

    fn from_str(s: &str) -> Result<Self, RulesError> {
        Self::from_json(s)
    }
}

/// Builds [`LocalRules`] in code; [`build`](Self::build) validates them.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct LocalRulesBuilder {
    rules: Vec<LocalRule>,
    default: DefaultRule,
}

impl LocalRulesBuilder {
    /// Appends a custom rule; the first matching rule decides. Defaults to no custom rules.
    pub fn with_rule(mut self, rule: LocalRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The default rule. Defaults to one request per second, then 5 %.
    pub fn with_default(mut self, fixed_target: u32, rate: f64) -> Self {
        self.default = DefaultRule { fixed_target, rate };
        self
    }

    /// Checks every rate; the error names the offending rule.
    pub fn build(self) -> Result<LocalRules, RulesError> {
        for (index, rule) in self.rules.iter().enumerate() {
            check_rate(rule.rate).map_err(|reason| RulesError::Invalid {
                location: RuleLocation::Rule { index, description: rule.description.clone() },
                field: "rate".to_owned(),
                reason,
            })?;
        }
        check_rate(self.default.rate).map_err(|reason| RulesError::Invalid {
            location: RuleLocation::Default,
            field: "rate".to_owned(),
            reason,
        })?;
        Ok(LocalRules { rules: self.rules, default: self.default })
    }
}

/// `Ok` for a rate in [0, 1].
pub(crate) fn check_rate(rate: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&rate) { Ok(()) } else { Err(format!("{rate} is outside [0, 1]")) }
}

/// Where in a rules file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleLocation {
    /// The top-level object.
    TopLevel,
    /// A custom rule, by its position in `rules` (from 0) and its description.
    Rule {
        /// Position in `rules`, from 0.
        index: usize,
        /// The rule's description, if it has one.
        description: Option<String>,
    },
    /// The `default` rule.
    Default,
}

impl fmt::Display for RuleLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TopLevel => f.write_str("top level"),
            Self::Rule { index, description: Some(d) } => write!(f, "rules[{index}] ({d:?})"),
            Self::Rule { index, description: None } => write!(f, "rules[{index}]"),
            Self::Default => f.write_str("default rule"),
        }
    }
}

/// Why sampling rules could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// The file could not be read.
    #[error("cannot read sampling rules from {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A file's content is not valid (see the inner error).
    #[error("{}: {error}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with its content.
        #[source]
        error: Box<RulesError>,
    },
    /// The text is not JSON.
    #[error("sampling rules are not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// A rule or field is not valid.
    #[error("invalid sampling rules: {location}, `{field}`: {reason}")]
    Invalid {
        /// Which rule.
        location: RuleLocation,
        /// Which field (or unknown key).
        field: String,
        /// What is wrong, and what would be right.
        reason: String,
    },
}

impl RulesError {
    /// The rule and field at fault, for a validation error (also one inside [`RulesError::File`]).
    pub fn location(&self) -> Option<(&RuleLocation, &str)> {
        match self {
            Self::Invalid { location, field, .. } => Some((location, field)),
            Self::File { error, .. } => error.location(),
            Self::Read { .. } | Self::Json(_) => None,
        }
    }
}
