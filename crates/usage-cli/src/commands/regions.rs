//! `regions`: the regions the tool knows and their API hosts. Sends nothing.

use usage_ext::Region;

use crate::cli::Format;
use crate::commands::declared::{DATA, Declared, writes};
use crate::exit::Failure;
use crate::render::output::{Record, Sink};
use crate::session::Session;

pub const DECLARED: Declared = writes(DATA);

#[derive(serde::Serialize)]
struct RegionRow {
    name: &'static str,
    domain: &'static str,
    #[serde(rename = "apiBaseUrl")]
    api_base_url: String,
}

impl Record for RegionRow {
    fn columns() -> &'static [&'static str] {
        &["name", "domain", "apiBaseUrl"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.name.to_string(),
            self.domain.to_string(),
            self.api_base_url.clone(),
        ]
    }
}

pub fn exec(session: &Session) -> Result<(), Failure> {
    write(session.format, session.out()?).map_err(Failure::output)
}

fn write(format: Format, out: Box<dyn std::io::Write>) -> std::io::Result<()> {
    let mut sink = Sink::<RegionRow>::new(format, Default::default(), out)?;
    for region in Region::ALL {
        sink.row(&RegionRow {
            name: region.name(),
            domain: region.domain(),
            api_base_url: region.api_base_url(),
        })?;
    }
    sink.finish()
}
