//! The stand-in for WeCom's active API, on loopback: token, OAuth, message/send and card updates,
//! checked as WeCom checks them, recorded, and failed on request.

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One API call the stand-in received.
#[derive(Debug, Clone)]
pub struct ApiCall {
    pub path: String,
    pub body: Value,
    /// The response code the stand-in gave an interactive card it accepted.
    pub response_code: Option<String>,
}

/// A failure to inject into the next API calls.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer HTTP 200 with this WeCom errcode.
    ErrCode(i64),
    /// Answer with this HTTP status.
    Status(u16),
    /// Answer after this delay (then normally).
    Delay(Duration),
    /// Answer HTTP 200 with a body that is not JSON.
    Garbage,
}

#[derive(Default)]
struct ApiState {
    calls: Vec<ApiCall>,
    faults: VecDeque<Fault>,
    token_serial: u64,
    valid_token: Option<String>,
    response_serial: u64,
    used_response_codes: Vec<String>,
    /// Bodies sent with enable_duplicate_check: WeCom accepts an identical resend but does
    /// not deliver it again.
    duplicate_checked: std::collections::HashSet<String>,
    duplicates_dropped: u64,
    /// task_ids seen: WeCom refuses one used before by the same app.
    task_ids: std::collections::HashSet<String>,
    /// OAuth codes the stand-in accepts, and the member each stands for.
    oauth_codes: Vec<(String, String)>,
    /// Who the WeCom client's browser belongs to (the authorize page issues codes for them).
    browser_user: Option<String>,
    oauth_serial: u64,
    /// The schedules in members' calendars, by id (oa/schedule/*).
    schedules: std::collections::BTreeMap<String, Value>,
    schedule_serial: u64,
    /// Sends to these members wait until released (a call that stalls).
    held: std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>,
    /// How long every POST takes to answer (WeCom far away).
    latency: Duration,
    /// When each group robot (by key) was sent to, for its 20-a-minute limit.
    robot_sends: std::collections::HashMap<String, Vec<i64>>,
    /// The clock robot limits count by (the service's own in tests; else the system's).
    clock: Option<Arc<dyn crate::clock::Clock>>,
}

/// WeCom's active API on loopback.
#[derive(Clone)]
pub struct SimApi {
    state: Arc<Mutex<ApiState>>,
    base_url: String,
    corp_id: String,
    secret: String,
}

