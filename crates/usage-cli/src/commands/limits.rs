//! `limits`: the org's limits in a namespace, effective value beside default, then the
//! org's requests to raise a limit over the last year. A login that may not read the
//! change requests (`limits:organization:view`) still gets the limits, and is told what the
//! permission would add.

use usage_ext::DayWindow;

use crate::cli::LimitsArgs;
use crate::cli::resolve::days_before;
use crate::commands::declared::{DATA, Declared, writes};
use crate::exit::Failure;
use crate::render::limits::LimitsView;
use crate::session::Session;
use crate::source::api::{Api, forbidden, not_found, today};

pub const DECLARED: Declared = writes(DATA);

pub struct Plan {
    namespace: String,
}

pub fn plan(args: LimitsArgs) -> Result<Plan, Failure> {
    // The namespace is a path segment and a name like `platform.api`: anything else is a
    // typo, refused here with the flag's name rather than answered 404 by the API. Unknown
    // but well-formed names are asked for: the namespaces change often.
    let name = args.namespace.as_str();
    let well_formed = !name.is_empty()
        && name.len() <= 100
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !well_formed {
        return Err(Failure::Usage(format!(
            "--namespace: {:?} is not a namespace name (lowercase letters, digits, dots and \
             dashes, e.g. platform.api)",
            crate::untrusted::terminal(name)
        )));
    }
    Ok(Plan {
        namespace: args.namespace,
    })
}

pub async fn exec(session: &Session, api: &Api, plan: &Plan) -> Result<(), Failure> {
    let queries = api.queries();
    let limits = match queries.organization_limits(&plan.namespace).await {
        Ok(limits) => limits,
        Err(e) if not_found(&e) => {
            return Err(Failure::NotFound(format!(
                "--namespace {}: no such namespace in this org (the service answered 404); \
                 platform.api holds the API's rate limits",
                plan.namespace
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let today = today();
    let year = DayWindow::new(days_before(today, 365, "limits")?, today)
        .ok_or_else(|| Failure::Usage("the last year has no day".into()))?;
    let change_requests = match queries.change_requests(year).await {
        // The listing has every namespace's: the namespace asked for only, a key alone
        // names no limit.
        Ok(mut requests) => {
            requests.retain(|r| r.namespace.as_str() == plan.namespace);
            Some(requests)
        }
        Err(e) if forbidden(&e) => {
            session.progress.note(
                "limits: the change requests are left out: the login lacks \
                 limits:organization:view, which would add the org's requests to raise a limit",
            );
            None
        }
        Err(e) => return Err(e.into()),
    };
    let view = LimitsView {
        namespace: plan.namespace.clone(),
        limits,
        change_requests,
    };
    let mut out = session.out()?;
    view.write(session.format, session.csv, &mut out)
        .and_then(|()| out.flush())
        .map_err(Failure::output)
}
