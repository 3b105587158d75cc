//! A WeCom stand-in, both sides of it, for tests and the demo.
//!
//! - [`SimMember`] plays WeCom calling the app: it signs and encrypts callbacks exactly as WeCom
//!   does, posts them, and verifies and decrypts the passive replies.
//! - [`SimApi`] plays WeCom's active API on loopback (`/cgi-bin/gettoken`, `message/send`,
//!   `message/update_template_card`, …), records what it receives, and can be told to fail.

mod api;
mod checks;
pub mod xml;

pub use api::{ApiCall, Fault, SimApi};
pub use xml::{inbound_xml, parse_encrypted_reply, parse_plain_reply, EncryptedReply, PlainReply};

use super::crypto::WeComCrypto;
use super::url::urlencode;
use super::xml::{Inbound, InboundMessage};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the app answered a callback with, as a member would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimReply {
    /// HTTP 200 with an empty body.
    Empty,
    /// A verified, decrypted passive reply.
    Message(PlainReply),
    /// Anything else: the HTTP status and body.
    Refused { status: u16, body: String },
}

impl SimReply {
    /// The reply text ("" when there is none).
    pub fn text(&self) -> &str {
        match self {
            SimReply::Message(m) => &m.content,
            _ => "",
        }
    }
}

/// WeCom's side of the callback: builds, signs and encrypts callbacks for one app.
#[derive(Clone)]
pub struct SimMember {
    crypto: WeComCrypto,
    corp_id: String,
    agent_id: i64,
    callback_url: String,
    http: reqwest::Client,
    next_msg_id: Arc<AtomicU64>,
}

/// A callback ready to post: the query string and the body. Posting it twice is a WeCom retry.
#[derive(Debug, Clone)]
pub struct SignedCallback {
    pub query: String,
    pub body: String,
}

impl SimMember {
    pub fn new(crypto: WeComCrypto, corp_id: &str, agent_id: i64, callback_url: &str) -> Self {
        SimMember {
            crypto,
            corp_id: corp_id.to_string(),
            agent_id,
            callback_url: callback_url.to_string(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default(),
            next_msg_id: Arc::new(AtomicU64::new(7_000_000_000_000_000_001)),
        }
    }

    /// The same member posting to another address (a restarted server): MsgIds go on from here.
    pub fn posting_to(&self, callback_url: &str) -> SimMember {
        SimMember { callback_url: callback_url.to_string(), ..self.clone() }
    }

    /// A fresh MsgId above 2^53, as WeCom's are.
    pub fn next_msg_id(&self) -> u64 {
        self.next_msg_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The decrypted message WeCom would send for `inbound` from `user` at `create_time`.
    pub fn message(&self, user: &str, create_time: i64, inbound: Inbound) -> InboundMessage {
        InboundMessage {
            to_user_name: self.corp_id.clone(),
            from_user_name: user.to_string(),
            create_time,
            agent_id: Some(self.agent_id),
            inbound,
        }
    }

    /// Encrypt and sign a message into a callback.
    pub fn sign(&self, msg: &InboundMessage) -> SignedCallback {
        let encrypt = self.crypto.encrypt(&inbound_xml(msg));
        let timestamp = msg.create_time.to_string();
        let nonce = format!("{}", rand::random::<u32>());
        let signature = self.crypto.sign(&timestamp, &nonce, &encrypt);
        let body = format!(
            "<xml><ToUserName><![CDATA[{}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[{}]]></AgentID></xml>",
            self.corp_id, self.agent_id
        );
        SignedCallback { query: format!("msg_signature={signature}&timestamp={timestamp}&nonce={nonce}"), body }
    }

    /// Post a signed callback and read the reply.
    pub async fn post(&self, callback: &SignedCallback) -> SimReply {
        self.post_raw(&callback.query, callback.body.clone()).await
    }

    /// Post anything (for bad-input tests) and read the reply.
    pub async fn post_raw(&self, query: &str, body: String) -> SimReply {
        let url = format!("{}?{query}", self.callback_url);
        let response = match self.http.post(url).body(body).send().await {
            Ok(r) => r,
            Err(e) => return SimReply::Refused { status: 0, body: e.to_string() },
        };
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        if status != 200 {
            return SimReply::Refused { status, body };
        }
        if body.is_empty() {
            return SimReply::Empty;
        }
        match self.open_reply(&body) {
            Ok(reply) => SimReply::Message(reply),
            Err(problem) => SimReply::Refused { status, body: format!("unreadable reply ({problem}): {body}") },
        }
    }

    /// Verify and decrypt a passive reply as WeCom does.
    pub fn open_reply(&self, body: &str) -> Result<PlainReply, String> {
        let envelope = parse_encrypted_reply(body).map_err(|e| e.to_string())?;
        self.crypto
            .verify_signature(&envelope.msg_signature, &envelope.timestamp, &envelope.nonce, &envelope.encrypt)
            .map_err(|e| e.to_string())?;
        let decrypted = self.crypto.decrypt_any_receiver(&envelope.encrypt).map_err(|e| e.to_string())?;
        // A reply is encrypted for the corp (the receive id is the CorpID).
        if decrypted.receive_id != self.corp_id {
            return Err(format!("reply receive id {:?}", decrypted.receive_id));
        }
        parse_plain_reply(&decrypted.msg).map_err(|e| e.to_string())
    }

    /// A member's text message, signed and posted.
    pub async fn say(&self, user: &str, create_time: i64, text: &str) -> SimReply {
        let msg = self.message(user, create_time, Inbound::Text { content: text.into(), msg_id: self.next_msg_id() });
        self.post(&self.sign(&msg)).await
    }

    /// Any inbound message or event, signed and posted.
    pub async fn send(&self, user: &str, create_time: i64, inbound: Inbound) -> SimReply {
        self.post(&self.sign(&self.message(user, create_time, inbound))).await
    }

    /// The URL-verification GET WeCom sends when the callback URL is saved, signed at `now`.
    pub async fn verify_url(&self, echo: &str, now: i64) -> (u16, String) {
        let echostr = self.crypto.encrypt(echo);
        let timestamp = now.to_string();
        let nonce = "263014780";
        let signature = self.crypto.sign(&timestamp, nonce, &echostr);
        let query =
            format!("msg_signature={signature}&timestamp={timestamp}&nonce={nonce}&echostr={}", urlencode(&echostr));
        self.get_raw(&query).await
    }

    /// A GET with any query (for bad-input tests).
    pub async fn get_raw(&self, query: &str) -> (u16, String) {
        match self.http.get(format!("{}?{query}", self.callback_url)).send().await {
            Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
            Err(e) => (0, e.to_string()),
        }
    }
}