impl SimApi {
    /// Start the stand-in API on a free loopback port, accepting `corp_id` / `secret`.
    pub fn start(corp_id: &str, secret: &str) -> std::io::Result<SimApi> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let api = SimApi {
            state: Arc::new(Mutex::new(ApiState::default())),
            base_url: format!("http://127.0.0.1:{port}"),
            corp_id: corp_id.to_string(),
            secret: secret.to_string(),
        };
        let shared = api.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .app_data(web::JsonConfig::default().limit(1 << 20))
                .route("/connect/oauth2/authorize", web::get().to(authorize))
                .route("/cgi-bin/gettoken", web::get().to(gettoken))
                .route("/cgi-bin/webhook/send", web::post().to(robot_send))
                .route("/cgi-bin/auth/getuserinfo", web::get().to(getuserinfo))
                .route("/cgi-bin/{tail:.*}", web::post().to(post_api))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        tokio::spawn(server);
        Ok(api)
    }

    /// The `api_base` to configure: scheme and host only.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ApiState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every call received so far (gettoken excluded).
    pub fn calls(&self) -> Vec<ApiCall> {
        self.lock().calls.clone()
    }

    /// The message/send bodies addressed to `user` (directly or in a '|' list).
    pub fn sent_to(&self, user: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|c| c.path == "message/send")
            .filter(|c| c.body["touser"].as_str().is_some_and(|to| to.split('|').any(|u| u == user)))
            .map(|c| c.body)
            .collect()
    }

    /// Fail the next calls with these faults, in order.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().faults.extend(faults);
    }

    /// Expire the current access token: the next call with it gets 42001.
    pub fn expire_token(&self) {
        self.lock().valid_token = None;
    }

    /// How many identical resends the duplicate check dropped.
    pub fn duplicates_dropped(&self) -> u64 {
        self.lock().duplicates_dropped
    }

    /// How many tokens were handed out.
    pub fn tokens_issued(&self) -> u64 {
        self.lock().token_serial
    }

    /// Register an OAuth code that `auth/getuserinfo` resolves to `user`.
    pub fn add_oauth_code(&self, code: &str, user: &str) {
        self.lock().oauth_codes.push((code.to_string(), user.to_string()));
    }

    /// Sends to `user` stall until [`SimApi::release`] (at most 30 s).
    pub fn hold(&self, user: &str) {
        self.lock().held.insert(user.to_string(), Arc::new(tokio::sync::Semaphore::new(0)));
    }

    /// Let the stalled sends to `user` go on.
    pub fn release(&self, user: &str) {
        // A closed gate lets every waiter (and every later one) through at once.
        if let Some(gate) = self.lock().held.remove(user) {
            gate.close();
        }
    }

    /// Count robot limits by `clock` (a test's fixed clock) instead of the system's.
    pub fn use_clock(&self, clock: Arc<dyn crate::clock::Clock>) {
        self.lock().clock = Some(clock);
    }

    /// The group robot address for `key` (what `[[robots]] webhook_url` holds).
    pub fn robot_url(&self, key: &str) -> String {
        format!("{}/cgi-bin/webhook/send?key={key}", self.base_url)
    }

    /// The messages the group robot `key` posted to its group.
    pub fn robot_messages(&self, key: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|c| c.path == "webhook/send" && c.body["key"] == key)
            .map(|c| c.body["message"].clone())
            .collect()
    }

    /// Every POST answers after `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// The schedules now in members' calendars: (schedule_id, schedule).
    pub fn schedules(&self) -> Vec<(String, Value)> {
        self.lock().schedules.iter().map(|(id, s)| (id.clone(), s.clone())).collect()
    }

    /// The WeCom client's browser belongs to `user`: the stand-in's OAuth page (the
    /// `oauth_base` to configure is [`SimApi::base_url`]) sends it back with a code for them.
    pub fn sign_in_as(&self, user: &str) {
        self.lock().browser_user = Some(user.to_string());
    }

    fn next_fault(&self) -> Option<Fault> {
        self.lock().faults.pop_front()
    }

    fn token_ok(&self, token: Option<&str>) -> Result<(), i64> {
        let state = self.lock();
        match (token, state.valid_token.as_deref()) {
            (None, _) | (Some(""), _) => Err(41001),
            (Some(t), Some(valid)) if t == valid => Ok(()),
            (Some(t), _) if t.starts_with("simtoken-") => Err(42001),
            _ => Err(40014),
        }
    }
}

fn errcode(code: i64) -> HttpResponse {
    HttpResponse::Ok().json(json!({"errcode": code, "errmsg": format!("stand-in error {code}")}))
}

async fn apply_fault(api: &SimApi) -> Option<HttpResponse> {
    match api.next_fault()? {
        Fault::ErrCode(code) => Some(errcode(code)),
        Fault::Status(status) => Some(
            HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY),
            )
            .body("stand-in failure"),
        ),
        Fault::Delay(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
        Fault::Garbage => Some(HttpResponse::Ok().content_type("application/json").body("<html>not json")),
    }
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    corpid: Option<String>,
    corpsecret: Option<String>,
}

async fn gettoken(api: web::Data<SimApi>, query: web::Query<TokenQuery>) -> HttpResponse {
    if let Some(response) = apply_fault(&api).await {
        return response;
    }
    if query.corpid.as_deref() != Some(api.corp_id.as_str()) {
        return errcode(40013);
    }
    if query.corpsecret.as_deref() != Some(api.secret.as_str()) {
        return errcode(40001);
    }
    let mut state = api.lock();
    let token = match &state.valid_token {
        Some(token) => token.clone(),
        None => {
            state.token_serial += 1;
            let token = format!("simtoken-{}", state.token_serial);
            state.valid_token = Some(token.clone());
            token
        }
    };
    HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}))
}

#[derive(serde::Deserialize)]
struct AuthQuery {
    access_token: Option<String>,
    code: Option<String>,
}

