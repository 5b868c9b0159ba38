//! TLS material, built once per process, and the certificate store read only when a TLS
//! connection needs it.
//!
//! Left to itself, reqwest builds a new rustls configuration for every client, reading and
//! parsing the system's certificate bundle each time: 2 to 4 ms, most of what building a
//! client costs (BENCHMARKS.md has the profile). Here one configuration is shared by every
//! client of the process. It is the one reqwest would build (the platform verifier over the
//! process's crypto provider, TLS 1.2 and 1.3, ALPN `h2` then `http/1.1`), except that the
//! platform verifier, and with it the certificate bundle, is built at the first server
//! certificate to verify instead of with the client: a handshake with the Genesys Cloud API
//! costs a network round trip or two anyway, and a client built and never used costs
//! nothing.
//!
//! A client whose API and login URLs are both plain http (which the builder allows for
//! loopback hosts only: a fake, a test server) never makes a TLS connection: no redirect is
//! followed, and a proxy serves https targets only. It gets a configuration without roots,
//! built in microseconds, and the certificate bundle is not read at all.

use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

/// The process's crypto provider, or this build's default: aws-lc-rs, or ring for a
/// `tls-ring` build (which `install_tls_provider` installs as the process default).
fn provider() -> Arc<CryptoProvider> {
    if let Some(provider) = CryptoProvider::get_default() {
        return provider.clone();
    }
    #[cfg(feature = "tls-aws-lc-rs")]
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(not(feature = "tls-aws-lc-rs"))]
    let provider = rustls::crypto::ring::default_provider();
    Arc::new(provider)
}

fn with_alpn(mut config: ClientConfig) -> ClientConfig {
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

/// The platform verifier, built at its first use.
#[derive(Debug)]
pub(crate) struct Deferred {
    provider: Arc<CryptoProvider>,
    verifier: OnceLock<Result<rustls_platform_verifier::Verifier, String>>,
}

impl Deferred {
    pub(crate) fn new(provider: Arc<CryptoProvider>) -> Self {
        Self {
            provider,
            verifier: OnceLock::new(),
        }
    }

    fn get(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| {
                rustls_platform_verifier::Verifier::new(self.provider.clone())
                    .map_err(|e| format!("the platform certificate verifier: {e}"))
            })
            .as_ref()
            .map_err(|e| rustls::Error::General(e.clone()))
    }
}

impl ServerCertVerifier for Deferred {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.get()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.get()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.get()?.verify_tls13_signature(message, cert, dss)
    }

    /// The platform verifier's answer, which is the provider's: known without building it.
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The configuration for https: built once, then cloned (its parts are shared).
pub(crate) fn verifying() -> Result<ClientConfig, String> {
    static SHARED: Mutex<Option<ClientConfig>> = Mutex::new(None);
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(config) = shared.as_ref() {
        return Ok(config.clone());
    }
    let provider = provider();
    let verifier = Deferred::new(provider.clone());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let config = with_alpn(config);
    *shared = Some(config.clone());
    Ok(config)
}

/// The configuration for a client that only speaks plain http: no roots, never used.
pub(crate) fn unused() -> Result<ClientConfig, String> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Ok(with_alpn(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate for `localhost` (made with openssl for this test).
    const SELF_SIGNED: &str = include_str!("../../tests/fixtures/self-signed.pem");

    fn der(pem: &str) -> CertificateDer<'static> {
        use base64::Engine as _;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        CertificateDer::from(
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap(),
        )
    }

    #[test]
    fn the_deferred_verifier_verifies_and_refuses_what_the_platform_refuses() {
        let provider = provider();
        let deferred = Deferred::new(provider.clone());
        assert!(deferred.verifier.get().is_none(), "nothing read before use");
        let platform = rustls_platform_verifier::Verifier::new(provider).unwrap();
        assert_eq!(
            deferred.supported_verify_schemes(),
            platform.supported_verify_schemes()
        );
        let name = ServerName::try_from("localhost").unwrap();
        let now = UnixTime::now();
        let cert = der(SELF_SIGNED);
        let ours = deferred.verify_server_cert(&cert, &[], &name, &[], now);
        let theirs = platform.verify_server_cert(&cert, &[], &name, &[], now);
        assert!(ours.is_err(), "a self-signed certificate was accepted");
        assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
        assert!(deferred.verifier.get().is_some(), "built at first use");
        // Garbage is refused too, not waved through.
        let garbage = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
        assert!(
            deferred
                .verify_server_cert(&garbage, &[], &name, &[], now)
                .is_err()
        );
    }

    #[test]
    fn https_clients_share_one_configuration_with_reqwests_alpn() {
        let a = verifying().unwrap();
        let b = verifying().unwrap();
        assert!(Arc::ptr_eq(a.crypto_provider(), b.crypto_provider()));
        assert_eq!(a.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert!(a.enable_sni);
        assert_eq!(unused().unwrap().alpn_protocols, a.alpn_protocols);
    }
}
