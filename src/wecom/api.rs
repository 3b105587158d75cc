//! The WeCom active API (JSON over HTTPS): one cached access token shared by all senders,
//! refreshed before expiry and at once on 40014 / 41001 / 42001 (then the call is retried
//! once). Errors branch on `errcode`, never on `errmsg`.

use crate::secret::Secret;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Refresh this long before WeCom says the token expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("HTTP request failed: {0}")]
    Transport(String),
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("WeCom errcode {code}: {message}")]
    ErrCode { code: i64, message: String },
    #[error("unreadable answer: {0}")]
    Garbage(String),
}

impl ApiError {
    /// Worth trying again later (busy, rate limited, down, slow); otherwise permanent.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Transport(_) | ApiError::Garbage(_) => true,
            ApiError::Status(status) => *status >= 500 || *status == 429,
            ApiError::ErrCode { code, .. } => {
                matches!(code, -1 | 45009 | 45033 | 40014 | 41001 | 42001)
            }
        }
    }

    pub fn errcode(&self) -> Option<i64> {
        match self {
            ApiError::ErrCode { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// `message` (a JSON object) with the fields of `head` written in front of its own.
fn addressed(head: &Value, message: &str) -> Option<String> {
    let fields = message.trim().strip_prefix('{').filter(|rest| rest.trim_start() != "}")?;
    let head = head.to_string();
    let head = head.strip_suffix('}').filter(|h| *h != "{")?;
    Some(format!("{head},{fields}"))
}

/// errcodes that mean the token must be fetched again.
fn token_is_stale(code: i64) -> bool {
    matches!(code, 40014 | 41001 | 42001)
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendResult {
    pub msgid: Option<String>,
    /// For interactive cards: the code update_template_card consumes (72 h, once).
    pub response_code: Option<String>,
    /// For a schedule added (oa/schedule/add): its id.
    pub schedule_id: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    msgid: Option<String>,
    #[serde(default)]
    response_code: Option<String>,
    #[serde(default)]
    userid: Option<String>,
    #[serde(default)]
    schedule_id: Option<String>,
}

struct CachedToken {
    value: String,
    refresh_at: Instant,
}

/// Who a message/send goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience<'a> {
    Users(&'a [String]),
    All,
    Parties(&'a [String]),
}

pub struct WeComApi {
    http: reqwest::Client,
    base: String,
    corp_id: String,
    secret: Secret,
    agent_id: i64,
    token: Mutex<Option<CachedToken>>,
}

impl std::fmt::Debug for WeComApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeComApi").field("base", &self.base).field("agent_id", &self.agent_id).finish()
    }
}

impl WeComApi {
    pub fn new(api_base: &str, corp_id: &str, secret: Secret, agent_id: i64, timeout: Duration) -> WeComApi {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(3)))
            .build()
            .unwrap_or_default();
        WeComApi {
            http,
            base: format!("{}/cgi-bin", api_base.trim_end_matches('/')),
            corp_id: corp_id.to_string(),
            secret,
            agent_id,
            token: Mutex::new(None),
        }
    }

    pub fn agent_id(&self) -> i64 {
        self.agent_id
    }

    /// The cached token, fetched when missing or near expiry. Holding the lock while
    /// fetching means concurrent senders wait for one gettoken instead of each calling it.
    async fn token(&self) -> Result<String, ApiError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| t.refresh_at > Instant::now()) {
            return Ok(token.value.clone());
        }
        let url = format!("{}/gettoken", self.base);
        let response = self
            .http
            .get(url)
            .query(&[("corpid", self.corp_id.as_str()), ("corpsecret", self.secret.expose())])
            .send()
            .await
            .map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
        let answer = read_answer(response).await?;
        let value = answer.access_token.filter(|t| !t.is_empty()).ok_or(ApiError::Garbage("no access_token".into()))?;
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(7200));
        *cached = Some(CachedToken {
            value: value.clone(),
            refresh_at: Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN),
        });
        Ok(value)
    }

    async fn forget_token(&self) {
        *self.token.lock().await = None;
    }

    /// POST `path` with the token; on a stale-token errcode, refresh and retry once.
    async fn post(&self, path: &str, body: &Value) -> Result<Answer, ApiError> {
        self.post_json(path, body.to_string()).await
    }

    /// POST a body already serialized (a stored message is sent as it was stored).
    async fn post_json(&self, path: &str, body: String) -> Result<Answer, ApiError> {
        match self.post_once(path, &body).await {
            Err(ApiError::ErrCode { code, .. }) if token_is_stale(code) => {
                tracing::info!(code, "access token refused; fetching a new one");
                self.forget_token().await;
                self.post_once(path, &body).await
            }
            other => other,
        }
    }

    async fn post_once(&self, path: &str, body: &str) -> Result<Answer, ApiError> {
        let token = self.token().await?;
        let response = self
            .http
            .post(format!("{}/{path}", self.base))
            .query(&[("access_token", token.as_str())])
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
        read_answer(response).await
    }

    /// message/send: `message` is the body as the outbox stored it, without touser/agentid (a
    /// JSON object: `msgtype` and its object). The addressing is written in front of its fields,
    /// so the body is neither parsed nor copied field by field.
    pub async fn send(&self, to: Audience<'_>, message: &str, duplicate_check: bool) -> Result<SendResult, ApiError> {
        let mut head = match to {
            Audience::Users(users) => json!({"touser": users.join("|")}),
            Audience::All => json!({"touser": "@all"}),
            Audience::Parties(parties) => json!({"toparty": parties.join("|")}),
        };
        head["agentid"] = json!(self.agent_id);
        if duplicate_check {
            // A resend after a crash between sending and marking is dropped by WeCom.
            head["enable_duplicate_check"] = json!(1);
            head["duplicate_check_interval"] = json!(1800);
        }
        let Some(body) = addressed(&head, message) else {
            return Err(ApiError::Garbage(format!("a message that is not a JSON object: {message:.40}")));
        };
        let answer = self.post_json("message/send", body).await?;
        Ok(SendResult { msgid: answer.msgid, response_code: answer.response_code, schedule_id: None })
    }

    /// message/update_template_card: grey out the buttons of everyone's copy of a card.
    pub async fn update_buttons(&self, response_code: &str, users: &[String], label: &str) -> Result<(), ApiError> {
        let body = json!({
            "userids": users, "agentid": self.agent_id, "response_code": response_code,
            "button": {"replace_name": label},
        });
        self.post("message/update_template_card", &body).await.map(|_| ())
    }

    /// oa/schedule/add: a schedule in the attendees' WeCom calendars, made by this app; its id.
    pub async fn add_schedule(&self, schedule: &Value) -> Result<String, ApiError> {
        let answer = self.post("oa/schedule/add", &json!({"schedule": schedule, "agentid": self.agent_id})).await?;
        answer.schedule_id.ok_or_else(|| ApiError::Garbage("oa/schedule/add answered no schedule_id".into()))
    }

    /// oa/schedule/update: `schedule` carries its `schedule_id` and the new times.
    pub async fn update_schedule(&self, schedule: &Value) -> Result<(), ApiError> {
        self.post("oa/schedule/update", &json!({"schedule": schedule})).await.map(|_| ())
    }

    /// oa/schedule/del.
    pub async fn delete_schedule(&self, schedule_id: &str) -> Result<(), ApiError> {
        self.post("oa/schedule/del", &json!({"schedule_id": schedule_id})).await.map(|_| ())
    }

    /// A group robot's message: POST to its full address (the key in it is its credential).
    pub async fn robot_send(&self, webhook_url: &str, message: &Value) -> Result<(), ApiError> {
        let response = self
            .http
            .post(webhook_url)
            .json(message)
            .send()
            .await
            .map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
        read_answer(response).await.map(|_| ())
    }

    /// message/recall (within 24 h of sending).
    pub async fn recall(&self, msgid: &str) -> Result<(), ApiError> {
        self.post("message/recall", &json!({"msgid": msgid})).await.map(|_| ())
    }

    /// menu/create for this app.
    pub async fn create_menu(&self, menu: &Value) -> Result<(), ApiError> {
        let token = self.token().await?;
        let response = self
            .http
            .post(format!("{}/menu/create", self.base))
            .query(&[("access_token", token.as_str()), ("agentid", &self.agent_id.to_string())])
            .json(menu)
            .send()
            .await
            .map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
        read_answer(response).await.map(|_| ())
    }

    /// auth/getuserinfo: the member behind an OAuth code (None for a non-member).
    pub async fn user_of_code(&self, code: &str) -> Result<Option<String>, ApiError> {
        let token = self.token().await?;
        let response = self
            .http
            .get(format!("{}/auth/getuserinfo", self.base))
            .query(&[("access_token", token.as_str()), ("code", code)])
            .send()
            .await
            .map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
        Ok(read_answer(response).await?.userid)
    }
}

async fn read_answer(response: reqwest::Response) -> Result<Answer, ApiError> {
    let status = response.status();
    if !status.is_success() {
        return Err(ApiError::Status(status.as_u16()));
    }
    let text = response.text().await.map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
    let answer: Answer = serde_json::from_str(&text).map_err(|_| ApiError::Garbage(text.chars().take(80).collect()))?;
    if answer.errcode != 0 {
        return Err(ApiError::ErrCode { code: answer.errcode, message: answer.errmsg });
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::addressed;
    use serde_json::{json, Value};

    #[test]
    fn a_stored_message_is_sent_with_its_address_in_front() {
        let stored = json!({"msgtype": "text", "text": {"content": "好"}}).to_string();
        let sent = addressed(&json!({"touser": "a", "agentid": 7}), &stored).expect("an object");
        let sent: Value = serde_json::from_str(&sent).expect("JSON");
        assert_eq!(sent, json!({"touser": "a", "agentid": 7, "msgtype": "text", "text": {"content": "好"}}));
        for not_a_message in ["", "{}", " { } ", "[1]", "\"text\""] {
            assert_eq!(addressed(&json!({"touser": "a"}), not_a_message), None, "{not_a_message:?}");
        }
    }
}
