//! What the numbers say: the report's sums per client and endpoint with the trend, the
//! billing period's projection, and the rules `check` judges. Computed from rows, never
//! written to a terminal or a file here: `render` does that.

pub mod allowance;
pub mod billing;
pub mod evidence;
pub mod limits;
pub mod live;
pub mod report;
pub mod rules;
pub mod tally;
pub mod usage;
