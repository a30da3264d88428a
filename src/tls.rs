//! HTTPS: the certificate chain and key from PEM files (`tls.cert_file`, `tls.key_file`), served
//! by rustls with the ring provider, TLS 1.2 and 1.3 only. The certificate sits behind a
//! resolver that SIGHUP can point at new files: handshakes after the swap get the new one,
//! connections already open keep theirs.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Read a PEM certificate chain (leaf first) and its private key, and check that they belong
/// together. Errors name the file and the fix, never key material.
pub fn load_certified_key(cert_file: &Path, key_file: &Path) -> Result<CertifiedKey, String> {
    let chain = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| pem_error("tls.cert_file", cert_file, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error("tls.cert_file", cert_file, &e))?;
    if chain.is_empty() {
        return Err(format!(
            "tls.cert_file {} holds no certificate: give a PEM file with the server's \
             certificate first, then its intermediates (BEGIN CERTIFICATE blocks)",
            cert_file.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => format!(
            "tls.key_file {} holds no private key: give a PEM file with BEGIN PRIVATE KEY, \
             BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY",
            key_file.display()
        ),
        e => pem_error("tls.key_file", key_file, &e),
    })?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| {
        format!(
            "tls.key_file {} does not go with the first certificate of tls.cert_file {} ({e}): \
             the certificate file must start with the server's own certificate",
            key_file.display(),
            cert_file.display()
        )
    })
}

fn pem_error(key: &str, path: &Path, e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => {
            format!("cannot read {key} {}: {io}", path.display())
        }
        other => format!("{key} {} is not valid PEM: {other:?}", path.display()),
    }
}

/// The certificate being served, replaceable while the server runs.
#[derive(Debug)]
pub struct CertResolver {
    current: RwLock<Arc<CertifiedKey>>,
    cert_file: PathBuf,
    key_file: PathBuf,
}

impl CertResolver {
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Self, String> {
        let key = load_certified_key(cert_file, key_file)?;
        Ok(Self {
            current: RwLock::new(Arc::new(key)),
            cert_file: cert_file.to_path_buf(),
            key_file: key_file.to_path_buf(),
        })
    }

    /// Read the files again; on any error the certificate in use stays.
    pub fn reload(&self) -> Result<(), String> {
        let key = load_certified_key(&self.cert_file, &self.key_file)?;
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(key);
        Ok(())
    }

    pub fn cert_file(&self) -> &Path {
        &self.cert_file
    }

    /// The DER of the certificate served now (its leaf).
    pub fn leaf(&self) -> Option<CertificateDer<'static>> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .cert
            .first()
            .cloned()
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone(),
        )
    }
}

/// A rustls server configuration: ring, TLS 1.3 and 1.2, no client certificates, the
/// certificate from `resolver`.
pub fn server_config(resolver: Arc<CertResolver>) -> Result<rustls::ServerConfig, String> {
    rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS configuration: {e}"))
        .map(|b| b.with_no_client_auth().with_cert_resolver(resolver))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf, Vec<u8>) {
        let cert = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
        let c = dir.join(format!("{name}.crt"));
        let k = dir.join(format!("{name}.key"));
        std::fs::write(&c, cert.cert.pem()).unwrap();
        std::fs::write(&k, cert.signing_key.serialize_pem()).unwrap();
        (c, k, cert.cert.der().to_vec())
    }

    #[test]
    fn loads_and_reloads_a_pair() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k, der) = write_pair(dir.path(), "one.test");
        let resolver = CertResolver::load(&c, &k).unwrap();
        assert_eq!(resolver.leaf().unwrap().as_ref(), der.as_slice());
        let (c2, k2, der2) = write_pair(dir.path(), "two.test");
        std::fs::copy(&c2, &c).unwrap();
        std::fs::copy(&k2, &k).unwrap();
        resolver.reload().unwrap();
        assert_eq!(resolver.leaf().unwrap().as_ref(), der2.as_slice());
        assert!(server_config(Arc::new(resolver)).is_ok());
    }

    #[test]
    fn a_bad_reload_keeps_the_old_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (c, k, der) = write_pair(dir.path(), "one.test");
        let resolver = CertResolver::load(&c, &k).unwrap();
        // A key of another certificate.
        let (_, other_key, _) = write_pair(dir.path(), "other.test");
        std::fs::copy(&other_key, &k).unwrap();
        let e = resolver.reload().unwrap_err();
        assert!(e.contains("does not go with"), "{e}");
        assert_eq!(resolver.leaf().unwrap().as_ref(), der.as_slice());
        std::fs::write(&c, "not pem").unwrap();
        let e = resolver.reload().unwrap_err();
        assert!(e.contains("holds no certificate"), "{e}");
        std::fs::remove_file(&c).unwrap();
        assert!(resolver.reload().unwrap_err().contains("cannot read"));
    }
}
