//! Kubernetes label selectors with apimachinery semantics: structured [`LabelSelector`]s
//! (`matchLabels` / `matchExpressions`) and the kubectl `-l` string syntax ([`LabelQuery`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Whether `labels` satisfy `selector`: every `matchLabels` pair AND every `matchExpressions`
/// requirement. An empty selector matches everything; an invalid one (unknown operator, wrong
/// value count, malformed key or value) matches nothing, because apimachinery refuses to
/// convert it and callers such as the aggregation controller then select nothing.
pub fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    requirements_of(selector).is_ok_and(|reqs| reqs.iter().all(|r| r.matches(labels)))
}

/// Like [`matches`], for optional selector fields: an ABSENT selector matches nothing
/// (apimachinery maps a nil selector to `labels.Nothing()`), unlike an empty one.
pub fn matches_optional(
    selector: Option<&LabelSelector>,
    labels: &BTreeMap<String, String>,
) -> bool {
    selector.is_some_and(|s| matches(s, labels))
}

/// Whether apimachinery would accept `selector` (`LabelSelectorAsSelector` succeeds).
pub fn is_valid(selector: &LabelSelector) -> bool {
    requirements_of(selector).is_ok()
}

/// The requirements of `selector`, validated once, for callers that match it against many
/// label sets (all must hold; empty = everything). Errors like [`is_valid`] refusing it.
pub fn compile(selector: &LabelSelector) -> Result<Vec<Requirement>, String> {
    requirements_of(selector)
}

fn requirements_of(selector: &LabelSelector) -> Result<Vec<Requirement>, String> {
    let labels = selector.match_labels.iter().flatten();
    let mut reqs = labels
        .map(|(k, v)| Requirement::new(k, Operator::Equals, vec![v.clone()]))
        .collect::<Result<Vec<_>, _>>()?;
    for expr in selector.match_expressions.iter().flatten() {
        let op = match expr.operator.as_str() {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            other => return Err(format!("{other:?} is not a valid label selector operator")),
        };
        reqs.push(Requirement::new(
            &expr.key,
            op,
            expr.values.clone().unwrap_or_default(),
        )?);
    }
    Ok(reqs)
}

/// A selection operator, as in `k8s.io/apimachinery/pkg/selection`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// One validated requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

impl Requirement {
    /// Validates like apimachinery's `labels.NewRequirement`.
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Self, String> {
        validate_key(key)?;
        use Operator::*;
        match operator {
            In | NotIn if values.is_empty() => {
                return Err(format!("key {key:?}: 'in'/'notin' need at least one value"));
            }
            Equals | DoubleEquals | NotEquals if values.len() != 1 => {
                return Err(format!(
                    "key {key:?}: '=', '==', '!=' need exactly one value"
                ));
            }
            Exists | DoesNotExist if !values.is_empty() => {
                return Err(format!("key {key:?}: 'exists'/'!' take no values"));
            }
            GreaterThan | LessThan if values.len() != 1 || values[0].parse::<i64>().is_err() => {
                return Err(format!(
                    "key {key:?}: '>'/'<' need exactly one integer value"
                ));
            }
            _ => {}
        }
        for v in &values {
            if !is_label_value(v) {
                return Err(format!(
                    "invalid label value {v:?} for key {key:?}: must be at most 63 characters, \
                     alphanumeric at both ends, with '-', '_' or '.' in between"
                ));
            }
        }
        Ok(Self {
            key: key.to_owned(),
            operator,
            values,
        })
    }

    /// apimachinery's `Requirement.Matches`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        let has = |v: &String| self.values.contains(v);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => value.is_some_and(has),
            // A missing key satisfies a negative requirement.
            Operator::NotIn | Operator::NotEquals => !value.is_some_and(has),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(Ok(actual)), [wanted]) =
                    (value.map(|v| v.parse::<i64>()), self.values.as_slice())
                else {
                    return false;
                };
                let Ok(wanted) = wanted.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    actual > wanted
                } else {
                    actual < wanted
                }
            }
        }
    }
}

