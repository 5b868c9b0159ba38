//! Decoding an [`ApiUsageQueryResult`] while its body arrives, so that the rows are held but
//! the body is not: a 100,000-row answer is about 35 MB of JSON for 20 MB of rows, and
//! reading it whole first roughly doubles what a query costs in memory.
//!
//! The decoder finds the elements of the top-level `results` array as the bytes come in.
//! A row that lies whole in its chunk is decoded there by serde_json's own decoder for
//! [`ApiUsageRow`], which also says where it ends; a row cut off by the chunk's end is
//! followed by a scanner (strings, escapes and nesting, nothing more) to its end, then
//! decoded from its pieces. Everything else of the document (the
//! *envelope*: `queryStatus`, `cursors`, unknown fields, with `"results":[]` where the rows
//! were) is kept and decoded by serde_json at the end, with the same rules as a whole body:
//! a document that `serde_json::from_slice` refuses is refused here too, and the rows of one
//! it accepts are the same rows. A `results` key spelled with escapes is not recognised by
//! the scanner; its array then stays in the envelope and is decoded at the end, correctly
//! if not streamed.

use usage_models::{ApiUsageQueryResult, ApiUsageRow};

/// Why a body was not a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamError(String);

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StreamError {}

fn fail<T>(why: impl Into<String>) -> Result<T, StreamError> {
    Err(StreamError(why.into()))
}

/// Where the scanner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Outside the rows: every byte goes to the envelope.
    Envelope,
    /// Inside `results`, between two rows.
    Between { after_element: bool },
    /// Inside a row (an element of `results`).
    Element,
}

/// What the top-level object expects next, to tell its keys from its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Top {
    Key,
    Colon,
    Value,
    Other,
}

/// An `ApiUsageQueryResult` decoded chunk by chunk: [`feed`](Self::feed) each chunk as it
/// arrives, then [`finish`](Self::finish).
#[derive(Debug)]
pub(crate) struct ResultDecoder {
    envelope: Vec<u8>,
    rows: Vec<ApiUsageRow>,
    /// The start of a row begun in an earlier chunk.
    partial: Vec<u8>,
    mode: Mode,
    depth: u32,
    in_string: bool,
    escaped: bool,
    top: Top,
    /// The raw bytes of the top-level key being read, and whether it had an escape.
    key: Vec<u8>,
    key_escaped: bool,
    /// The last top-level key read was `results`, so its value, if an array, is streamed.
    value_is_results: bool,
    results_seen: bool,
}

impl Default for ResultDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ResultDecoder {
    /// A decoder that has seen nothing yet.
    pub fn new() -> Self {
        Self {
            envelope: Vec::new(),
            rows: Vec::new(),
            partial: Vec::new(),
            mode: Mode::Envelope,
            depth: 0,
            in_string: false,
            escaped: false,
            top: Top::Other,
            key: Vec::new(),
            key_escaped: false,
            value_is_results: false,
            results_seen: false,
        }
    }

