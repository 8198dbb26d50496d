//! The typed client of the API: one method per route, the bodies of
//! [`crate::api::types`], problems decoded into [`ClientError::Refused`]. The
//! CLI, the kiosk, the players and the tests use it, so that no caller
//! assembles a URL or a JSON body by hand. Runs on an actix `System` (awc).
//!
//! Writes take the idempotency key from the caller: a caller that retries
//! passes the same key again (the kiosk keeps it in its journal).

use std::time::Duration;

use awc::http::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use encore_card::CardFile;
use encore_domain::licensing::Challenge;

use crate::api::idempotency::{IDEMPOTENCY_KEY, REPLAYED};
use crate::api::types::*;
use crate::deployment::credentials::hex;

/// Largest response body the client reads (a log page of 1,000 records fits).
const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// Why a call did not get its answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with a problem (nothing was written).
    #[error("{} {}: {}", .0.status, .0.kind, .0.detail)]
    Refused(Box<Problem>),
    /// No answer: connection refused, reset or timed out. The request may or
    /// may not have been carried out: retry it with the same key.
    #[error("no answer from the server: {0}")]
    Transport(String),
    /// The answer was not what the API describes.
    #[error("unexpected answer ({status}): {reason}")]
    Unexpected { status: u16, reason: String },
}

impl ClientError {
    /// The problem's HTTP status, for refusals.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Refused(p) => Some(p.status),
            _ => None,
        }
    }
}

/// An answer with what its headers said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<T> {
    pub status: u16,
    pub value: T,
    /// The entity's version (`ETag`), when the route gives one.
    pub etag: Option<u64>,
    /// The answer came from an earlier request's receipt (`Idempotent-Replayed`).
    pub replayed: bool,
}

/// A client of one server, with one credential.
#[derive(Clone)]
pub struct Client {
    http: awc::Client,
    base: String,
    token: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base", &self.base).field("token", &"<redacted>").finish()
    }
}

