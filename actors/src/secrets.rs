//! Every secret the runtime uses, passed in once: the card issuer's secret,
//! the license server's key, the group certificate key, and the roots that
//! device secrets and demo content keys derive from. `Debug` is redacted; no
//! secret ever reaches an event, an error or a log line.

use encore_domain::groups::{CertificateKey, DeviceSecret};
use encore_domain::ids::{CardId, ContentId, DeviceId};
use encore_domain::licensing::{CardChip, ContentKey, IssuerSecret, LicenseServerKey};

const ISSUER_CONTEXT: &str = "encore-actors secrets issuer v1";
const LICENSE_SERVER_CONTEXT: &str = "encore-actors secrets license server v1";
const CERTIFICATE_CONTEXT: &str = "encore-actors secrets certificate v1";
const DEVICE_ROOT_CONTEXT: &str = "encore-actors secrets device root v1";
const CONTENT_ROOT_CONTEXT: &str = "encore-actors secrets content root v1";

/// The runtime's key material.
pub struct Secrets {
    issuer: IssuerSecret,
    license_server: LicenseServerKey,
    certificate: CertificateKey,
    device_root: [u8; 32],
    content_root: [u8; 32],
}

impl Secrets {
    pub fn new(issuer: IssuerSecret, license_server: LicenseServerKey, certificate: CertificateKey, device_root: [u8; 32], content_root: [u8; 32]) -> Self {
        Secrets { issuer, license_server, certificate, device_root, content_root }
    }

    /// Deterministic secrets for demos, scenarios and tests: every key is
    /// derived from `seed` with its own blake3 context.
    pub fn from_seed(seed: &[u8]) -> Self {
        let derive = |context| blake3::derive_key(context, seed);
        Secrets {
            issuer: IssuerSecret::from_bytes(derive(ISSUER_CONTEXT)),
            license_server: LicenseServerKey::from_bytes(derive(LICENSE_SERVER_CONTEXT)),
            certificate: CertificateKey::from_bytes(derive(CERTIFICATE_CONTEXT)),
            device_root: derive(DEVICE_ROOT_CONTEXT),
            content_root: derive(CONTENT_ROOT_CONTEXT),
        }
    }

    pub fn issuer(&self) -> &IssuerSecret {
        &self.issuer
    }

    pub fn license_server(&self) -> &LicenseServerKey {
        &self.license_server
    }

    pub fn certificate(&self) -> &CertificateKey {
        &self.certificate
    }

    /// The secret that keys a device's source id list MAC.
    pub fn device_secret(&self, device: &DeviceId) -> DeviceSecret {
        DeviceSecret::from_bytes(keyed(&self.device_root, device.as_str()))
    }

    /// A demo content key for `content` (a real deployment gets keys from the content owner).
    pub fn content_key(&self, content: &ContentId) -> ContentKey {
        ContentKey::from_bytes(keyed(&self.content_root, content.as_str()))
    }

    /// The chip of a genuine card, as the issuer personalises it.
    pub fn genuine_chip(&self, card: CardId) -> CardChip {
        CardChip::issue(&self.issuer, card)
    }
}

fn keyed(root: &[u8; 32], name: &str) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_keyed(root);
    hasher.update(name.as_bytes());
    *hasher.finalize().as_bytes()
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

impl Drop for Secrets {
    fn drop(&mut self) {
        self.device_root = [0; 32];
        self.content_root = [0; 32];
        std::hint::black_box(&self.device_root);
        std::hint::black_box(&self.content_root);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_secrets_are_deterministic_and_redacted() {
        let a = Secrets::from_seed(b"demo");
        let b = Secrets::from_seed(b"demo");
        assert_eq!(a.issuer(), b.issuer());
        assert_ne!(a.issuer(), Secrets::from_seed(b"other").issuer());
        let d = DeviceId::new("pd1").unwrap();
        assert_eq!(a.device_secret(&d), b.device_secret(&d));
        assert_eq!(format!("{a:?}"), "Secrets(<redacted>)");
    }
}
