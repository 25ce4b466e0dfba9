//! The simulator's side of `private_key_jwt` (RFC 7523): it checks a client assertion as
//! Okta's org authorization server and Microsoft's identity platform do: the signature
//! against the registered public key (a test key pair whose private half is
//! `tests/fixtures/sim-client.key.pem`: public, never to be trusted anywhere), the header
//! naming that key, and `iss`, `sub`, `aud` and the times.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature;
use serde_json::Value;

/// The registered certificate (DER) and its RSA public key (PKCS#1 DER).
pub const CLIENT_CERT_DER: &[u8] = include_bytes!("keys/client.cert.der");
const CLIENT_PUBLIC_KEY: &[u8] = include_bytes!("keys/client.pub.der");
/// The `kid` of the simulated Okta service app's key in its JWKS.
pub const OKTA_KEY_ID: &str = "sim-key-1";
/// The simulated Okta API Services app.
pub const OKTA_CLIENT_ID: &str = "0oasimserviceapp0001";

/// The certificate's thumbprints as header fields: (`x5t`, SHA-1) and (`x5t#S256`, SHA-256).
pub fn thumbprints() -> [(&'static str, String); 2] {
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, CLIENT_CERT_DER);
    let sha256 = ring::digest::digest(&ring::digest::SHA256, CLIENT_CERT_DER);
    [
        ("x5t", URL_SAFE_NO_PAD.encode(sha1)),
        ("x5t#S256", URL_SAFE_NO_PAD.encode(sha256)),
    ]
}

/// The certificate's SHA-256 thumbprint in hex, as the Azure portal shows one.
pub fn thumbprint_hex() -> String {
    ring::digest::digest(&ring::digest::SHA256, CLIENT_CERT_DER)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Check `jwt`: signed by the registered key with an algorithm in `algs`, its header passing
/// `header_ok`, `iss` = `sub` = `client_id`, `aud` = `aud`, not expired, and living at most
/// `max_life` seconds. Why not, otherwise.
pub fn verify(
    jwt: &str,
    algs: &[&str],
    header_ok: impl Fn(&Value) -> bool,
    client_id: &str,
    aud: &str,
    max_life: i64,
) -> Result<(), String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, c, sig] = parts[..] else {
        return Err("the assertion is not a JWT".into());
    };
    let json = |p: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|_| "the assertion is not base64url".to_string())?;
        serde_json::from_slice(&bytes).map_err(|_| "the assertion is not JSON".to_string())
    };
    let (header, claims) = (json(h)?, json(c)?);
    let alg = header["alg"].as_str().unwrap_or("");
    if !algs.contains(&alg) {
        return Err(format!("the algorithm {alg} is not accepted"));
    }
    if !header_ok(&header) {
        return Err("the header does not name the registered key".into());
    }
    let scheme: &dyn signature::VerificationAlgorithm = match alg {
        "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
        _ => &signature::RSA_PKCS1_2048_8192_SHA256,
    };
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| "the signature is not base64url".to_string())?;
    signature::UnparsedPublicKey::new(scheme, CLIENT_PUBLIC_KEY)
        .verify(format!("{h}.{c}").as_bytes(), &sig)
        .map_err(|_| "the signature does not verify".to_string())?;
    let now = chrono::Utc::now().timestamp();
    let text = |k: &str| claims[k].as_str().unwrap_or("");
    if text("iss") != client_id || text("sub") != client_id {
        return Err("iss and sub must be the client id".into());
    }
    if text("aud") != aud {
        return Err(format!("aud must be {aud}"));
    }
    let exp = claims["exp"].as_i64().unwrap_or(0);
    if exp <= now || exp > now + max_life + 5 {
        return Err("exp is past or too far ahead".into());
    }
    Ok(())
}
