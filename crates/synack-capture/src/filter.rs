//! `synack analyze --filter`: which attempts to keep. Values of one key are
//! alternatives (`port=80,port=443`: either), different keys must all
//! match (`outcome=refused,port=443`: both).

use std::net::{IpAddr, SocketAddr};

use crate::{Attempt, Outcome};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub outcomes: Vec<Outcome>,
    pub ports: Vec<u16>,
    pub hosts: Vec<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("`{0}`: expected key=value")]
    NoValue(String),
    #[error("`{0}`: outcomes are {1}")]
    Outcome(String, String),
    #[error("`{0}`: a port is 0..=65535")]
    Port(String),
    #[error("`{0}`: not an IP address")]
    Host(String),
    #[error("`{0}`: filter keys are outcome, port, host")]
    Key(String),
}

impl std::str::FromStr for Filter {
    type Err = FilterError;

    /// `outcome=half_open,port=443,host=192.0.2.1`, keys repeatable.
    fn from_str(s: &str) -> Result<Filter, FilterError> {
        let mut f = Filter::default();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| FilterError::NoValue(part.to_string()))?;
            let v = v.trim();
            match k.trim() {
                "outcome" => {
                    let o = v.replace('-', "_");
                    let found = Outcome::ALL.iter().find(|x| x.name() == o).ok_or_else(|| {
                        let names: Vec<_> = Outcome::ALL.iter().map(|x| x.name()).collect();
                        FilterError::Outcome(v.to_string(), names.join(", "))
                    })?;
                    f.outcomes.push(*found);
                }
                "port" => f
                    .ports
                    .push(v.parse().map_err(|_| FilterError::Port(v.to_string()))?),
                "host" => f
                    .hosts
                    .push(v.parse().map_err(|_| FilterError::Host(v.to_string()))?),
                other => return Err(FilterError::Key(other.to_string())),
            }
        }
        Ok(f)
    }
}

impl Filter {
    /// Whether `a` matches: every key given, any of its values.
    pub fn keeps(&self, a: &Attempt) -> bool {
        self.keeps_one(a.outcome, [a.client, a.server])
    }

    /// The same, of an attempt's outcome and ends.
    pub fn keeps_one(&self, outcome: Outcome, ends: [SocketAddr; 2]) -> bool {
        let any = |empty: bool, hit: bool| empty || hit;
        any(self.outcomes.is_empty(), self.outcomes.contains(&outcome))
            && any(
                self.ports.is_empty(),
                ends.iter().any(|e| self.ports.contains(&e.port())),
            )
            && any(
                self.hosts.is_empty(),
                ends.iter().any(|e| self.hosts.contains(&e.ip())),
            )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_key_is_any_of_its_values_and_keys_are_all() {
        let f: Filter = "port=80,port=53,outcome=refused".parse().unwrap();
        assert_eq!(f.ports, vec![80, 53]);
        assert_eq!(f.outcomes, vec![Outcome::Refused]);
        assert_eq!(
            "nope=1".parse::<Filter>(),
            Err(FilterError::Key("nope".into()))
        );
        assert!(matches!(
            "port=x".parse::<Filter>(),
            Err(FilterError::Port(_))
        ));
    }
}
