//! Support for the generated open enums: the kept unknown value and the deserializer.

use std::fmt;

/// A string the service sent for an enum, that this version does not list.
///
/// It can only come from the wire (or `From<&str>` on the enum), never be built from a
/// listed value: `QueryStatus::from("Complete")` is always `QueryStatus::Complete`, so a
/// `match` on known variants is reliable.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnknownValue(Box<str>);

impl UnknownValue {
    pub(crate) fn new(value: &str) -> Self {
        Self(value.into())
    }

    pub(crate) fn new_owned(value: String) -> Self {
        Self(value.into_boxed_str())
    }

    /// The value exactly as the service sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Deserializes any string into an open enum; borrowed input avoids an allocation for the
/// known values.
pub(crate) fn deserialize<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: for<'a> From<&'a str> + From<String>,
{
    struct Visitor<T>(std::marker::PhantomData<T>);

    impl<T> serde::de::Visitor<'_> for Visitor<T>
    where
        T: for<'a> From<&'a str> + From<String>,
    {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<T, E> {
            Ok(T::from(value))
        }

        fn visit_string<E: serde::de::Error>(self, value: String) -> Result<T, E> {
            Ok(T::from(value))
        }
    }

    deserializer.deserialize_str(Visitor(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use crate::{LimitNamespace, Metric, QueryStatus};

    #[test]
    fn known_values_are_variants() {
        let status: QueryStatus = serde_json::from_str(r#""Complete""#).unwrap();
        assert_eq!(status, QueryStatus::Complete);
        assert!(!status.is_unknown());
        let ns: LimitNamespace = serde_json::from_str(r#""web.deployments""#).unwrap();
        assert_eq!(ns, LimitNamespace::WebDeployments);
        assert_eq!(serde_json::to_string(&ns).unwrap(), r#""web.deployments""#);
    }

    #[test]
    fn unknown_values_round_trip_unchanged() {
        for raw in [r#""Queued""#, r#""complete""#, r#""""#, r#""Status\u00e9""#] {
            let status: QueryStatus = serde_json::from_str(raw).unwrap();
            assert!(status.is_unknown(), "{raw} should be unknown");
            let back = serde_json::to_string(&status).unwrap();
            let again: QueryStatus = serde_json::from_str(&back).unwrap();
            assert_eq!(again, status);
            assert_eq!(
                serde_json::from_str::<String>(&back).unwrap(),
                serde_json::from_str::<String>(raw).unwrap()
            );
        }
    }

    #[test]
    fn from_str_never_builds_unknown_for_a_listed_value() {
        for value in Metric::VALUES {
            let metric = Metric::from(*value);
            assert!(!metric.is_unknown());
            assert_eq!(metric.as_str(), *value);
            assert_eq!(Metric::from(value.to_string()), metric);
            assert_eq!(value.parse::<Metric>().unwrap(), metric);
        }
        assert_eq!(Metric::from("Status999").to_string(), "Status999");
    }

    #[test]
    fn non_strings_are_rejected() {
        assert!(serde_json::from_str::<QueryStatus>("42").is_err());
        assert!(serde_json::from_str::<QueryStatus>("null").is_err());
    }
}
