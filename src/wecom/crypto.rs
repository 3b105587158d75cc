//! WeCom callback crypto, compatible with the official WXBizMsgCrypt libraries.
//!
//! `msg_signature = hex(sha1(sort(token, timestamp, nonce, encrypt).join()))`;
//! the payload is `random(16) ‖ len(4, BE) ‖ msg ‖ receive_id`, PKCS#7-padded to a
//! multiple of **32** bytes (not AES's 16) and encrypted with AES-256-CBC, IV = key[..16].

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// WeCom pads to 32-byte blocks, whatever AES's own block size.
const PAD_BLOCK: usize = 32;
const RANDOM_LEN: usize = 16;
const HEADER_LEN: usize = RANDOM_LEN + 4;

/// The official keys' base64 has non-zero trailing bits, which the strict engine refuses.
const LENIENT_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The official error cases (`ierror.py`), as a typed error. `code()` gives the official number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("signature does not match (-40001)")]
    ValidateSignature,
    #[error("XML could not be parsed (-40002)")]
    ParseXml,
    #[error("EncodingAESKey is not 43 characters of [A-Za-z0-9] (-40004)")]
    IllegalAesKey,
    #[error("receive id does not match (-40005)")]
    ValidateReceiveId,
    #[error("AES decryption failed: ciphertext length or padding is wrong (-40007)")]
    DecryptAes,
    #[error("decrypted buffer is too short or its length field runs past it (-40008)")]
    IllegalBuffer,
    #[error("base64 decoding failed (-40010)")]
    DecodeBase64,
}

impl CryptoError {
    /// The official numeric code of this error.
    pub fn code(&self) -> i32 {
        match self {
            CryptoError::ValidateSignature => -40001,
            CryptoError::ParseXml => -40002,
            CryptoError::IllegalAesKey => -40004,
            CryptoError::ValidateReceiveId => -40005,
            CryptoError::DecryptAes => -40007,
            CryptoError::IllegalBuffer => -40008,
            CryptoError::DecodeBase64 => -40010,
        }
    }

    /// A short label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            CryptoError::ValidateSignature => "bad_signature",
            CryptoError::ParseXml => "bad_xml",
            CryptoError::IllegalAesKey => "bad_key",
            CryptoError::ValidateReceiveId => "bad_receive_id",
            CryptoError::DecryptAes => "bad_ciphertext",
            CryptoError::IllegalBuffer => "bad_length",
            CryptoError::DecodeBase64 => "bad_base64",
        }
    }
}

/// A checked EncodingAESKey: 43 characters of `[A-Za-z0-9]`, decoding to 32 bytes.
#[derive(Clone)]
pub struct EncodingAesKey {
    key: [u8; 32],
}

impl std::fmt::Debug for EncodingAesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncodingAesKey(***)")
    }
}

impl EncodingAesKey {
    pub fn parse(encoded: &str) -> Result<Self, CryptoError> {
        if encoded.len() != 43 || !encoded.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(CryptoError::IllegalAesKey);
        }
        let bytes = LENIENT_B64.decode(format!("{encoded}=")).map_err(|_| CryptoError::IllegalAesKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::IllegalAesKey)?;
        Ok(EncodingAesKey { key })
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.key
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.key[..16]);
        iv
    }
}

/// What a decrypted payload holds besides the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    pub random: [u8; 16],
    pub msg: String,
    pub receive_id: String,
    pub pad: u8,
}

/// One app's callback crypto: its token, key and receive id (the CorpID for a self-built app).
#[derive(Clone)]
pub struct WeComCrypto {
    token: String,
    key: EncodingAesKey,
    receive_id: String,
}

impl std::fmt::Debug for WeComCrypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeComCrypto")
            .field("token", &"***")
            .field("key", &self.key)
            .field("receive_id", &self.receive_id)
            .finish()
    }
}

/// `hex(sha1(sorted parts joined))`, lowercase.
pub fn signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    let mut parts = [token, timestamp, nonce, encrypt];
    parts.sort_unstable();
    let mut hasher = Sha1::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

