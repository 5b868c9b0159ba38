//! The decode phase: a success body becomes its type as it arrives, chunk by chunk, under
//! the client's cap. Most answers are small and decoded whole; the original queries'
//! results are decoded row by row (streaming.rs), so that their rows are held and their
//! body never is.

use std::marker::PhantomData;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use usage_models::ApiUsageQueryResult;

use super::streaming::ResultDecoder;

/// Turns a success body into `Output`, fed as the body arrives. A new one is made for
/// each attempt.
pub(crate) trait Decoder: Default + Send {
    /// What the body decodes to.
    type Output: Send;

    /// The body's announced length, when it has one (at most the cap).
    fn expect(&mut self, _declared: u64) {}

    /// One chunk of the body.
    fn feed(&mut self, chunk: Bytes) -> Result<(), String>;

    /// The whole body has arrived.
    fn finish(self) -> Result<Self::Output, String>;
}

/// A body read whole, then decoded by serde_json.
pub(crate) struct Whole<T> {
    first: Option<Bytes>,
    rest: Vec<u8>,
    declared: usize,
    output: PhantomData<fn() -> T>,
}

impl<T> Default for Whole<T> {
    fn default() -> Self {
        Self {
            first: None,
            rest: Vec::new(),
            declared: 0,
            output: PhantomData,
        }
    }
}

impl<T: DeserializeOwned + Send> Decoder for Whole<T> {
    type Output = T;

    fn expect(&mut self, declared: u64) {
        self.declared = usize::try_from(declared).unwrap_or(0);
    }

    fn feed(&mut self, chunk: Bytes) -> Result<(), String> {
        // Most bodies arrive in one chunk: it is decoded where it lies, without a copy.
        match self.first.take() {
            None if self.rest.is_empty() => self.first = Some(chunk),
            first => {
                if let Some(first) = first {
                    self.rest
                        .reserve(self.declared.max(first.len() + chunk.len()));
                    self.rest.extend_from_slice(&first);
                }
                self.rest.extend_from_slice(&chunk);
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<T, String> {
        let body: &[u8] = match &self.first {
            Some(first) => first,
            None => &self.rest,
        };
        serde_json::from_slice(body).map_err(|e| e.to_string())
    }
}

/// An `ApiUsageQueryResult` decoded row by row as the body arrives.
#[derive(Default)]
pub(crate) struct Rows(ResultDecoder);

impl Decoder for Rows {
    type Output = ApiUsageQueryResult;

    fn feed(&mut self, chunk: Bytes) -> Result<(), String> {
        self.0.feed(&chunk).map_err(|e| e.to_string())
    }

    fn finish(self) -> Result<ApiUsageQueryResult, String> {
        self.0.finish().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(chunks: &[&str]) -> Result<serde_json::Value, String> {
        let mut decoder = Whole::<serde_json::Value>::default();
        for chunk in chunks {
            decoder.feed(Bytes::copy_from_slice(chunk.as_bytes()))?;
        }
        decoder.finish()
    }

    #[test]
    fn a_body_in_any_number_of_chunks_decodes_as_one() {
        let one = whole(&[r#"{"a":[1,2,3],"b":"x"}"#]).unwrap();
        assert_eq!(
            whole(&[r#"{"a":[1,"#, r#"2,3],"#, r#""b":"x"}"#]).unwrap(),
            one
        );
        assert_eq!(whole(&[r#"{"a":[1,2,3],"b":"x"}"#, ""]).unwrap(), one);
        assert!(whole(&[r#"{"a":"#, "]"]).is_err());
        assert!(whole(&[]).is_err(), "an empty body is not a document");
    }
}
