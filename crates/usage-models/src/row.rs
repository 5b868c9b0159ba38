//! Borrowing accessors for [`ApiUsageRow`].
//!
//! Upstream marks no field of a row as required, so every generated field is an `Option`,
//! and printing one shows `Some("Data lake sync")`. These read a field with the value an
//! absent one stands for: `""` for names and ids, `0` for counts. Match on the field itself
//! to tell an absent value from an empty one.

use crate::ApiUsageRow;

macro_rules! text {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> &str {
            self.$name.as_deref().unwrap_or("")
        }
    )*};
}

macro_rules! count {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> i64 {
            self.$name.unwrap_or(0)
        }
    )*};
}

impl ApiUsageRow {
    text! {
        /// `clientId`, or `""`.
        client_id,
        /// `clientName`, or `""`.
        client_name,
        /// `organizationId`, or `""`.
        organization_id,
        /// `userId`, or `""`.
        user_id,
        /// `templateUri`, or `""`.
        template_uri,
        /// `httpMethod`, or `""`.
        http_method,
    }

    count! {
        /// `requests`, or 0.
        requests,
        /// `status200` (2xx answers), or 0.
        status200,
        /// `status300` (3xx answers), or 0.
        status300,
        /// `status400` (4xx answers, 429s included), or 0.
        status400,
        /// `status429` (rate-limited answers), or 0.
        status429,
        /// `status500` (5xx answers), or 0.
        status500,
    }
}

#[cfg(test)]
mod tests {
    use crate::ApiUsageRow;

    #[test]
    fn absent_fields_read_as_empty_and_zero() {
        let row = ApiUsageRow {
            client_name: Some("Data lake sync".into()),
            requests: Some(12),
            ..ApiUsageRow::default()
        };
        assert_eq!(row.client_name(), "Data lake sync");
        assert_eq!(row.requests(), 12);
        assert_eq!(row.template_uri(), "");
        assert_eq!(row.status429(), 0);
    }
}