async fn getuserinfo(api: web::Data<SimApi>, query: web::Query<AuthQuery>) -> HttpResponse {
    if let Err(code) = api.token_ok(query.access_token.as_deref()) {
        return errcode(code);
    }
    let code = query.code.clone().unwrap_or_default();
    let mut state = api.lock();
    state.calls.push(ApiCall { path: "auth/getuserinfo".into(), body: json!({"code": code}), response_code: None });
    // OAuth codes are single-use.
    match state.oauth_codes.iter().position(|(c, _)| *c == code) {
        Some(i) => {
            let (_, user) = state.oauth_codes.remove(i);
            HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok", "userid": user}))
        }
        None => errcode(40029),
    }
}

#[derive(serde::Deserialize)]
struct RobotQuery {
    key: Option<String>,
}

/// A group robot's address: markdown or text to its group, at most 20 a minute per robot.
async fn robot_send(api: web::Data<SimApi>, query: web::Query<RobotQuery>, body: web::Bytes) -> HttpResponse {
    if let Some(response) = apply_fault(&api).await {
        return response;
    }
    let Some(key) = query.key.clone().filter(|k| !k.is_empty()) else { return errcode(93000) };
    let Ok(message) = serde_json::from_slice::<Value>(&body) else { return errcode(40008) };
    let content = match message["msgtype"].as_str() {
        Some("markdown") => message["markdown"]["content"].as_str(),
        Some("text") => message["text"]["content"].as_str(),
        _ => return errcode(40008),
    };
    if content.is_none_or(|c| c.is_empty() || c.len() > 4096) {
        return errcode(40058);
    }
    let mut state = api.lock();
    let now = state.clock.as_ref().map_or_else(
        || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64),
        |clock| clock.now().timestamp(),
    );
    let sends = state.robot_sends.entry(key.clone()).or_default();
    sends.retain(|at| *at > now - 60);
    if sends.len() >= 20 {
        return errcode(45009);
    }
    sends.push(now);
    state.calls.push(ApiCall {
        path: "webhook/send".into(),
        body: json!({"key": key, "message": message}),
        response_code: None,
    });
    HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok"}))
}

#[derive(serde::Deserialize)]
struct AuthorizeQuery {
    appid: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
}

/// WeCom's OAuth page, silent (snsapi_base): back to `redirect_uri` with a single-use code for
/// the browser's member and the `state` unchanged.
async fn authorize(api: web::Data<SimApi>, query: web::Query<AuthorizeQuery>) -> HttpResponse {
    let refuse = |why: &str| HttpResponse::BadRequest().content_type("text/plain; charset=utf-8").body(why.to_string());
    if query.appid.as_deref() != Some(api.corp_id.as_str()) {
        return refuse("appid is not this corp");
    }
    let Some(redirect) = query.redirect_uri.as_deref().filter(|r| r.starts_with("http")) else {
        return refuse("redirect_uri missing");
    };
    let mut state = api.lock();
    let Some(user) = state.browser_user.clone() else { return refuse("no member signed in to this browser") };
    state.oauth_serial += 1;
    let code = format!("simcode-{}", state.oauth_serial);
    state.oauth_codes.push((code.clone(), user));
    let separator = if redirect.contains('?') { '&' } else { '?' };
    let encode = crate::wecom::url::urlencode;
    let back = format!("{redirect}{separator}code={code}&state={}", encode(query.state.as_deref().unwrap_or_default()));
    HttpResponse::Found().insert_header((actix_web::http::header::LOCATION, back)).finish()
}

#[derive(serde::Deserialize)]
struct TokenOnly {
    access_token: Option<String>,
}

