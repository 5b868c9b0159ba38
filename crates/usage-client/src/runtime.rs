//! The hand-written runtime the generated client carries as its inner value. It acts
//! through progenitor's `ClientHooks`, which is why it must live in this crate.

use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{HeaderValue, USER_AGENT};

use crate::{Client, path_guard};

/// `genesys-usage-rs/<version>`: lets Genesys support tell this SDK's traffic apart.
pub const USER_AGENT_VALUE: &str = concat!("genesys-usage-rs/", env!("CARGO_PKG_VERSION"));

/// Per-client state shared by every request of a client and its clones.
#[derive(Clone, Debug, Default)]
pub struct Runtime {}

impl ClientHooks<Runtime> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        path_guard::check(self.baseurl(), info.operation_id, request.url())
            .map_err(progenitor_client::Error::InvalidRequest)?;
        request
            .headers_mut()
            .insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        Ok(())
    }
}