/// Path segments are ids: anything outside the unreserved set is escaped.
fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    /// A client of `base` (e.g. `http://127.0.0.1:7878`) with bearer `token`.
    pub fn new(base: &str, token: &str) -> Client {
        let http = awc::Client::builder().timeout(Duration::from_secs(30)).finish();
        Client { http, base: base.trim_end_matches('/').to_string(), token: token.to_string() }
    }

    /// A client of a server whose TLS certificate chains to `root_pem` (a
    /// deployment's own certificate authority, or its self-signed
    /// certificate), and to nothing else: the system's roots are not used.
    pub fn with_root_certificate(base: &str, token: &str, root_pem: &[u8]) -> Result<Client, ClientError> {
        let tls = |reason: String| ClientError::Transport(format!("TLS set-up: {reason}"));
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut &root_pem[..]) {
            roots.add(cert.map_err(|e| tls(e.to_string()))?).map_err(|e| tls(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(tls("no certificate in the root file".into()));
        }
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = awc::Connector::new().rustls_0_23(std::sync::Arc::new(config));
        let http = awc::Client::builder().connector(connector).timeout(Duration::from_secs(30)).finish();
        Ok(Client { http, base: base.trim_end_matches('/').to_string(), token: token.to_string() })
    }

    /// The same server with another credential.
    pub fn with_token(&self, token: &str) -> Client {
        Client { http: self.http.clone(), base: self.base.clone(), token: token.to_string() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Answer<T>, ClientError> {
        let request = self.http.get(self.url(path)).bearer_auth(&self.token);
        answer(request.send().await).await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, key: &str, if_match: Option<u64>, body: &B) -> Result<Answer<T>, ClientError> {
        let mut request = self.http.post(self.url(path)).bearer_auth(&self.token).insert_header((IDEMPOTENCY_KEY, key));
        if let Some(version) = if_match {
            request = request.insert_header(("If-Match", format!("\"{version}\"")));
        }
        answer(request.send_json(body).await).await
    }

    // ----- accounting -----

    pub async fn open_account(&self, key: &str, body: &OpenAccount) -> Result<Answer<AccountWritten>, ClientError> {
        self.post("/v1/accounts", key, None, body).await
    }

    pub async fn account(&self, account: &str) -> Result<Answer<AccountView>, ClientError> {
        self.get(&format!("/v1/accounts/{}", segment(account))).await
    }

    /// Loads money; with `if_match`, only if the account is still at that version.
    pub async fn load(&self, key: &str, account: &str, amount: u64, if_match: Option<u64>) -> Result<Answer<AccountWritten>, ClientError> {
        self.post(&format!("/v1/accounts/{}/loads", segment(account)), key, if_match, &LoadMoney { amount }).await
    }

    /// Links an account to a registered user (its purchases then count for the user's group).
    pub async fn link_account(&self, key: &str, account: &str, user: &str) -> Result<Answer<LinkedView>, ClientError> {
        self.post(&format!("/v1/accounts/{}/link", segment(account)), key, None, &LinkAccount { user: user.into() }).await
    }

    pub async fn refund(&self, key: &str, account: &str, purchase: &str) -> Result<Answer<Written>, ClientError> {
        self.post(&format!("/v1/accounts/{}/refunds", segment(account)), key, None, &Refund { purchase: purchase.into() }).await
    }

    pub async fn issue_card(&self, key: &str, body: &IssueCard) -> Result<Answer<Written>, ClientError> {
        self.post("/v1/cards", key, None, body).await
    }

    pub async fn card(&self, card: &str) -> Result<Answer<CardView>, ClientError> {
        self.get(&format!("/v1/cards/{}", segment(card))).await
    }

    // ----- license -----

    pub async fn list_content(&self, key: &str, body: &ListContent) -> Result<Answer<Written>, ClientError> {
        self.post("/v1/contents", key, None, body).await
    }

    /// Every content on sale.
    pub async fn catalogue(&self) -> Result<Answer<CatalogueView>, ClientError> {
        self.get("/v1/contents").await
    }

    pub async fn content(&self, content: &str) -> Result<Answer<ContentView>, ClientError> {
        self.get(&format!("/v1/contents/{}", segment(content))).await
    }

    /// Lists a content with its file: the server encrypts `plain` under a fresh key and stores the ciphertext.
    pub async fn upload_content(&self, key: &str, content: &str, terms: &ContentFileTerms, plain: Vec<u8>) -> Result<Answer<Written>, ClientError> {
        let request = self
            .http
            .post(self.url(&format!("/v1/contents/{}/file", segment(content))))
            .bearer_auth(&self.token)
            .insert_header((IDEMPOTENCY_KEY, key))
            .insert_header(("Content-Type", "application/octet-stream"))
            .timeout(Duration::from_secs(300))
            .query(terms)
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        answer(request.send_body(plain).await).await
    }

    /// The encrypted file of a content (ciphertext: a license's key opens it).
    pub async fn content_file(&self, content: &str) -> Result<Vec<u8>, ClientError> {
        self.get_bytes(&format!("/v1/contents/{}/file", segment(content))).await
    }

    /// A card file as the issuer personalises it (operator only): the card's chip, its key included.
    pub async fn card_image(&self, card: &str) -> Result<Vec<u8>, ClientError> {
        self.get_bytes(&format!("/v1/cards/{}/image", segment(card))).await
    }

    async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        let sent = self.http.get(self.url(path)).bearer_auth(&self.token).timeout(Duration::from_secs(300)).send().await;
        let mut response = sent.map_err(|e| ClientError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response.body().limit(MAX_RESPONSE_BYTES).await.map_err(|e| ClientError::Transport(e.to_string()))?;
        if !(200..300).contains(&status) {
            return Err(problem_or_unexpected(status, &body));
        }
        Ok(body.to_vec())
    }

    /// A challenge ticket for `card` at kiosk `kiosk`.
    pub async fn kiosk_challenge(&self, kiosk: &str, card: &str) -> Result<Answer<TicketView>, ClientError> {
        self.get(&format!("/v1/kiosks/{}/challenge?card={}", segment(kiosk), segment(card))).await
    }

    /// A challenge ticket for `card` at player `player`.
    pub async fn player_challenge(&self, player: &str, card: &str) -> Result<Answer<TicketView>, ClientError> {
        self.get(&format!("/v1/players/{}/challenge?card={}", segment(player), segment(card))).await
    }

    /// Asks for a ticket at kiosk `kiosk` and has the card answer it.
    pub async fn answer_at_kiosk(&self, kiosk: &str, card: &CardFile) -> Result<CardAnswer, ClientError> {
        let ticket = self.kiosk_challenge(kiosk, card.card().as_str()).await?.value;
        card_answer(card, &ticket)
    }

    /// Asks for a ticket at player `player` and has the card answer it.
    pub async fn answer_at_player(&self, player: &str, card: &CardFile) -> Result<CardAnswer, ClientError> {
        let ticket = self.player_challenge(player, card.card().as_str()).await?.value;
        card_answer(card, &ticket)
    }

    pub async fn insert_card(&self, key: &str, kiosk: &str, card: &str, answer: &CardAnswer) -> Result<Answer<Written>, ClientError> {
        let body = crate::api::stations::InsertCard { card: card.into(), answer: answer.clone() };
        self.post(&format!("/v1/kiosks/{}/card", segment(kiosk)), key, None, &body).await
    }

    /// Reports a play made from a carried card (counted once per key).
    pub async fn report_play(&self, key: &str, player: &str, body: &PlayReportBody) -> Result<Answer<PlayReportView>, ClientError> {
        self.post(&format!("/v1/players/{}/plays", segment(player)), key, None, body).await
    }

    /// The contents the card in the kiosk asks for (002 claim 5).
    pub async fn pending(&self, kiosk: &str) -> Result<Answer<PendingView>, ClientError> {
        self.get(&format!("/v1/kiosks/{}/pending", segment(kiosk))).await
    }

    pub async fn kiosk_purchase(&self, key: &str, kiosk: &str, body: &Purchase) -> Result<Answer<PurchaseView>, ClientError> {
        self.post(&format!("/v1/kiosks/{}/purchases", segment(kiosk)), key, None, body).await
    }

    pub async fn eject_card(&self, key: &str, kiosk: &str) -> Result<Answer<Written>, ClientError> {
        self.post(&format!("/v1/kiosks/{}/eject", segment(kiosk)), key, None, &()).await
    }

    pub async fn player_purchase(&self, key: &str, player: &str, body: &Purchase) -> Result<Answer<PurchaseView>, ClientError> {
        self.post(&format!("/v1/players/{}/purchases", segment(player)), key, None, body).await
    }

    // ----- group management and distribution -----

    pub async fn register_user(&self, key: &str, body: &RegisterUser) -> Result<Answer<UserRegisteredView>, ClientError> {
        self.post("/v1/users", key, None, body).await
    }

    pub async fn group(&self, group: &str) -> Result<Answer<GroupView>, ClientError> {
        self.get(&format!("/v1/groups/{}", segment(group))).await
    }

    pub async fn provision_device(&self, key: &str, body: &ProvisionDevice) -> Result<Answer<Written>, ClientError> {
        self.post("/v1/devices", key, None, body).await
    }

    pub async fn device(&self, device: &str) -> Result<Answer<DeviceView>, ClientError> {
        self.get(&format!("/v1/devices/{}", segment(device))).await
    }

    /// Registers a PC (itself) or a PD (through `via`, its PC) into a group.
    pub async fn register_device(&self, key: &str, group: &str, device: &str, via: Option<&str>) -> Result<Answer<Written>, ClientError> {
        let body = RegisterDevice { device: device.into(), via: via.map(str::to_string) };
        self.post(&format!("/v1/groups/{}/devices", segment(group)), key, None, &body).await
    }

    pub async fn deregister_device(&self, key: &str, group: &str, device: &str) -> Result<Answer<Written>, ClientError> {
        self.post(&format!("/v1/groups/{}/devices/{}/deregister", segment(group), segment(device)), key, None, &()).await
    }

    pub async fn issue_certificate(&self, key: &str, group: &str, pc: &str, valid_until: &str) -> Result<Answer<Written>, ClientError> {
        let body = IssueCertificate { pc: pc.into(), valid_until: valid_until.into() };
        self.post(&format!("/v1/groups/{}/certificates", segment(group)), key, None, &body).await
    }

    pub async fn certificates(&self, group: &str) -> Result<Answer<CertificatesView>, ClientError> {
        self.get(&format!("/v1/groups/{}/certificates", segment(group))).await
    }

    pub async fn accept_certificate(&self, key: &str, device: &str, group: &str, recorder: &str) -> Result<Answer<Written>, ClientError> {
        let body = AcceptCertificate { group: group.into(), recorder: recorder.into() };
        self.post(&format!("/v1/devices/{}/certificates", segment(device)), key, None, &body).await
    }

    pub async fn play_on_device(&self, key: &str, device: &str, content: &str) -> Result<Answer<Written>, ClientError> {
        self.post(&format!("/v1/devices/{}/play", segment(device)), key, None, &DeviceContent { content: content.into() }).await
    }

    pub async fn mark_shareable(&self, key: &str, device: &str, content: &str) -> Result<Answer<Written>, ClientError> {
        self.post(&format!("/v1/devices/{}/shareable", segment(device)), key, None, &DeviceContent { content: content.into() }).await
    }

    /// A PD transmits by radio; the `ContentShared` event's position is what a receiver names.
    pub async fn transmit(&self, key: &str, device: &str, content: &str) -> Result<Answer<Written>, ClientError> {
        self.post(&format!("/v1/devices/{}/transmit", segment(device)), key, None, &DeviceContent { content: content.into() }).await
    }

    pub async fn set_radio(&self, key: &str, device: &str, auto_switch: bool, threshold: u64) -> Result<Answer<Written>, ClientError> {
        self.post(&format!("/v1/devices/{}/radio", segment(device)), key, None, &RadioSettings { auto_switch, threshold }).await
    }

    /// A PD receives the transmission recorded at `position`.
    pub async fn receive(&self, key: &str, device: &str, position: u64) -> Result<Answer<Written>, ClientError> {
        self.post(&format!("/v1/devices/{}/receive", segment(device)), key, None, &Receive { position }).await
    }

    pub async fn press_favorite(&self, key: &str, pd: &str) -> Result<Answer<Written>, ClientError> {
        self.post(&format!("/v1/devices/{}/favorites", segment(pd)), key, None, &()).await
    }

    pub async fn upload_favorites(&self, key: &str, pd: &str, pc: &str) -> Result<Answer<Written>, ClientError> {
        self.post(&format!("/v1/devices/{}/favorites/upload", segment(pd)), key, None, &UploadFavorites { pc: pc.into() }).await
    }

    pub async fn forward_favorites(&self, key: &str, pc: &str) -> Result<Answer<Written>, ClientError> {
        self.post(&format!("/v1/devices/{}/favorites/forward", segment(pc)), key, None, &()).await
    }

    pub async fn sync_reputation(&self, key: &str, device: &str) -> Result<Answer<Written>, ClientError> {
        self.post(&format!("/v1/devices/{}/reputation/sync", segment(device)), key, None, &()).await
    }

    pub async fn distribution(&self) -> Result<Answer<DistributionView>, ClientError> {
        self.get("/v1/distribution").await
    }

    pub async fn configure_distribution(&self, key: &str, body: &ConfigureDistribution, if_match: Option<u64>) -> Result<Answer<Written>, ClientError> {
        self.post("/v1/distribution/policy", key, if_match, body).await
    }

    pub async fn set_reward(&self, key: &str, group: &str, discount_bp: u32) -> Result<Answer<Written>, ClientError> {
        self.post("/v1/distribution/rewards", key, None, &SetReward { group: group.into(), discount_bp }).await
    }

    // ----- the log -----

    pub async fn log(&self, from: u64, limit: usize) -> Result<Answer<RecordPage>, ClientError> {
        self.get(&format!("/v1/log?from={from}&limit={limit}")).await
    }

    pub async fn stream(&self, stream: &str, from: u64, limit: usize) -> Result<Answer<RecordPage>, ClientError> {
        self.get(&format!("/v1/streams/{}?from={from}&limit={limit}", segment(stream))).await
    }

    pub async fn verify(&self) -> Result<Answer<VerifyView>, ClientError> {
        self.get("/v1/verify").await
    }

    /// The balances projection right after `position` (`None`: the head).
    pub async fn balances_at(&self, position: Option<u64>) -> Result<Answer<BalancesView>, ClientError> {
        match position {
            Some(p) => self.get(&format!("/v1/projections/balances?position={p}")).await,
            None => self.get("/v1/projections/balances").await,
        }
    }

    /// An account's usage history right after `position` (`None`: the head).
    pub async fn usage_at(&self, account: &str, position: Option<u64>) -> Result<Answer<UsageView>, ClientError> {
        let at = position.map(|p| format!("?position={p}")).unwrap_or_default();
        self.get(&format!("/v1/projections/usage/{}{at}", segment(account))).await
    }

    /// A content's purchases and plays right after `position` (`None`: the head).
    pub async fn content_usage_at(&self, content: &str, position: Option<u64>) -> Result<Answer<ContentUsageView>, ClientError> {
        let at = position.map(|p| format!("?position={p}")).unwrap_or_default();
        self.get(&format!("/v1/projections/contents/{}{at}", segment(content))).await
    }

    /// The charisma rankings right after `position` (`None`: the head).
    pub async fn charisma_at(&self, position: Option<u64>) -> Result<Answer<CharismaView>, ClientError> {
        let at = position.map(|p| format!("?position={p}")).unwrap_or_default();
        self.get(&format!("/v1/projections/charisma{at}")).await
    }

    /// Reads the log subscription from `after` until `count` records have
    /// arrived (or the stream ends), for catch-up readers and tests.
    pub async fn subscribe_collect(&self, after: u64, count: usize) -> Result<Vec<RecordView>, ClientError> {
        use futures_util::StreamExt;
        let request = self.http.get(self.url(&format!("/v1/log/subscribe?after={after}"))).bearer_auth(&self.token).timeout(Duration::from_secs(60));
        let mut response = request.send().await.map_err(|e| ClientError::Transport(e.to_string()))?;
        if response.status() != StatusCode::OK {
            let status = response.status().as_u16();
            let body = response.body().await.map_err(|e| ClientError::Transport(e.to_string()))?;
            return Err(problem_or_unexpected(status, &body));
        }
        let mut records = Vec::new();
        let mut buffer = String::new();
        while records.len() < count {
            let Some(chunk) = response.next().await else { break };
            let chunk = chunk.map_err(|e| ClientError::Transport(e.to_string()))?;
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                    let record = serde_json::from_str(data).map_err(|e| ClientError::Unexpected { status: 200, reason: e.to_string() })?;
                    records.push(record);
                }
            }
        }
        Ok(records)
    }

    // ----- operations -----

    pub async fn health(&self) -> Result<Answer<Health>, ClientError> {
        self.get("/healthz").await
    }

    /// Readiness: 200 `ready`, or 503 with `poisoned` or `stopping` (an
    /// answer too, not an error).
    pub async fn ready(&self) -> Result<Answer<Health>, ClientError> {
        answer_accepting(self.http.get(self.url("/readyz")).send().await, &[503]).await
    }
}

