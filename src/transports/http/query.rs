//! Query-string parameters with Zaqar's (falcon's) parsing rules: blank values are absent,
//! booleans accept `true/True/t/yes/y/1/on` and their negations, lists are comma-separated
//! and may repeat.

use crate::error::ApiError;

/// The decoded parameters of one request, in order.
#[derive(Debug, Clone, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Query(pairs)
    }

    /// The last value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    ApiError::InvalidParameter(format!(
                        "The \"{name}\" parameter is invalid. The value must be an integer."
                    ))
                })
            })
            .transpose()
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.get(name)
            .map(|v| match v {
                "true" | "True" | "TRUE" | "t" | "yes" | "y" | "1" | "on" => Ok(true),
                "false" | "False" | "FALSE" | "f" | "no" | "n" | "0" | "off" => Ok(false),
                _ => Err(ApiError::InvalidParameter(format!(
                    "The \"{name}\" parameter is invalid. The value must be a boolean."
                ))),
            })
            .transpose()
    }

    /// All values of a list parameter (comma-separated and/or repeated).
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        let items: Vec<String> = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        (!items.is_empty()).then_some(items)
    }

    /// Parameters other than `known` (metadata filters of a queue listing).
    pub fn others<'a>(&'a self, known: &'a [&str]) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0
            .iter()
            .filter(move |(k, _)| !known.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falcon_rules() {
        let q = Query::parse(Some("echo=True&limit=&ids=a,b&ids=c&n=x&claim_ids=c,c,"));
        assert_eq!(q.bool("echo"), Ok(Some(true)));
        assert_eq!(q.int("limit"), Ok(None));
        assert!(q.int("n").is_err());
        assert!(q.bool("n").is_err());
        assert_eq!(q.list("ids").unwrap(), vec!["a", "b", "c"]);
        assert_eq!(q.list("claim_ids").unwrap().len(), 2);
    }
}