/// A label query in kubectl `-l` syntax: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`,
/// `k`, `!k`, `k>1`, `k<1`, joined by commas (AND). The empty string matches everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelQuery {
    text: String,
    requirements: Vec<Requirement>,
}

/// A label query that the API server would reject too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid label selector {input:?}: {reason}")]
pub struct SelectorParseError {
    pub input: String,
    pub reason: String,
}

impl LabelQuery {
    pub fn parse(s: &str) -> Result<LabelQuery, SelectorParseError> {
        let fail = |reason: String| SelectorParseError {
            input: s.to_owned(),
            reason,
        };
        let requirements = Parser {
            tokens: lex(s),
            pos: 0,
        }
        .parse()
        .map_err(fail)?;
        Ok(LabelQuery {
            text: s.to_owned(),
            requirements,
        })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// The original text, to pass unchanged as `labelSelector` to the API server.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

impl FromStr for LabelQuery {
    type Err = SelectorParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for LabelQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Any run of non-special, non-space characters; `in`/`notin` are keywords only where an
    /// operator is expected (apimachinery lexes them as identifiers in value position).
    Ident(String),
    Not,
    NotEquals,
    Equals,
    DoubleEquals,
    GreaterThan,
    LessThan,
    Open,
    Close,
    Comma,
    End,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Token::Ident(s) => return write!(f, "'{s}'"),
            Token::Not => "'!'",
            Token::NotEquals => "'!='",
            Token::Equals => "'='",
            Token::DoubleEquals => "'=='",
            Token::GreaterThan => "'>'",
            Token::LessThan => "'<'",
            Token::Open => "'('",
            Token::Close => "')'",
            Token::Comma => "','",
            Token::End => "end of string",
        };
        f.write_str(s)
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn lex(s: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let next_is_eq = chars.peek() == Some(&'=');
        let token = match c {
            // apimachinery only skips these four whitespace characters.
            ' ' | '\t' | '\r' | '\n' => continue,
            '!' if next_is_eq => {
                chars.next();
                Token::NotEquals
            }
            '=' if next_is_eq => {
                chars.next();
                Token::DoubleEquals
            }
            '!' => Token::Not,
            '=' => Token::Equals,
            '>' => Token::GreaterThan,
            '<' => Token::LessThan,
            '(' => Token::Open,
            ')' => Token::Close,
            ',' => Token::Comma,
            _ => {
                let mut ident = String::from(c);
                while let Some(&n) = chars.peek() {
                    if is_special(n) || matches!(n, ' ' | '\t' | '\r' | '\n') {
                        break;
                    }
                    ident.push(n);
                    chars.next();
                }
                Token::Ident(ident)
            }
        };
        tokens.push(token);
    }
    tokens
}

/// A port of apimachinery's `labels.Parser`, keeping its grammar and its quirks
/// (`k=` means "value is empty", `k in ()` means `k in ("")`).
struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        self.tokens.get(self.pos).unwrap_or(&Token::End)
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        self.pos += 1;
        t
    }

    fn parse(mut self) -> Result<Vec<Requirement>, String> {
        let mut reqs = Vec::new();
        loop {
            match self.peek() {
                Token::End => return Ok(reqs),
                Token::Ident(_) | Token::Not => reqs.push(self.requirement()?),
                t => {
                    return Err(format!(
                        "found {t}, expected: '!', identifier, or end of string"
                    ));
                }
            }
            match self.next() {
                Token::End => return Ok(reqs),
                Token::Comma => {
                    if !matches!(self.peek(), Token::Ident(_) | Token::Not) {
                        return Err(format!(
                            "found {}, expected: identifier after ','",
                            self.peek()
                        ));
                    }
                }
                t => return Err(format!("found {t}, expected: ',' or end of string")),
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let negated = *self.peek() == Token::Not;
        if negated {
            self.next();
        }
        let key = match self.next() {
            Token::Ident(k) => k,
            t => return Err(format!("found {t}, expected: identifier")),
        };
        validate_key(&key)?;
        if negated || matches!(self.peek(), Token::End | Token::Comma) {
            let op = if negated {
                Operator::DoesNotExist
            } else {
                Operator::Exists
            };
            return Requirement::new(&key, op, Vec::new());
        }
        let op = match self.next() {
            Token::Ident(k) if k == "in" => Operator::In,
            Token::Ident(k) if k == "notin" => Operator::NotIn,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::NotEquals => Operator::NotEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            t => {
                return Err(format!(
                    "found {t} after key {key:?}, expected one of: in, notin, =, ==, !=, >, <"
                ));
            }
        };
        let values = match op {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => vec![self.exact_value()?],
        };
        Requirement::new(&key, op, values)
    }

    fn exact_value(&mut self) -> Result<String, String> {
        match self.peek() {
            Token::End | Token::Comma => Ok(String::new()),
            _ => match self.next() {
                Token::Ident(v) => Ok(v),
                t => Err(format!("found {t}, expected: identifier")),
            },
        }
    }

    fn value_set(&mut self) -> Result<Vec<String>, String> {
        match self.next() {
            Token::Open => {}
            t => return Err(format!("found {t}, expected: '('")),
        }
        let mut values = Vec::new();
        let push = |v: String, values: &mut Vec<String>| {
            if !values.contains(&v) {
                values.push(v);
            }
        };
        // Empty slots count as the empty value, e.g. `(a,)` = {"a", ""}.
        let mut expect_value = true;
        loop {
            match self.next() {
                Token::Ident(v) if expect_value => {
                    push(v, &mut values);
                    expect_value = false;
                }
                Token::Comma => {
                    if expect_value {
                        push(String::new(), &mut values);
                    }
                    expect_value = true;
                }
                Token::Close => {
                    if expect_value {
                        push(String::new(), &mut values);
                    }
                    values.sort();
                    return Ok(values);
                }
                t if expect_value => {
                    return Err(format!("found {t}, expected: ',', ')' or identifier"));
                }
                t => return Err(format!("found {t}, expected: ',' or ')'")),
            }
        }
    }
}

/// A qualified name: optional DNS-1123 subdomain prefix and '/', then a name part.
fn validate_key(key: &str) -> Result<(), String> {
    let (prefix, name) = key
        .split_once('/')
        .map_or((None, key), |(p, n)| (Some(p), n));
    let bad = |why: &str| Err(format!("invalid label key {key:?}: {why}"));
    if let Some(p) = prefix {
        if p.is_empty() {
            return bad("prefix part must be non-empty");
        }
        if !is_dns1123_subdomain(p) {
            return bad("prefix must be a lowercase DNS subdomain of at most 253 characters");
        }
    }
    if name.is_empty() {
        return bad("name part must be non-empty");
    }
    if name.len() > 63 || !is_label_name(name) {
        return bad(
            "name part must be at most 63 characters, alphanumeric at both ends, \
             with '-', '_' or '.' in between",
        );
    }
    Ok(())
}

fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    matches!((b.first(), b.last()), (Some(f), Some(l)) if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn is_label_value(s: &str) -> bool {
    s.is_empty() || (s.len() <= 63 && is_label_name(s))
}

fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|part| {
            let b = part.as_bytes();
            matches!((b.first(), b.last()), (Some(f), Some(l)) if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric())
                && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: Option<&[&str]>) -> LabelSelector {
        LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: key.into(),
                operator: op.into(),
                values: values.map(|v| v.iter().map(|s| s.to_string()).collect()),
            }]),
            ..Default::default()
        }
    }

    fn q(s: &str) -> LabelQuery {
        LabelQuery::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn empty_selector_matches_everything() {
        let empty = LabelSelector::default();
        assert!(matches(&empty, &labels(&[])));
        assert!(matches(&empty, &labels(&[("a", "b")])));
        // Present-but-empty fields are still the empty selector.
        let explicit = LabelSelector {
            match_labels: Some(BTreeMap::new()),
            match_expressions: Some(vec![]),
        };
        assert!(matches(&explicit, &labels(&[("a", "b")])));
        // ...whereas an absent selector matches nothing.
        assert!(matches_optional(Some(&empty), &labels(&[])));
        assert!(!matches_optional(None, &labels(&[])));
        assert!(!matches_optional(None, &labels(&[("a", "b")])));
    }

    #[test]
    fn match_labels_all_must_match() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("a", "1"), ("b", "2")])),
            ..Default::default()
        };
        assert!(matches(
            &sel,
            &labels(&[("a", "1"), ("b", "2"), ("c", "3")])
        ));
        assert!(!matches(&sel, &labels(&[("a", "1")])));
        assert!(!matches(&sel, &labels(&[("a", "1"), ("b", "3")])));
    }

    #[test]
    fn match_labels_and_expressions_are_anded() {
        let mut sel = expr("tier", "In", Some(&["web"]));
        sel.match_labels = Some(labels(&[("app", "x")]));
        assert!(matches(&sel, &labels(&[("app", "x"), ("tier", "web")])));
        assert!(!matches(&sel, &labels(&[("app", "y"), ("tier", "web")])));
        assert!(!matches(&sel, &labels(&[("app", "x"), ("tier", "db")])));
    }

    #[test]
    fn expression_operators() {
        let in_ = expr("env", "In", Some(&["prod", "staging"]));
        assert!(matches(&in_, &labels(&[("env", "prod")])));
        assert!(!matches(&in_, &labels(&[("env", "dev")])));
        assert!(!matches(&in_, &labels(&[])), "In requires the key");

        let not_in = expr("env", "NotIn", Some(&["prod"]));
        assert!(matches(&not_in, &labels(&[("env", "dev")])));
        assert!(!matches(&not_in, &labels(&[("env", "prod")])));
        assert!(
            matches(&not_in, &labels(&[])),
            "NotIn is true when the key is missing"
        );

        let exists = expr("env", "Exists", None);
        assert!(matches(&exists, &labels(&[("env", "")])));
        assert!(!matches(&exists, &labels(&[("other", "x")])));

        let absent = expr("env", "DoesNotExist", None);
        assert!(matches(&absent, &labels(&[])));
        assert!(!matches(&absent, &labels(&[("env", "x")])));
    }

    #[test]
    fn invalid_selectors_match_nothing() {
        for sel in [
            expr("env", "Equals", Some(&["x"])),
            expr("env", "in", Some(&["x"])), // operators are case-sensitive
            expr("env", "In", Some(&[])),
            expr("env", "In", None),
            expr("env", "Exists", Some(&["x"])),
            expr("bad key", "Exists", None),
            LabelSelector {
                match_labels: Some(labels(&[("env", "not valid!")])),
                ..Default::default()
            },
        ] {
            assert!(!is_valid(&sel), "{sel:?}");
            assert!(!matches(&sel, &labels(&[("env", "x")])), "{sel:?}");
            assert!(!matches(&sel, &labels(&[])), "{sel:?}");
        }
    }

    #[test]
    fn query_equality_operators() {
        for s in ["app=web", "app==web", " app = web "] {
            assert!(q(s).matches(&labels(&[("app", "web")])), "{s}");
            assert!(!q(s).matches(&labels(&[("app", "db")])), "{s}");
            assert!(!q(s).matches(&labels(&[])), "{s}");
        }
        let ne = q("app!=web");
        assert!(ne.matches(&labels(&[("app", "db")])));
        assert!(!ne.matches(&labels(&[("app", "web")])));
        assert!(
            ne.matches(&labels(&[])),
            "!= is true when the key is missing"
        );
    }

    #[test]
    fn query_set_operators() {
        let in_ = q("env in (prod, staging)");
        assert!(in_.matches(&labels(&[("env", "staging")])));
        assert!(!in_.matches(&labels(&[("env", "dev")])));
        assert!(!in_.matches(&labels(&[])));
        let not_in = q("env notin (prod)");
        assert!(not_in.matches(&labels(&[("env", "dev")])));
        assert!(!not_in.matches(&labels(&[("env", "prod")])));
        assert!(not_in.matches(&labels(&[])));
        // Keywords are plain identifiers in key and value position.
        assert!(q("in in (notin)").matches(&labels(&[("in", "notin")])));
    }

    #[test]
    fn query_existence_and_and() {
        let exists = q("app");
        assert!(exists.matches(&labels(&[("app", "")])));
        assert!(!exists.matches(&labels(&[])));
        let absent = q("!app");
        assert!(absent.matches(&labels(&[])));
        assert!(!absent.matches(&labels(&[("app", "x")])));
        let all = q("app=web,!canary,tier in (fe,be),env");
        assert!(all.matches(&labels(&[("app", "web"), ("tier", "fe"), ("env", "p")])));
        assert!(!all.matches(&labels(&[
            ("app", "web"),
            ("tier", "fe"),
            ("env", "p"),
            ("canary", "1")
        ])));
        assert!(!all.matches(&labels(&[("app", "web"), ("tier", "fe")])));
        assert_eq!(all.requirements().len(), 4);
    }

    #[test]
    fn query_numeric_and_empty_values() {
        let gt = q("replicas>2");
        assert!(gt.matches(&labels(&[("replicas", "3")])));
        assert!(!gt.matches(&labels(&[("replicas", "2")])));
        assert!(!gt.matches(&labels(&[("replicas", "x")])));
        assert!(q("replicas<2").matches(&labels(&[("replicas", "1")])));
        // apimachinery quirks: `k=` and `k in ()` select the empty value.
        assert!(q("app=").matches(&labels(&[("app", "")])));
        assert!(!q("app=").matches(&labels(&[])));
        assert!(q("app in ()").matches(&labels(&[("app", "")])));
        assert_eq!(q("app in (a,)").requirements()[0].values, ["", "a"]);
    }

    #[test]
    fn empty_query_matches_everything_and_keeps_text() {
        assert!(q("").matches(&labels(&[("a", "b")])));
        assert!(q("  ").is_empty());
        let text = "app in (a, b),!x";
        assert_eq!(q(text).as_str(), text);
        assert_eq!(q(text).to_string(), text);
        assert_eq!(text.parse::<LabelQuery>(), Ok(q(text)));
    }

    #[test]
    fn prefixed_keys() {
        assert!(
            q("app.kubernetes.io/name=web").matches(&labels(&[("app.kubernetes.io/name", "web")]))
        );
        for bad in ["/name=x", "Example.com/name=x", "a/b/c=x", "a/=x"] {
            assert!(LabelQuery::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parse_errors_name_the_bad_part() {
        let cases = [
            ("app=web,", "identifier after ','"),
            ("app in (a", "found end of string"),
            ("app in a", "found 'a', expected: '('"),
            ("app=a=b", "found '='"),
            ("app web", "found 'web' after key \"app\""),
            ("=web", "found '='"),
            ("app=(x)", "found '('"),
            ("!app=x", "found '='"),
            ("app in (a b)", "found 'b'"),
            ("bad key!=x", "found 'key'"),
            ("app=not valid", "found 'valid'"),
            ("app=-x", "invalid label value \"-x\""),
            ("-app=x", "invalid label key \"-app\""),
            ("n>x", "integer"),
            (",", "found ','"),
        ];
        for (input, needle) in cases {
            let err = LabelQuery::parse(input).expect_err(input);
            assert_eq!(err.input, input);
            let msg = err.to_string();
            assert!(msg.contains(needle), "{input:?}: {msg}");
            assert!(
                msg.starts_with(&format!("invalid label selector {input:?}")),
                "{msg}"
            );
        }
    }
}