    /// Takes the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), StreamError> {
        // Where the current run of envelope bytes, or of a row's bytes, began in `chunk`.
        let mut run = 0;
        let mut i = 0;
        while i < chunk.len() {
            match self.mode {
                // Nearly every byte of a body is inside a row.
                Mode::Element => match self.scan_row(chunk, &mut i) {
                    Some(end) => {
                        self.row(&chunk[run..end])?;
                        run = end;
                    }
                    None => break,
                },
                Mode::Envelope if self.in_string => self.envelope_string(chunk, &mut i),
                Mode::Envelope => {
                    let b = chunk[i];
                    let opens_results = self.depth == 1
                        && self.top == Top::Value
                        && self.value_is_results
                        && b == b'[';
                    if !opens_results {
                        self.envelope_byte(b);
                        i += 1;
                        continue;
                    }
                    if self.results_seen {
                        return fail("duplicate field `results`");
                    }
                    self.results_seen = true;
                    self.value_is_results = false;
                    self.top = Top::Other;
                    // `"results":[` stays in the envelope; the rows do not.
                    self.envelope.extend_from_slice(&chunk[run..=i]);
                    self.depth = 2;
                    self.mode = Mode::Between {
                        after_element: false,
                    };
                    i += 1;
                    run = i;
                }
                Mode::Between { after_element } => {
                    match chunk[i] {
                        b' ' | b'\t' | b'\n' | b'\r' => {}
                        b']' if !after_element && !self.rows.is_empty() => {
                            return fail("a trailing `,` in `results`");
                        }
                        b']' => {
                            self.envelope.push(b']');
                            self.depth = 1;
                            self.top = Top::Other;
                            self.mode = Mode::Envelope;
                        }
                        b',' if after_element => {
                            self.mode = Mode::Between {
                                after_element: false,
                            };
                        }
                        b',' => return fail("a `,` without a row before it in `results`"),
                        _ if after_element => return fail("rows of `results` without a `,`"),
                        b'{' | b'[' => {
                            // A row starts here. Most rows lie whole in the chunk they
                            // start in: serde_json decodes those in place, in one pass.
                            if let Some(end) = self.row_in_place(&chunk[i..]) {
                                i += end;
                                run = i;
                                continue;
                            }
                            // Cut off by the chunk's end, or not a row: the scanner finds
                            // where it ends, and `row` decodes it (and says what is wrong).
                            self.mode = Mode::Element;
                            self.depth = 3;
                            run = i;
                            i += 1;
                            continue;
                        }
                        _ => return fail("a row of `results` that is not an object"),
                    }
                    i += 1;
                    run = i;
                }
            }
        }
        match self.mode {
            Mode::Envelope => self.envelope.extend_from_slice(&chunk[run..]),
            Mode::Element => self.partial.extend_from_slice(&chunk[run..]),
            Mode::Between { .. } => {}
        }
        Ok(())
    }

    /// Reads a string of the envelope from `*i`, up to its closing quote or the chunk's end,
    /// noting a top-level key on the way.
    fn envelope_string(&mut self, chunk: &[u8], i: &mut usize) {
        if self.escaped {
            self.escaped = false;
            self.note_key_bytes(&chunk[*i..=*i]);
            *i += 1;
            return;
        }
        let rest = &chunk[*i..];
        let Some(at) = memchr::memchr2(b'"', b'\\', rest) else {
            self.note_key_bytes(rest);
            *i = chunk.len();
            return;
        };
        self.note_key_bytes(&rest[..at]);
        *i += at;
        if chunk[*i] == b'\\' {
            self.escaped = true;
            if self.collecting_key() {
                self.key_escaped = true;
            }
        } else {
            self.in_string = false;
            self.end_string();
        }
        *i += 1;
    }

    /// Scans a row from `*i` to its closing bracket; returns the index just past it, or
    /// `None` (with `*i` at the end of the chunk) if the row goes on in the next chunk.
    fn scan_row(&mut self, chunk: &[u8], i: &mut usize) -> Option<usize> {
        let mut at = *i;
        let mut depth = self.depth;
        let mut in_string = self.in_string;
        let mut escaped = self.escaped;
        let mut end = None;
        while at < chunk.len() {
            if in_string {
                if escaped {
                    escaped = false;
                    at += 1;
                    continue;
                }
                // Strings are most of a row: jump to the next quote or backslash.
                match memchr::memchr2(b'"', b'\\', &chunk[at..]) {
                    None => at = chunk.len(),
                    Some(n) => {
                        at += n;
                        if chunk[at] == b'\\' {
                            escaped = true;
                        } else {
                            in_string = false;
                        }
                        at += 1;
                    }
                }
                continue;
            }
            // Between strings: a colon, a comma, a number, brackets; a few bytes.
            let b = chunk[at];
            at += 1;
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth = depth.saturating_add(1),
                // At least 3 here: the row's own bracket is still open.
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 2 {
                        end = Some(at);
                        break;
                    }
                }
                _ => {}
            }
        }
        self.depth = depth;
        self.in_string = in_string;
        self.escaped = escaped;
        *i = at;
        end
    }

    /// The whole result: the rows, and the rest of the document decoded by serde_json.
    pub fn finish(self) -> Result<ApiUsageQueryResult, StreamError> {
        if self.mode != Mode::Envelope || self.in_string {
            return fail("the body ended inside `results`");
        }
        let mut result: ApiUsageQueryResult =
            serde_json::from_slice(&self.envelope).map_err(|e| StreamError(e.to_string()))?;
        if self.results_seen {
            result.results = self.rows;
        }
        Ok(result)
    }

    /// Decodes the row at the start of `rest` if serde_json can; returns where it ends.
    ///
    /// Scanning every row for its end before decoding it read each byte twice, which cost a
    /// 1,000-row answer about 40 % more than decoding alone. A row that decodes here is one
    /// `serde_json::from_slice` accepts over the same bytes, and an object's end is where
    /// the scanner would find it; any failure (a row cut off by the chunk's end, or a bad
    /// one) leaves the row to the scanner and to [`row`](Self::row), as before.
    fn row_in_place(&mut self, rest: &[u8]) -> Option<usize> {
        let mut rows = serde_json::Deserializer::from_slice(rest).into_iter::<ApiUsageRow>();
        let row = rows.next()?.ok()?;
        let end = rows.byte_offset();
        self.rows.push(row);
        self.mode = Mode::Between {
            after_element: true,
        };
        Some(end)
    }

    /// A row ends with `bytes` (all of it, or its end if it began in an earlier chunk).
    fn row(&mut self, bytes: &[u8]) -> Result<(), StreamError> {
        self.mode = Mode::Between {
            after_element: true,
        };
        let decoded = if self.partial.is_empty() {
            serde_json::from_slice(bytes)
        } else {
            let mut whole = std::mem::take(&mut self.partial);
            whole.extend_from_slice(bytes);
            serde_json::from_slice(&whole)
        };
        let row: ApiUsageRow =
            decoded.map_err(|e| StreamError(format!("a row of `results`: {e}")))?;
        self.rows.push(row);
        Ok(())
    }

    fn collecting_key(&self) -> bool {
        self.mode == Mode::Envelope && self.depth == 1 && self.top == Top::Key
    }

    fn note_key_bytes(&mut self, bytes: &[u8]) {
        // Only whether the key is `results` (7 bytes) matters: keep no more than 8.
        if self.collecting_key() && self.key.len() <= 7 {
            self.key.extend_from_slice(&bytes[..bytes.len().min(8)]);
        }
    }

    /// A string closed: a top-level key is now known.
    fn end_string(&mut self) {
        if self.collecting_key() {
            self.value_is_results = !self.key_escaped && self.key == b"results";
            self.key.clear();
            self.key_escaped = false;
            self.top = Top::Colon;
        }
    }

    /// One byte of the envelope, outside strings: track the top level's keys and depth.
    fn envelope_byte(&mut self, b: u8) {
        match b {
            b'"' => {
                self.in_string = true;
                self.key.clear();
                self.key_escaped = false;
            }
            b'{' | b'[' => {
                if self.depth == 1 && self.top == Top::Value {
                    self.top = Top::Other;
                }
                self.depth = self.depth.saturating_add(1);
                if self.depth == 1 && b == b'{' {
                    self.top = Top::Key;
                }
            }
            b'}' | b']' => self.depth = self.depth.saturating_sub(1),
            b',' if self.depth == 1 => {
                self.top = Top::Key;
                self.value_is_results = false;
            }
            b':' if self.depth == 1 && self.top == Top::Colon => self.top = Top::Value,
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ if self.depth == 1 && self.top == Top::Value => {
                self.top = Top::Other;
                self.value_is_results = false;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &[u8], cuts: &[usize]) -> Result<ApiUsageQueryResult, StreamError> {
        let mut d = ResultDecoder::new();
        let mut at = 0;
        for &cut in cuts {
            let cut = cut.min(body.len()).max(at);
            d.feed(&body[at..cut])?;
            at = cut;
        }
        d.feed(&body[at..])?;
        d.finish()
    }

    fn whole(body: &[u8]) -> Result<ApiUsageQueryResult, String> {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    }

    const BODY: &str = r#" { "cursors": {"after": "x]}"},
        "results" : [ {"clientId":"a\"],{","requests":3,"date":"2026-10-01T00:00:00Z"} ,
        {"templateUri":"api/v2/users/{userId}","status429":1, "extra": [1, {"k": "]"}]} ],
        "queryStatus": "Complete", "unknown": {"results": [1]} } "#;

    #[test]
    fn every_split_gives_the_rows_of_the_whole_body() {
        let expected = whole(BODY.as_bytes()).unwrap();
        assert_eq!(expected.results.len(), 2);
        for cut in 0..=BODY.len() {
            for step in [1, 3, 17] {
                let cuts: Vec<usize> = (cut..BODY.len()).step_by(step.max(1)).collect();
                let got = decode(BODY.as_bytes(), &cuts).unwrap();
                assert_eq!(got, expected, "cut at {cut}, step {step}");
            }
        }
    }

    #[test]
    fn what_the_whole_decoder_refuses_is_refused() {
        for body in [
            r#"{"results":[{"requests":"3"}],"queryStatus":"Complete"}"#,
            r#"{"results":[1],"queryStatus":"Complete"}"#,
            r#"{"results":[{},],"queryStatus":"Complete"}"#,
            r#"{"results":[,{}]}"#,
            r#"{"results":[{} {}]}"#,
            r#"{"results":[{}],"results":[{}]}"#,
            r#"{"results":[{}]"#,
            r#"{"results":[{"a":"b]}"#,
            r#"{"queryStatus":"Complete"} x"#,
            r#"[]"#,
            r#""#,
        ] {
            assert!(whole(body.as_bytes()).is_err(), "{body}");
            for cut in 0..=body.len() {
                assert!(
                    decode(body.as_bytes(), &[cut]).is_err(),
                    "{body} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn bodies_without_streamable_rows_decode_whole() {
        for body in [
            r#"{"queryStatus":"Running"}"#,
            r#"{"results":[],"queryStatus":"Complete"}"#,
            r#"{"res\u0075lts":[{"requests":1}],"queryStatus":"Complete"}"#,
            r#"{"queryStatus":"Complete","results":null}"#,
        ] {
            let expected = whole(body.as_bytes());
            for cut in 0..=body.len() {
                assert_eq!(
                    decode(body.as_bytes(), &[cut]).map_err(|e| e.to_string()),
                    expected.clone(),
                    "{body} cut at {cut}"
                );
            }
        }
    }

    /// A string with the bytes the scanner must not be fooled by.
    fn tricky(rng: &mut fastrand::Rng) -> String {
        const PIECES: &[&str] = &[
            "a",
            "\"",
            "\\",
            "]",
            "}",
            "[",
            "{",
            ",",
            ":",
            " ",
            "\n",
            "é",
            "\u{1F600}",
            "results",
            "api/v2/users/{userId}",
        ];
        (0..rng.usize(0..8))
            .map(|_| PIECES[rng.usize(..PIECES.len())])
            .collect()
    }

    fn random_body(rng: &mut fastrand::Rng) -> String {
        use serde_json::{Value, json};
        let rows: Vec<Value> = (0..rng.usize(0..12))
            .map(|_| {
                let mut row = serde_json::Map::new();
                if rng.bool() {
                    row.insert("clientId".into(), json!(tricky(rng)));
                }
                if rng.bool() {
                    row.insert("templateUri".into(), json!(tricky(rng)));
                }
                if rng.bool() {
                    row.insert("requests".into(), json!(rng.i64(0..1_000_000)));
                }
                if rng.bool() {
                    row.insert("date".into(), json!("2026-10-01T00:00:00.000Z"));
                }
                if rng.bool() {
                    // Unknown fields, nested: ignored by the row, skipped by the scanner.
                    row.insert(
                        tricky(rng),
                        json!([{"k": tricky(rng)}, [tricky(rng)], null, 1.5]),
                    );
                }
                Value::Object(row)
            })
            .collect();
        let mut top = vec![("results", json!(rows)), ("queryStatus", json!("Complete"))];
        if rng.bool() {
            top.push(("cursors", json!({"after": tricky(rng)})));
        }
        // In any order (serde_json's map would sort the keys).
        rng.shuffle(&mut top);
        let pretty = rng.bool();
        let members: Vec<String> = top
            .iter()
            .map(|(k, v)| {
                let v = if pretty {
                    serde_json::to_string_pretty(v).unwrap()
                } else {
                    v.to_string()
                };
                format!("{}: {v}", json!(k))
            })
            .collect();
        format!("{{{}}}", members.join(if pretty { ",\n  " } else { "," }))
    }

    #[test]
    fn random_bodies_in_random_chunks_decode_as_whole_bodies_do() {
        for seed in 0..400u64 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let body = random_body(&mut rng);
            let expected = whole(body.as_bytes()).unwrap();
            let mut cuts = Vec::new();
            let mut at = 0;
            while at < body.len() {
                at += rng.usize(1..=64);
                cuts.push(at);
            }
            assert_eq!(
                decode(body.as_bytes(), &cuts).unwrap(),
                expected,
                "seed {seed}: {body}"
            );
            // Cut off anywhere, it is an error, never a panic or a shorter result.
            let end = rng.usize(0..body.len());
            let bytes = body.as_bytes();
            if bytes[..end].trim_ascii_end().len() < bytes.trim_ascii_end().len() {
                assert!(
                    decode(&body.as_bytes()[..end], &cuts).is_err(),
                    "seed {seed} at {end}"
                );
            }
        }
    }
}
