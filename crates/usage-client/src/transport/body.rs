//! Reading a response body without trusting its size.
//!
//! A server may announce any `Content-Length` or send a chunked body that never ends; read
//! whole, either grows the process until the timeout fires. Every body is read here, counted
//! as it arrives, and refused at its cap: at once when the announced length is over it, or
//! as soon as the counted bytes pass it.

use bytes::Bytes;

/// The default cap of a success body. The largest legitimate answer measured (1,000,000
/// result rows, BENCHMARKS.md) is 372 MB; 512 MiB leaves room for longer names without
/// letting a broken server take gigabytes.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: u64 = 512 * 1024 * 1024;

/// The cap of an error answer's body: an `ErrorBody` is a few hundred bytes.
pub(crate) const MAX_ERROR_BODY_BYTES: u64 = 1024 * 1024;

/// The cap of the login service's token answer: a token response is a few KiB.
pub(crate) const MAX_TOKEN_BODY_BYTES: u64 = 64 * 1024;

/// Why a body was not read whole.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// Over `limit`: announced by `Content-Length`, or counted while reading.
    TooLarge { limit: u64 },
    /// The transfer failed (a broken connection, a timeout).
    Transport(reqwest::Error),
}

/// Reads `response`'s body, refusing more than `limit` bytes.
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    limit: u64,
) -> Result<Bytes, ReadError> {
    let declared = response.content_length();
    if declared.is_some_and(|n| n > limit) {
        return Err(ReadError::TooLarge { limit });
    }
    let first = match response.chunk().await.map_err(ReadError::Transport)? {
        None => return Ok(Bytes::new()),
        Some(chunk) => chunk,
    };
    // Most bodies arrive in one chunk: hand it on without a copy.
    let Some(second) = response.chunk().await.map_err(ReadError::Transport)? else {
        return check_len(first, limit);
    };
    // `declared` is at most `limit` here, so the capacity is bounded by the cap.
    let capacity = declared.map_or(first.len() + second.len(), |n| n as usize);
    let mut body = Vec::with_capacity(capacity);
    for chunk in [first, second] {
        push(&mut body, &chunk, limit)?;
    }
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        push(&mut body, &chunk, limit)?;
    }
    Ok(Bytes::from(body))
}

fn check_len(chunk: Bytes, limit: u64) -> Result<Bytes, ReadError> {
    if chunk.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(chunk)
}

fn push(body: &mut Vec<u8>, chunk: &[u8], limit: u64) -> Result<(), ReadError> {
    if (body.len() + chunk.len()) as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    body.extend_from_slice(chunk);
    Ok(())
}

/// Where a redirect pointed (never followed), as text even if not UTF-8.
pub(crate) fn location(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get(reqwest::header::LOCATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}
