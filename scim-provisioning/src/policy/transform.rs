//! [`NameTransform`]: how an identity provider's user or group name becomes an Atlassian name.

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::PolicyError;

/// A regular-expression rewrite: where `pattern` matches, the name becomes `replacement`,
/// with `$1`, `${name}` standing for the pattern's captures (`$$` is a literal `$`).
///
/// The whole name is replaced by the expansion: anchor the pattern (`^okta-(.*)$`) to say which
/// names it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct RegexRule {
    /// The pattern (the `regex` crate's syntax).
    pub pattern: String,
    /// What a matching name becomes.
    pub replacement: String,
}

impl RegexRule {
    /// A rule rewriting names that match `pattern` to `replacement`.
    pub fn new(pattern: impl Into<String>, replacement: impl Into<String>) -> Self {
        RegexRule {
            pattern: pattern.into(),
            replacement: replacement.into(),
        }
    }
}

/// How a name from the identity provider is turned into the name used in Jira, in this order:
/// the first of `rules` whose pattern matches rewrites the name (later rules are not tried),
/// then `strip_domain` drops everything from the last `@`, then `lowercase` lower-cases it.
///
/// The default changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct NameTransform {
    /// Regex rewrites; the first that matches applies.
    pub rules: Vec<RegexRule>,
    /// Drop an email-style domain: `bjensen@example.com` becomes `bjensen`.
    pub strip_domain: bool,
    /// Lower-case the result.
    pub lowercase: bool,
}

impl NameTransform {
    /// Whether this transformation leaves every name as it is.
    pub fn is_identity(&self) -> bool {
        self.rules.is_empty() && !self.strip_domain && !self.lowercase
    }

    /// Adds a regex rewrite rule (tried after those already added).
    #[must_use]
    pub fn rule(mut self, pattern: impl Into<String>, replacement: impl Into<String>) -> Self {
        self.rules.push(RegexRule::new(pattern, replacement));
        self
    }

    /// Drops the email domain.
    #[must_use]
    pub fn strip_domain(mut self) -> Self {
        self.strip_domain = true;
        self
    }

    /// Lower-cases the result.
    #[must_use]
    pub fn lowercase(mut self) -> Self {
        self.lowercase = true;
        self
    }

    /// The transformation with its regexes compiled; `setting` names it in errors
    /// (`user_name`, `group_name`).
    pub fn compile(&self, setting: &str) -> Result<CompiledTransform, PolicyError> {
        let mut rules = Vec::with_capacity(self.rules.len());
        for (i, rule) in self.rules.iter().enumerate() {
            let at = format!("{setting}.rules[{i}]");
            let regex = compile_regex(&format!("{at}.pattern"), &rule.pattern)?;
            if rule.replacement.trim().is_empty() {
                return Err(PolicyError::Invalid {
                    setting: format!("{at}.replacement"),
                    reason: "is empty: a matching name would become empty".to_owned(),
                });
            }
            check_captures(&format!("{at}.replacement"), &regex, &rule.replacement)?;
            rules.push((regex, rule.replacement.clone()));
        }
        Ok(CompiledTransform {
            setting: setting.to_owned(),
            rules,
            strip_domain: self.strip_domain,
            lowercase: self.lowercase,
        })
    }
}

/// `pattern` compiled, or a [`PolicyError::Regex`] naming `setting`.
pub fn compile_regex(setting: &str, pattern: &str) -> Result<Regex, PolicyError> {
    Regex::new(pattern).map_err(|e| PolicyError::Regex {
        setting: setting.to_owned(),
        pattern: pattern.to_owned(),
        reason: e.to_string(),
    })
}

/// Refuses `$n` / `${name}` references to captures the pattern does not have: the `regex`
/// crate would silently expand them to nothing, turning a typo into wrong names in Jira.
fn check_captures(setting: &str, regex: &Regex, replacement: &str) -> Result<(), PolicyError> {
    let names: Vec<&str> = regex.capture_names().flatten().collect();
    let mut rest = replacement;
    while let Some(at) = rest.find('$') {
        let after = rest.get(at + 1..).unwrap_or("");
        if let Some(tail) = after.strip_prefix('$') {
            rest = tail;
            continue;
        }
        let (reference, tail) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (
                    braced.get(..end).unwrap_or(""),
                    braced.get(end + 1..).unwrap_or(""),
                ),
                None => (braced, ""),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (
                after.get(..end).unwrap_or(""),
                after.get(end..).unwrap_or(""),
            )
        };
        rest = tail;
        if reference.is_empty() {
            continue;
        }
        let known = match reference.parse::<usize>() {
            Ok(n) => n < regex.captures_len(),
            Err(_) => names.contains(&reference),
        };
        if !known {
            return Err(PolicyError::Invalid {
                setting: setting.to_owned(),
                reason: format!(
                    "refers to ${reference}, which the pattern {:?} does not capture",
                    regex.as_str()
                ),
            });
        }
    }
    Ok(())
}

/// A [`NameTransform`] ready to apply.
#[derive(Debug, Clone)]
pub struct CompiledTransform {
    setting: String,
    rules: Vec<(Regex, String)>,
    strip_domain: bool,
    lowercase: bool,
}

impl CompiledTransform {
    /// Whether the transformation leaves every name as it is.
    pub fn is_identity(&self) -> bool {
        self.rules.is_empty() && !self.strip_domain && !self.lowercase
    }

    /// The setting this transformation came from, for error messages.
    pub fn setting(&self) -> &str {
        &self.setting
    }

    /// `name` transformed, trimmed; `None` when nothing is left of it.
    pub fn apply(&self, name: &str) -> Option<String> {
        let name = name.trim();
        let mut out = name.to_owned();
        for (regex, replacement) in &self.rules {
            if let Some(caps) = regex.captures(name) {
                let mut expanded = String::new();
                caps.expand(replacement, &mut expanded);
                out = expanded;
                break;
            }
        }
        if self.strip_domain {
            if let Some(at) = out.rfind('@') {
                out.truncate(at);
            }
        }
        if self.lowercase {
            out = out.to_lowercase();
        }
        let out = out.trim();
        (!out.is_empty()).then(|| out.to_owned())
    }
}