async fn answer<T: DeserializeOwned, S>(sent: Result<awc::ClientResponse<S>, awc::error::SendRequestError>) -> Result<Answer<T>, ClientError>
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    answer_accepting(sent, &[]).await
}

/// An answer whose status is 2xx or one of `also`, decoded as `T`.
async fn answer_accepting<T: DeserializeOwned, S>(
    sent: Result<awc::ClientResponse<S>, awc::error::SendRequestError>,
    also: &[u16],
) -> Result<Answer<T>, ClientError>
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let mut response = sent.map_err(|e| ClientError::Transport(e.to_string()))?;
    let status = response.status().as_u16();
    let etag = response.headers().get("ETag").and_then(|v| v.to_str().ok()).and_then(|v| v.trim_matches('"').parse().ok());
    let replayed = response.headers().get(REPLAYED).is_some_and(|v| v == "true");
    let body = response.body().limit(MAX_RESPONSE_BYTES).await.map_err(|e| ClientError::Transport(e.to_string()))?;
    if !(200..300).contains(&status) && !also.contains(&status) {
        return Err(problem_or_unexpected(status, &body));
    }
    let value = serde_json::from_slice(&body).map_err(|e| ClientError::Unexpected { status, reason: e.to_string() })?;
    Ok(Answer { status, value, etag, replayed })
}

/// The card's answer to a ticket (the card module computes it; its key stays inside).
pub fn card_answer(card: &CardFile, ticket: &TicketView) -> Result<CardAnswer, ClientError> {
    let challenge: [u8; 32] = crate::deployment::credentials::unhex(&ticket.challenge)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| ClientError::Unexpected { status: 200, reason: format!("a challenge that is not 32 bytes of hex: {}", ticket.challenge) })?;
    let response = card.respond(&Challenge(challenge));
    Ok(CardAnswer { ticket: ticket.ticket.clone(), response: hex(&response.0) })
}

fn problem_or_unexpected(status: u16, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<Problem>(body) {
        Ok(problem) => ClientError::Refused(Box::new(problem)),
        Err(_) => ClientError::Unexpected { status, reason: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned() },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_escaped_as_path_segments() {
        assert_eq!(super::segment("acct-1"), "acct-1");
        assert_eq!(super::segment("a/b c"), "a%2Fb%20c");
        assert_eq!(super::segment("../x"), "..%2Fx");
    }
}
