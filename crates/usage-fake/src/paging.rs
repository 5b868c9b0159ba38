//! Pages of an execution's rows, as the jobs and the simple search page them: `pageSize`,
//! opaque cursors under the execution's seed, and the first page as the poll.

use std::collections::HashMap;

use axum::response::Response;

use crate::errors::Refusal;
use crate::ids;
use crate::state::{Execution, Kind, Outcome, Owner, State};

const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: usize = 1000;

/// An opaque cursor: the offset and a check of it under the job's seed, so a cursor of
/// another job or an edited one is refused.
pub(crate) fn cursor(seed: u64, offset: usize) -> String {
    format!("{offset:x}.{:08x}", ids::mix(seed ^ offset as u64) as u32)
}

fn offset_of(seed: u64, cursor_text: &str) -> Option<usize> {
    let (offset, _) = cursor_text.split_once('.')?;
    let offset = usize::from_str_radix(offset, 16).ok()?;
    (cursor(seed, offset) == cursor_text).then_some(offset)
}

/// `pageSize` of a page request: 1 to 1000, 100 when absent.
pub(crate) fn page_size(params: &HashMap<String, String>) -> Result<usize, Refusal> {
    match params.get("pageSize") {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| {
                Refusal::invalid_param("pageSize", text, &format!("1 to {MAX_PAGE_SIZE}"))
            }),
    }
}

/// Where a page starts: 0 without `after`, the cursor's offset with one (an edited cursor,
/// another execution's, or one past the rows is refused).
fn page_offset(params: &HashMap<String, String>, seed: u64, rows: usize) -> Result<usize, Refusal> {
    match params.get("after") {
        None => Ok(0),
        Some(after) => match offset_of(seed, after) {
            Some(offset) if offset < rows => Ok(offset),
            _ => Err(Refusal::invalid_param(
                "after",
                after,
                "a cursor from nextUri",
            )),
        },
    }
}

/// The execution a page request is for, and where its page starts; or the answer already:
/// not found, a refused cursor, or `unfinished(execution, ended)` for one still running
/// (`ended` false) or ended other than `Complete` (`ended` true). The first page is a poll; a page after it (`after`) is
/// not, the execution being done by then. Jobs and simple searches page alike.
pub(crate) fn page_of(
    state: &State,
    owner: &Owner,
    id: &str,
    kind: Kind,
    params: &HashMap<String, String>,
    unfinished: impl FnOnce(&Execution, bool) -> Response,
) -> Result<(Execution, usize), Box<Response>> {
    let execution = if params.contains_key("after") {
        state
            .execution(id)
            .filter(|e| e.kind == kind && e.owner == *owner)
            .ok_or_else(|| Box::new(Refusal::not_found().render(state)))?
    } else {
        match state.poll(id, owner, kind) {
            None => return Err(Box::new(Refusal::not_found().render(state))),
            Some((execution, true)) if execution.outcome == Outcome::Complete => execution,
            Some((execution, ended)) => return Err(Box::new(unfinished(&execution, ended))),
        }
    };
    let offset = page_offset(params, execution.seed, execution.rows.len())
        .map_err(|refused| Box::new(refused.render(state)))?;
    Ok((execution, offset))
}

#[cfg(test)]
mod tests {
    use super::{cursor, offset_of};

    #[test]
    fn cursors_round_trip_and_refuse_edits() {
        let c = cursor(42, 1000);
        assert_eq!(offset_of(42, &c), Some(1000));
        assert_eq!(offset_of(43, &c), None, "another job's cursor");
        assert_eq!(offset_of(42, "3e8.00000000"), None);
        assert_eq!(offset_of(42, "bogus"), None);
    }
}
