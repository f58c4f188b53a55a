//! Authorization policy: which principals may run which operation, by Zaqar's oslo.policy
//! rule names and defaults (reference §1.12), overridable by a policy file.
//!
//! A rule is written in oslo.policy's language, of which Cairn understands what Zaqar's
//! defaults and ordinary deployments use: `""` or `@` (anyone), `!` (no one), `role:NAME`,
//! `is_admin:True`, `project_id:%(project_id)s`, `rule:OTHER`, combined with `and`, `or`,
//! `not` and parentheses. No crate implements oslo.policy's grammar, so this small parser is
//! written here.
//!
//! The policy file is JSON or TOML (by its extension): a map of rule name to rule text, e.g.
//! `"queues:delete" = "role:admin or role:member"`. Names it does not set keep their
//! defaults; an unknown name or an unparsable rule stops the server at start.

use std::collections::HashMap;
use std::path::Path;

use super::Principal;

/// The default rules (Zaqar 23's), and Cairn's own operations (the event feed and message
/// histories, open like the rest of the project's data).
const DEFAULTS: &[(&str, &str)] = &[
    ("context_is_admin", "role:admin"),
    (
        "admin_or_owner",
        "is_admin:True or project_id:%(project_id)s",
    ),
    ("queues:get_all", ""),
    ("queues:create", ""),
    ("queues:get", ""),
    ("queues:delete", ""),
    ("queues:update", ""),
    ("queues:stats", ""),
    ("queues:share", ""),
    ("queues:purge", ""),
    ("messages:get_all", ""),
    ("messages:create", ""),
    ("messages:get", ""),
    ("messages:delete", ""),
    ("messages:delete_all", ""),
    ("messages:history", ""),
    ("events:get_all", ""),
    ("claims:create", ""),
    ("claims:get", ""),
    ("claims:update", ""),
    ("claims:delete", ""),
    ("subscription:get_all", ""),
    ("subscription:create", ""),
    ("subscription:get", ""),
    ("subscription:delete", ""),
    ("subscription:update", ""),
    ("subscription:confirm", ""),
    ("topics:get_all", ""),
    ("topics:create", ""),
    ("topics:get", ""),
    ("topics:delete", ""),
    ("topics:update", ""),
    ("topics:stats", ""),
    ("topics:purge", ""),
    ("ping:get", ""),
    ("health:get", "role:admin"),
    ("pools:get_all", "role:admin"),
    ("pools:create", "role:admin"),
    ("pools:get", "role:admin"),
    ("pools:delete", "role:admin"),
    ("pools:update", "role:admin"),
    ("flavors:get_all", ""),
    ("flavors:get", ""),
    ("flavors:create", "role:admin"),
    ("flavors:delete", "role:admin"),
    ("flavors:update", "role:admin"),
];

/// A parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    Always,
    Never,
    Role(String),
    IsAdmin(bool),
    /// `project_id:%(project_id)s`: the target is the principal's own project. Requests are
    /// bound to the principal's project, so this holds for every project-scoped operation.
    OwnProject,
    Ref(String),
    Not(Box<Rule>),
    And(Vec<Rule>),
    Or(Vec<Rule>),
}

/// The rules in force.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: HashMap<String, Rule>,
}

impl Default for Policy {
    fn default() -> Self {
        let rules = DEFAULTS
            .iter()
            .map(|(name, text)| {
                let rule = parse(text).expect("the default rules parse");
                ((*name).to_owned(), rule)
            })
            .collect();
        Policy { rules }
    }
}

impl Policy {
    /// The defaults, with the rules of the file at `path` (JSON or TOML) over them.
    pub fn load(path: &Path) -> Result<Policy, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read policy file {}: {e}", path.display()))?;
        let is_json = path.extension().is_some_and(|e| e == "json");
        let overrides: HashMap<String, String> = if is_json {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        } else {
            toml::from_str(&text).map_err(|e| e.to_string())
        }
        .map_err(|e| format!("invalid policy file {}: {e}", path.display()))?;
        let mut policy = Policy::default();
        for (name, text) in overrides {
            policy.set(&name, &text)?;
        }
        Ok(policy)
    }

    /// Replaces the rule `name` (which must be a known rule).
    pub fn set(&mut self, name: &str, text: &str) -> Result<(), String> {
        if !self.rules.contains_key(name) {
            return Err(format!("unknown policy rule {name:?}"));
        }
        let rule = parse(text).map_err(|e| format!("policy rule {name:?}: {e}"))?;
        self.rules.insert(name.to_owned(), rule);
        Ok(())
    }

    /// Whether `who` may run the operation `name`.
    pub fn allows(&self, name: &str, who: &Principal) -> bool {
        match self.rules.get(name) {
            Some(rule) => self.holds(rule, who, 0),
            None => false,
        }
    }

    fn holds(&self, rule: &Rule, who: &Principal, depth: usize) -> bool {
        // A rule that refers to itself, directly or not, denies rather than loops.
        if depth > 16 {
            return false;
        }
        match rule {
            Rule::Always => true,
            Rule::Never => false,
            Rule::Role(role) => who.trusted() || who.has_role(role),
            Rule::IsAdmin(wanted) => (who.trusted() || who.has_role("admin")) == *wanted,
            Rule::OwnProject => true,
            Rule::Ref(name) => self
                .rules
                .get(name)
                .is_some_and(|r| self.holds(r, who, depth + 1)),
            Rule::Not(inner) => !self.holds(inner, who, depth + 1),
            Rule::And(all) => all.iter().all(|r| self.holds(r, who, depth + 1)),
            Rule::Or(any) => any.iter().any(|r| self.holds(r, who, depth + 1)),
        }
    }
}

