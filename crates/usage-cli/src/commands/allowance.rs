//! `allowance`: the billing period's requests against the org's fair-use allocation,
//! projected to the period's end, and per OAuth client who drives it (`analysis::billing`
//! computes it, `render::allowance` writes it).

use std::io::Write as _;

use crate::analysis::billing::{self, Allocation, PeriodAsk};
use crate::cli::{AllowanceArgs, resolve};
use crate::commands::declared::{DATA_AND_PAGE, Declared, writes};
use crate::exit::Failure;
use crate::render::allowance;
use crate::session::Session;
use crate::source::Source;

pub const DECLARED: Declared = writes(DATA_AND_PAGE);

/// The period asked for and the allocation, resolved before anything is sent.
pub struct Plan {
    pub from: Option<String>,
    ask: PeriodAsk,
    allocation: Allocation,
}

/// Checks the licenses (or the allocation) and the allowance table; exit 2 on a bad one.
pub fn plan(args: AllowanceArgs) -> Result<Plan, Failure> {
    Ok(Plan {
        allocation: resolve::allocation(&args.allocation)?,
        ask: PeriodAsk {
            billing_day: args.allocation.billing_day,
            period: args.period,
            as_of: args.as_of,
            exclude: args.exclude.exclude,
            concurrency: args.jobs.concurrency.get(),
        },
        from: args.dataset.from,
    })
}

pub async fn exec(session: &Session, source: &Source, plan: &Plan) -> Result<(), Failure> {
    let report = billing::compute(source, &session.progress, &plan.ask, &plan.allocation).await?;
    let mut out = session.out()?;
    allowance::write(
        &mut out,
        session.format,
        session.csv,
        &report,
        &source.describe(),
    )
    .and_then(|()| out.flush())
    .map_err(Failure::output)
}
