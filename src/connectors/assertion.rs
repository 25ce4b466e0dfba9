//! Client authentication with a private key (RFC 7523 `private_key_jwt`): a short-lived JWT,
//! signed with the client's RSA key, that the token endpoint checks against the public key or
//! certificate registered for the client. Okta's service apps sign `RS256` with a `kid` naming
//! the key in the app's JWKS (`directories.md` A.2.2); Entra's certificate credentials sign
//! `PS256` with `x5t#S256`, the certificate's SHA-256 thumbprint (`RS256` with `x5t`, its
//! SHA-1, for the older form) (B.2). The private key is a secret: it comes from the keyring or
//! the environment like every key, and only its signatures leave this module.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{self, RsaKeyPair};

use crate::secret::Secret;

/// The signing algorithm a token endpoint expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    Rs256,
    Ps256,
}

impl Alg {
    fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Ps256 => "PS256",
        }
    }
}

/// A client's signing key and what its assertions' header carries.
pub struct Signer {
    key: RsaKeyPair,
    alg: Alg,
    /// Header fields naming the key: `kid`, `x5t`, `x5t#S256`.
    names: Vec<(&'static str, String)>,
    /// How long an assertion is valid.
    lifetime: i64,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("alg", &self.alg)
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// The DER of a private key given as PEM (`PRIVATE KEY`, PKCS#8; `RSA PRIVATE KEY`, PKCS#1),
/// as PEM whose line breaks were written `\n` (one line, for an environment variable or the
/// keyring), or as the bare base64 of the DER. Whether it is PKCS#1.
fn der(text: &str) -> Result<(Vec<u8>, bool), String> {
    let text = text.trim().replace("\\n", "\n");
    let pkcs1 = text.contains("BEGIN RSA PRIVATE KEY");
    if text.contains("-----BEGIN") && !text.contains("PRIVATE KEY-----") {
        return Err("it is PEM but not a private key (a certificate or a public key?)".into());
    }
    if text.contains("ENCRYPTED PRIVATE KEY") {
        return Err(
            "it is encrypted: give the key without a passphrase (openssl pkcs8 -topk8 -nocrypt)"
                .into(),
        );
    }
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(|l| l.split_whitespace())
        .collect();
    let der = STANDARD
        .decode(body.as_bytes())
        .map_err(|_| "it is neither PEM nor base64".to_string())?;
    Ok((der, pkcs1))
}

impl Signer {
    /// A signer from the key text (see `der`). Errors say what is wrong, never the key.
    pub fn new(
        key: &Secret,
        alg: Alg,
        names: Vec<(&'static str, String)>,
        lifetime: i64,
    ) -> Result<Signer, String> {
        let (der, pkcs1) = der(key.expose())?;
        let key = if pkcs1 {
            RsaKeyPair::from_der(&der)
        } else {
            RsaKeyPair::from_pkcs8(&der)
        }
        .map_err(|e| format!("it is not an RSA private key recert can sign with ({e}); give a PKCS#8 PEM (openssl pkcs8 -topk8 -nocrypt) of 2048 bits or more"))?;
        Ok(Signer {
            key,
            alg,
            names,
            lifetime,
        })
    }

    /// A signed assertion: `iss` = `sub` = `client_id`, `aud` = the token endpoint, `iat`,
    /// `nbf`, `exp` (`lifetime` seconds on), a random `jti`.
    pub fn assertion(&self, client_id: &str, aud: &str, now: i64) -> Result<String, String> {
        let mut header = serde_json::json!({"alg": self.alg.name(), "typ": "JWT"});
        for (k, v) in &self.names {
            header[*k] = serde_json::Value::String(v.clone());
        }
        let rng = ring::rand::SystemRandom::new();
        let mut jti = [0u8; 16];
        ring::rand::SecureRandom::fill(&rng, &mut jti).map_err(|_| "no randomness".to_string())?;
        // A version-4 UUID, as Entra asks (`jti` is a GUID).
        jti[6] = (jti[6] & 0x0f) | 0x40;
        jti[8] = (jti[8] & 0x3f) | 0x80;
        let h: String = jti.iter().map(|b| format!("{b:02x}")).collect();
        let jti = format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        );
        let claims = serde_json::json!({
            "iss": client_id, "sub": client_id, "aud": aud, "jti": jti,
            "iat": now, "nbf": now, "exp": now + self.lifetime,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        let padding: &dyn signature::RsaEncoding = match self.alg {
            Alg::Rs256 => &signature::RSA_PKCS1_SHA256,
            Alg::Ps256 => &signature::RSA_PSS_SHA256,
        };
        self.key
            .sign(padding, &rng, signing_input.as_bytes(), &mut sig)
            .map_err(|_| "the key could not sign".to_string())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// A certificate thumbprint as the Azure portal shows it (hex, SHA-1: 40 digits; SHA-256: 64,
/// colons and spaces allowed) as the header field naming it: `x5t` or `x5t#S256`, base64url.
pub fn thumbprint(hex: &str) -> Result<(&'static str, String), String> {
    let digits: String = hex.chars().filter(|c| !matches!(c, ':' | ' ')).collect();
    let bytes: Option<Vec<u8>> = (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok())
        .collect();
    match (bytes, digits.len()) {
        (Some(b), 40) => Ok(("x5t", URL_SAFE_NO_PAD.encode(b))),
        (Some(b), 64) => Ok(("x5t#S256", URL_SAFE_NO_PAD.encode(b))),
        _ => Err("certificate_thumbprint must be the certificate's SHA-256 (64 hex digits) or SHA-1 (40) thumbprint".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_every_written_form_and_clear_refusals() {
        let pem = include_str!("../../tests/fixtures/sim-client.key.pem");
        for form in [
            pem.to_string(),
            pem.replace('\n', "\\n"),
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        ] {
            let s = Signer::new(
                &Secret::new(form),
                Alg::Ps256,
                vec![("kid", "k1".into())],
                600,
            )
            .unwrap();
            let jwt = s
                .assertion("client", "https://idp.example/token", 1_800_000_000)
                .unwrap();
            let parts: Vec<&str> = jwt.split('.').collect();
            assert_eq!(parts.len(), 3);
            let header: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
            assert_eq!(header["alg"], "PS256");
            assert_eq!(header["kid"], "k1");
            let claims: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
            assert_eq!(claims["exp"], 1_800_000_600);
            assert_eq!(claims["iss"], claims["sub"]);
        }
        for (bad, says) in [
            (
                "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                "not a private key",
            ),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----",
                "encrypted",
            ),
            ("sk-not a key at all", "neither PEM nor base64"),
            ("QUJDRA==", "not an RSA private key"),
        ] {
            let e = Signer::new(&Secret::new(bad), Alg::Rs256, vec![], 60).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(
                !e.contains("MIIB") && !e.contains("QUJD"),
                "never the key: {e}"
            );
        }
        assert_eq!(thumbprint("34:5B:C7:7F:E4:C6:3B:02:C8:77:88:BF:BF:16:BE:92:2B:25:C8:05:E9:B3:8E:CD:ED:B5:3F:A1:73:90:9C:5B").unwrap().0, "x5t#S256");
        assert_eq!(thumbprint(&"ab".repeat(20)).unwrap().0, "x5t");
        assert!(thumbprint("xyz").is_err());
    }
}
