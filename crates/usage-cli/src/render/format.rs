//! The formats a command writes its data in (`--format`, or the `--output` file's
//! extension).

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// Comma-separated, a header row of the API's field names; streamed.
    Csv,
    /// One JSON array.
    Json,
    /// One JSON object per line; streamed.
    Ndjson,
    /// `report`, `allowance` and `evidence`: one self-contained HTML page (inline SVG and
    /// CSS, nothing fetched).
    Html,
    /// `jobs --granularity Day` only: timestamped samples for Prometheus's backfill
    /// (`promtool tsdb create-blocks-from openmetrics`).
    Openmetrics,
}