/// Parses a rule text.
fn parse(text: &str) -> Result<Rule, String> {
    let tokens = tokenize(text);
    if tokens.is_empty() {
        return Ok(Rule::Always);
    }
    let mut at = 0;
    let rule = parse_or(&tokens, &mut at)?;
    match tokens.get(at) {
        None => Ok(rule),
        Some(t) => Err(format!("unexpected {t:?}")),
    }
}

/// Splits on spaces and parentheses, keeping the `%(name)s` of target references whole.
fn tokenize(text: &str) -> Vec<String> {
    text.replace("%(", "\u{1}")
        .replace(")s", "\u{2}")
        .replace('(', " ( ")
        .replace(')', " ) ")
        .split_whitespace()
        .map(|t| t.replace('\u{1}', "%(").replace('\u{2}', ")s"))
        .collect()
}

fn parse_or(tokens: &[String], at: &mut usize) -> Result<Rule, String> {
    let mut any = vec![parse_and(tokens, at)?];
    while tokens
        .get(*at)
        .is_some_and(|t| t.eq_ignore_ascii_case("or"))
    {
        *at += 1;
        any.push(parse_and(tokens, at)?);
    }
    Ok(match any.len() {
        1 => any.remove(0),
        _ => Rule::Or(any),
    })
}

fn parse_and(tokens: &[String], at: &mut usize) -> Result<Rule, String> {
    let mut all = vec![parse_not(tokens, at)?];
    while tokens
        .get(*at)
        .is_some_and(|t| t.eq_ignore_ascii_case("and"))
    {
        *at += 1;
        all.push(parse_not(tokens, at)?);
    }
    Ok(match all.len() {
        1 => all.remove(0),
        _ => Rule::And(all),
    })
}

fn parse_not(tokens: &[String], at: &mut usize) -> Result<Rule, String> {
    let Some(token) = tokens.get(*at) else {
        return Err("the rule ends too early".into());
    };
    *at += 1;
    if token.eq_ignore_ascii_case("not") {
        return Ok(Rule::Not(Box::new(parse_not(tokens, at)?)));
    }
    if token == "(" {
        let inner = parse_or(tokens, at)?;
        if tokens.get(*at).map(String::as_str) != Some(")") {
            return Err("a parenthesis is not closed".into());
        }
        *at += 1;
        return Ok(inner);
    }
    atom(token)
}

fn atom(token: &str) -> Result<Rule, String> {
    match token {
        "@" => return Ok(Rule::Always),
        "!" => return Ok(Rule::Never),
        _ => {}
    }
    let Some((kind, value)) = token.split_once(':') else {
        return Err(format!("{token:?} is not a check (kind:value)"));
    };
    match kind {
        "role" => Ok(Rule::Role(value.to_owned())),
        "rule" => Ok(Rule::Ref(value.to_owned())),
        "is_admin" => Ok(Rule::IsAdmin(value.eq_ignore_ascii_case("true"))),
        "project_id" | "tenant_id" if value == "%(project_id)s" || value == "%(tenant_id)s" => {
            Ok(Rule::OwnProject)
        }
        _ => Err(format!("the check {token:?} is not supported")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProjectId;

    fn member(roles: &[&str]) -> Principal {
        Principal::token(
            ProjectId::new(Some("p")).unwrap(),
            "u".into(),
            roles.iter().map(|r| (*r).to_owned()).collect(),
            crate::model::Timestamp(0),
            crate::auth::Secret::new("t"),
        )
    }

    #[test]
    fn defaults_follow_zaqar() {
        let policy = Policy::default();
        assert!(policy.allows("queues:create", &member(&[])));
        assert!(!policy.allows("health:get", &member(&["member"])));
        assert!(policy.allows("health:get", &member(&["admin"])));
        assert!(!policy.allows("pools:create", &member(&["reader"])));
        assert!(policy.allows("flavors:get", &member(&[])));
        assert!(!policy.allows("no:such-rule", &member(&["admin"])));
    }

    #[test]
    fn the_language_combines_checks() {
        let mut policy = Policy::default();
        policy
            .set(
                "queues:delete",
                "(role:admin or role:member) and not role:reader",
            )
            .unwrap();
        assert!(policy.allows("queues:delete", &member(&["member"])));
        assert!(!policy.allows("queues:delete", &member(&["member", "reader"])));
        assert!(!policy.allows("queues:delete", &member(&[])));
        policy.set("queues:purge", "rule:context_is_admin").unwrap();
        assert!(policy.allows("queues:purge", &member(&["admin"])));
        assert!(!policy.allows("queues:purge", &member(&["member"])));
        policy.set("queues:stats", "!").unwrap();
        assert!(!policy.allows(
            "queues:stats",
            &Principal::open(ProjectId::new(Some("p")).unwrap())
        ));
        policy.set("queues:get", "rule:admin_or_owner").unwrap();
        assert!(policy.allows("queues:get", &member(&[])));
    }

    #[test]
    fn bad_rules_are_refused() {
        let mut policy = Policy::default();
        assert!(policy.set("queues:nope", "").is_err());
        assert!(policy.set("queues:get", "role:admin or").is_err());
        assert!(policy.set("queues:get", "(role:admin").is_err());
        assert!(policy.set("queues:get", "user_id:%(user)s").is_err());
    }

    #[test]
    fn files_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("policy.toml");
        std::fs::write(&toml_path, "\"queues:create\" = \"role:admin\"\n").unwrap();
        let policy = Policy::load(&toml_path).unwrap();
        assert!(!policy.allows("queues:create", &member(&["member"])));
        let json_path = dir.path().join("policy.json");
        std::fs::write(&json_path, r#"{"queues:typo": ""}"#).unwrap();
        assert!(Policy::load(&json_path).is_err());
    }
}