async fn post_api(
    api: web::Data<SimApi>,
    path: web::Path<String>,
    query: web::Query<TokenOnly>,
    body: web::Bytes,
) -> HttpResponse {
    let (latency, gate) = {
        let state = api.lock();
        let to = serde_json::from_slice::<Value>(&body).ok().and_then(|b| b["touser"].as_str().map(str::to_string));
        (state.latency, to.and_then(|to| state.held.get(&to).cloned()))
    };
    if let Some(gate) = gate {
        let _ = tokio::time::timeout(Duration::from_secs(30), gate.acquire()).await;
    }
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    // A slow WeCom still acts on the call; only its answer comes late.
    // (bound first: the guard must be gone before the body locks again)
    let next = api.lock().faults.front().cloned();
    if let Some(Fault::Delay(delay)) = next {
        api.lock().faults.pop_front();
        let response = handle_post(&api, path.into_inner(), query.access_token.as_deref(), &body);
        tokio::time::sleep(delay).await;
        return response;
    }
    if let Some(response) = apply_fault(&api).await {
        return response;
    }
    handle_post(&api, path.into_inner(), query.access_token.as_deref(), &body)
}

fn handle_post(api: &SimApi, path: String, token: Option<&str>, body: &[u8]) -> HttpResponse {
    if let Err(code) = api.token_ok(token) {
        return errcode(code);
    }
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return errcode(47001);
    };
    if let Err(code) = super::checks::validate(&path, &body) {
        return errcode(code);
    }
    let mut state = api.lock();
    if path == "message/update_template_card" {
        let code = body["response_code"].as_str().unwrap_or_default().to_string();
        if code.is_empty() || state.used_response_codes.contains(&code) {
            return errcode(60140);
        }
        state.used_response_codes.push(code);
    }
    if path == "message/send"
        && body["enable_duplicate_check"] == 1
        && !state.duplicate_checked.insert(body.to_string())
    {
        state.duplicates_dropped += 1;
        return HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok", "msgid": "dropped-duplicate"}));
    }
    if let Some(task_id) = body["template_card"]["task_id"].as_str().filter(|_| path == "message/send") {
        if !state.task_ids.insert(task_id.to_string()) {
            return errcode(42014);
        }
    }
    if let Some(answer) = schedules(&mut state, &path, &body) {
        state.calls.push(ApiCall { path: path.clone(), body: body.clone(), response_code: None });
        return answer;
    }
    state.response_serial += 1;
    let serial = state.response_serial;
    let interactive = path == "message/send" && body["template_card"]["button_list"].is_array();
    let response_code = interactive.then(|| format!("simrc-{serial}"));
    state.calls.push(ApiCall { path: path.clone(), body: body.clone(), response_code: response_code.clone() });
    match path.as_str() {
        "message/send" => {
            let mut answer = json!({"errcode": 0, "errmsg": "ok", "msgid": format!("simmsg-{serial}")});
            if let Some(code) = response_code {
                answer["response_code"] = json!(code);
            }
            HttpResponse::Ok().json(answer)
        }
        _ => HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok"})),
    }
}

/// oa/schedule/add, update and del, on the stand-in's calendar (None for other paths).
fn schedules(state: &mut ApiState, path: &str, body: &Value) -> Option<HttpResponse> {
    let ok = |extra: Value| {
        let mut answer = json!({"errcode": 0, "errmsg": "ok"});
        if let (Some(answer), Some(extra)) = (answer.as_object_mut(), extra.as_object()) {
            answer.extend(extra.clone());
        }
        HttpResponse::Ok().json(answer)
    };
    match path {
        "oa/schedule/add" => {
            state.schedule_serial += 1;
            let id = format!("simsched-{}", state.schedule_serial);
            state.schedules.insert(id.clone(), body["schedule"].clone());
            Some(ok(json!({"schedule_id": id})))
        }
        "oa/schedule/update" => {
            let id = body["schedule"]["schedule_id"].as_str().unwrap_or_default().to_string();
            let Some(schedule) = state.schedules.get_mut(&id) else { return Some(errcode(400_202)) };
            if let (Some(schedule), Some(changes)) = (schedule.as_object_mut(), body["schedule"].as_object()) {
                schedule.extend(changes.clone());
            }
            Some(ok(json!({})))
        }
        "oa/schedule/del" => {
            let id = body["schedule_id"].as_str().unwrap_or_default();
            Some(match state.schedules.remove(id) {
                Some(_) => ok(json!({})),
                None => errcode(400_202),
            })
        }
        _ => None,
    }
}