impl WeComCrypto {
    pub fn new(token: &str, encoding_aes_key: &str, receive_id: &str) -> Result<Self, CryptoError> {
        Ok(WeComCrypto {
            token: token.to_string(),
            key: EncodingAesKey::parse(encoding_aes_key)?,
            receive_id: receive_id.to_string(),
        })
    }

    pub fn receive_id(&self) -> &str {
        &self.receive_id
    }

    pub fn sign(&self, timestamp: &str, nonce: &str, encrypt: &str) -> String {
        signature(&self.token, timestamp, nonce, encrypt)
    }

    /// Constant-time comparison: the expected value is derived from the secret token,
    /// so an early-exit compare would leak how much of a forged signature is right.
    pub fn verify_signature(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypt: &str,
    ) -> Result<(), CryptoError> {
        let expected = self.sign(timestamp, nonce, encrypt);
        let given = msg_signature.to_ascii_lowercase();
        if expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            Ok(())
        } else {
            Err(CryptoError::ValidateSignature)
        }
    }

    /// Verify the signature, decrypt, and check the receive id: the whole receiving path.
    pub fn open(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypt: &str,
    ) -> Result<String, CryptoError> {
        self.verify_signature(msg_signature, timestamp, nonce, encrypt)?;
        Ok(self.decrypt(encrypt)?.msg)
    }

    /// Decrypt and check the receive id (no signature check).
    pub fn decrypt(&self, encrypt: &str) -> Result<Decrypted, CryptoError> {
        let decrypted = self.decrypt_any_receiver(encrypt)?;
        if decrypted.receive_id != self.receive_id {
            return Err(CryptoError::ValidateReceiveId);
        }
        Ok(decrypted)
    }

    /// Decrypt without checking whom the payload was for (the stand-in reads replies with it).
    pub fn decrypt_any_receiver(&self, encrypt: &str) -> Result<Decrypted, CryptoError> {
        let mut buf = LENIENT_B64.decode(encrypt.as_bytes()).map_err(|_| CryptoError::DecodeBase64)?;
        if buf.is_empty() || buf.len() % 16 != 0 {
            return Err(CryptoError::DecryptAes);
        }
        let plain = Aes256CbcDec::new(self.key.bytes().into(), &self.key.iv().into())
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .map_err(|_| CryptoError::DecryptAes)?;
        let pad = *plain.last().ok_or(CryptoError::DecryptAes)?;
        if !(1..=PAD_BLOCK as u8).contains(&pad) || pad as usize > plain.len() {
            return Err(CryptoError::DecryptAes);
        }
        let content = &plain[..plain.len() - pad as usize];
        if content.len() < HEADER_LEN {
            return Err(CryptoError::IllegalBuffer);
        }
        let mut len_bytes = [0u8; 4];
        len_bytes.copy_from_slice(&content[RANDOM_LEN..HEADER_LEN]);
        let msg_len = u32::from_be_bytes(len_bytes) as usize;
        let msg_end =
            HEADER_LEN.checked_add(msg_len).filter(|end| *end <= content.len()).ok_or(CryptoError::IllegalBuffer)?;
        let msg =
            std::str::from_utf8(&content[HEADER_LEN..msg_end]).map_err(|_| CryptoError::IllegalBuffer)?.to_string();
        let receive_id = String::from_utf8_lossy(&content[msg_end..]).into_owned();
        let mut random = [0u8; 16];
        random.copy_from_slice(&content[..RANDOM_LEN]);
        Ok(Decrypted { random, msg, receive_id, pad })
    }

    /// Encrypt with a fresh random prefix (16 alphanumerics, as the PHP and Go libraries do).
    pub fn encrypt(&self, msg: &str) -> String {
        use rand::distributions::Alphanumeric;
        use rand::Rng;
        let mut random = [0u8; 16];
        for (slot, byte) in random.iter_mut().zip(rand::thread_rng().sample_iter(Alphanumeric)) {
            *slot = byte;
        }
        self.encrypt_with_random(msg, &random, &self.receive_id)
    }

    /// Encrypt with a given random prefix and receive id: deterministic, for vectors and the stand-in.
    pub fn encrypt_with_random(&self, msg: &str, random: &[u8; 16], receive_id: &str) -> String {
        let mut buf = Vec::with_capacity(HEADER_LEN + msg.len() + receive_id.len() + PAD_BLOCK);
        buf.extend_from_slice(random);
        buf.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        buf.extend_from_slice(msg.as_bytes());
        buf.extend_from_slice(receive_id.as_bytes());
        // Always 1..=32 bytes: a full block of 32 when already aligned (Tencent rejects otherwise).
        let pad = PAD_BLOCK - buf.len() % PAD_BLOCK;
        buf.resize(buf.len() + pad, pad as u8);
        let len = buf.len();
        let cipher = Aes256CbcEnc::new(self.key.bytes().into(), &self.key.iv().into())
            .encrypt_padded_mut::<NoPadding>(&mut buf, len)
            .map(|c| c.to_vec())
            .unwrap_or_default(); // unreachable: the length is a multiple of 16 by construction
        base64::engine::general_purpose::STANDARD.encode(cipher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

    #[test]
    fn rejects_keys_of_wrong_shape() {
        assert_eq!(EncodingAesKey::parse("short").unwrap_err(), CryptoError::IllegalAesKey);
        let with_plus = format!("{}+", &KEY[..42]);
        assert!(EncodingAesKey::parse(&with_plus).is_err());
        assert!(EncodingAesKey::parse(KEY).is_ok());
    }

    #[test]
    fn debug_never_prints_secrets() {
        let crypto = WeComCrypto::new("secret-token", KEY, "corp").unwrap();
        let shown = format!("{crypto:?}");
        assert!(!shown.contains("secret-token"));
        assert!(!shown.contains(KEY));
    }

    #[test]
    fn tampered_padding_is_refused() {
        let crypto = WeComCrypto::new("t", KEY, "corp").unwrap();
        // 64 zero bytes encrypted raw: the last plaintext byte is 0, outside 1..=32.
        let mut buf = vec![0u8; 64];
        let cipher = Aes256CbcEnc::new(crypto.key.bytes().into(), &crypto.key.iv().into())
            .encrypt_padded_mut::<NoPadding>(&mut buf, 64)
            .unwrap()
            .to_vec();
        let b64 = base64::engine::general_purpose::STANDARD.encode(cipher);
        assert_eq!(crypto.decrypt(&b64).unwrap_err(), CryptoError::DecryptAes);
    }

    #[test]
    fn length_past_the_buffer_is_refused() {
        let crypto = WeComCrypto::new("t", KEY, "corp").unwrap();
        let mut buf = vec![b'a'; 16];
        buf.extend_from_slice(&1000u32.to_be_bytes());
        buf.extend_from_slice(b"corp");
        let pad = PAD_BLOCK - buf.len() % PAD_BLOCK;
        buf.resize(buf.len() + pad, pad as u8);
        let len = buf.len();
        let cipher = Aes256CbcEnc::new(crypto.key.bytes().into(), &crypto.key.iv().into())
            .encrypt_padded_mut::<NoPadding>(&mut buf, len)
            .unwrap()
            .to_vec();
        let b64 = base64::engine::general_purpose::STANDARD.encode(cipher);
        assert_eq!(crypto.decrypt(&b64).unwrap_err(), CryptoError::IllegalBuffer);
    }

    #[test]
    fn ciphertext_not_a_block_multiple_is_refused() {
        let crypto = WeComCrypto::new("t", KEY, "corp").unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode([1u8; 20]);
        assert_eq!(crypto.decrypt(&b64).unwrap_err(), CryptoError::DecryptAes);
        assert_eq!(crypto.decrypt("!!!notbase64").unwrap_err(), CryptoError::DecodeBase64);
        assert_eq!(crypto.decrypt("").unwrap_err(), CryptoError::DecryptAes);
    }
}
