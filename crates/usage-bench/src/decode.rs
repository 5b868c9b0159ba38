//! Decoding a 100,000-row `ApiUsageQueryResult` body: our models vs the plain floor.

use std::time::Instant;

use usage_client::models::ApiUsageQueryResult;

use crate::floor::PlainResult;
use crate::measure::{median, ms};

/// The body size the issue names (about 37 MB).
pub const ROWS: usize = 100_000;
const RUNS: usize = 11;

pub fn run(rows: usize) -> crate::Result {
    let body = usage_fake::sample_result_body(rows, 7);
    let mut ours = Vec::new();
    let mut floor = Vec::new();
    // Interleaved, so drift in the machine's speed hits both alike.
    for _ in 0..RUNS {
        let t = Instant::now();
        let plain: PlainResult = serde_json::from_slice(&body)?;
        floor.push(t.elapsed());
        assert_eq!(plain.results.len(), rows);
        drop(plain);

        let t = Instant::now();
        let result: ApiUsageQueryResult = serde_json::from_slice(&body)?;
        ours.push(t.elapsed());
        assert_eq!(result.results.len(), rows);
        drop(result);
    }
    let (ours, floor) = (median(&mut ours), median(&mut floor));
    println!(
        "decode: {rows} rows, {:.1} MB: usage-models {:.1} ms, floor {:.1} ms, ratio {:.3} (target <= 1.10), median of {RUNS}",
        body.len() as f64 / 1e6,
        ms(ours),
        ms(floor),
        ours.as_secs_f64() / floor.as_secs_f64()
    );
    Ok(())
}
