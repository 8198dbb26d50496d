//! Every route's refusals, as a table: no token (401), a role that may not
//! (403), another station's id (403), a write without an Idempotency-Key
//! (400), a body over the limit (413), a same-key different body (422). Each
//! refused request must leave the log as it was. The table is checked
//! against the OpenAPI document, so a new route without a row fails here.
//! (Raw requests on purpose: these are what the typed client never sends.)
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use encore_server::api::types::*;
use encore_server::deployment::Role;

/// One route: method, path (with ids filled in), a valid body, the roles
/// besides the operator that may call it, and whether it is bound to a station.
struct Route {
    method: &'static str,
    path: &'static str,
    /// The OpenAPI path template.
    template: &'static str,
    body: Option<&'static str>,
    roles: &'static [Role],
    station: Option<Role>,
}

const ROUTES: &[Route] = &[
    Route { method: "POST", path: "/v1/accounts", template: "/v1/accounts", body: Some(r#"{"account":"acct-9"}"#), roles: &[], station: None },
    Route { method: "GET", path: "/v1/accounts/acct-1", template: "/v1/accounts/{account}", body: None, roles: &[Role::Auditor], station: None },
    Route {
        method: "POST",
        path: "/v1/accounts/acct-1/loads",
        template: "/v1/accounts/{account}/loads",
        body: Some(r#"{"amount":5}"#),
        roles: &[],
        station: None,
    },
    Route {
        method: "POST",
        path: "/v1/accounts/acct-1/refunds",
        template: "/v1/accounts/{account}/refunds",
        body: Some(r#"{"purchase":"p-1"}"#),
        roles: &[],
        station: None,
    },
    Route {
        method: "POST",
        path: "/v1/accounts/acct-1/link",
        template: "/v1/accounts/{account}/link",
        body: Some(r#"{"user":"u-1"}"#),
        roles: &[],
        station: None,
    },
    Route { method: "POST", path: "/v1/cards", template: "/v1/cards", body: Some(r#"{"card":"card-9","account":"acct-1"}"#), roles: &[], station: None },
    Route { method: "GET", path: "/v1/cards/card-1", template: "/v1/cards/{card}", body: None, roles: &[Role::Auditor, Role::Kiosk], station: None },
    Route {
        method: "POST",
        path: "/v1/contents",
        template: "/v1/contents",
        body: Some(r#"{"content":"song-9","price":1,"uses":1}"#),
        roles: &[],
        station: None,
    },
    Route {
        method: "GET",
        path: "/v1/contents/song-1",
        template: "/v1/contents/{content}",
        body: None,
        roles: &[Role::Auditor, Role::Kiosk, Role::Device],
        station: None,
    },
    Route {
        method: "POST",
        path: "/v1/kiosks/kiosk-1/card",
        template: "/v1/kiosks/{kiosk}/card",
        body: Some(
            r#"{"card":"card-1","answer":{"ticket":"000000000000000000000000000000000000000000000000","response":"0000000000000000000000000000000000000000000000000000000000000000"}}"#,
        ),
        roles: &[Role::Kiosk],
        station: Some(Role::Kiosk),
    },
    Route {
        method: "POST",
        path: "/v1/kiosks/kiosk-1/purchases",
        template: "/v1/kiosks/{kiosk}/purchases",
        body: Some(
            r#"{"card":"card-1","content":"song-1","answer":{"ticket":"000000000000000000000000000000000000000000000000","response":"0000000000000000000000000000000000000000000000000000000000000000"}}"#,
        ),
        roles: &[Role::Kiosk],
        station: Some(Role::Kiosk),
    },
    Route {
        method: "GET",
        path: "/v1/kiosks/kiosk-1/challenge?card=card-1",
        template: "/v1/kiosks/{kiosk}/challenge",
        body: None,
        roles: &[Role::Kiosk],
        station: Some(Role::Kiosk),
    },
    Route {
        method: "GET",
        path: "/v1/players/player-1/challenge?card=card-1",
        template: "/v1/players/{player}/challenge",
        body: None,
        roles: &[Role::Device],
        station: Some(Role::Device),
    },
    Route { method: "GET", path: "/v1/cards/card-1/image", template: "/v1/cards/{card}/image", body: None, roles: &[], station: None },
    Route {
        method: "POST",
        path: "/v1/players/player-1/plays",
        template: "/v1/players/{player}/plays",
        body: Some(r#"{"card":"card-1","content":"song-1","played_at":"2026-01-01T00:00:00Z","sealed":"00"}"#),
        roles: &[Role::Device],
        station: Some(Role::Device),
    },
    Route {
        method: "POST",
        path: "/v1/contents/song-9/file?price=5&uses=1",
        template: "/v1/contents/{content}/file",
        body: Some("plain bytes of a song"),
        roles: &[],
        station: None,
    },
    Route { method: "GET", path: "/v1/contents", template: "/v1/contents", body: None, roles: &[Role::Auditor, Role::Kiosk, Role::Device], station: None },
    Route {
        method: "GET",
        path: "/v1/contents/song-1/file",
        template: "/v1/contents/{content}/file",
        body: None,
        roles: &[Role::Auditor, Role::Kiosk, Role::Device],
        station: None,
    },
    Route {
        method: "GET",
        path: "/v1/kiosks/kiosk-1/pending",
        template: "/v1/kiosks/{kiosk}/pending",
        body: None,
        roles: &[Role::Kiosk],
        station: Some(Role::Kiosk),
    },
    Route {
        method: "POST",
        path: "/v1/kiosks/kiosk-1/eject",
        template: "/v1/kiosks/{kiosk}/eject",
        body: None,
        roles: &[Role::Kiosk],
        station: Some(Role::Kiosk),
    },
    Route {
        method: "POST",
        path: "/v1/players/player-1/purchases",
        template: "/v1/players/{player}/purchases",
        body: Some(
            r#"{"card":"card-1","content":"song-1","answer":{"ticket":"000000000000000000000000000000000000000000000000","response":"0000000000000000000000000000000000000000000000000000000000000000"}}"#,
        ),
        roles: &[Role::Device],
        station: Some(Role::Device),
    },
    Route { method: "POST", path: "/v1/users", template: "/v1/users", body: Some(r#"{"user":"u-9","service":"01234"}"#), roles: &[], station: None },
    Route { method: "GET", path: "/v1/groups/01234-0000A", template: "/v1/groups/{group}", body: None, roles: &[Role::Auditor], station: None },
    Route { method: "POST", path: "/v1/devices", template: "/v1/devices", body: Some(r#"{"device":"pd-9","kind":"pd"}"#), roles: &[], station: None },
    Route {
        method: "GET",
        path: "/v1/devices/player-1",
        template: "/v1/devices/{device}",
        body: None,
        roles: &[Role::Auditor, Role::Device],
        station: Some(Role::Device),
    },
    Route {
        method: "POST",
        path: "/v1/groups/01234-0000A/devices",
        template: "/v1/groups/{group}/devices",
        body: Some(r#"{"device":"player-1"}"#),
        roles: &[Role::Device],
        station: Some(Role::Device),
    },
    Route {
        method: "POST",
        path: "/v1/groups/01234-0000A/devices/player-1/deregister",
        template: "/v1/groups/{group}/devices/{device}/deregister",
        body: None,
        roles: &[Role::Device],
        station: Some(Role::Device),
    },
    Route {
        method: "POST",
        path: "/v1/groups/01234-0000A/certificates",
        template: "/v1/groups/{group}/certificates",
        body: Some(r#"{"pc":"player-1","valid_until":"2027-01-01T00:00:00Z"}"#),
        roles: &[Role::Device],
        station: Some(Role::Device),
    },
    Route {
        method: "GET",
        path: "/v1/groups/01234-0000A/certificates",
        template: "/v1/groups/{group}/certificates",
        body: None,
        roles: &[Role::Auditor],
        station: None,
    },
    Route {
        method: "POST",
        path: "/v1/devices/player-1/certificates",
        template: "/v1/devices/{device}/certificates",
        body: Some(r#"{"group":"01234-0000A","recorder":"r-1"}"#),
        roles: &[Role::Device],
        station: Some(Role::Device),
    },
    Route {
        method: "POST",
        path: "/v1/devices/player-1/play",
        template: "/v1/devices/{device}/play",
        body: Some(r#"{"content":"song-1"}"#),
        roles: &[Role::Device],
        station: Some(Role::Device),
    },
    Route {
        method: "POST",
        path: "/v1/devices/player-1/shareable",
        template: "/v1/devices/{device}/shareable",
        body: Some(r#"{"content":"song-1"}"#),
        roles: &[Role::Device],
        station: Some(Role::Device),
    },
    Route {
        method: "POST",
        path: "/v1/devices/player-1/transmit",
        template: "/v1/devices/{device}/transmit",
        body: Some(r#"{"content":"song-1"}"#),
        roles: &[Role::Device],
        station: Some(Role::Device),
    },
    Route {
        method: "POST",
        path: "/v1/devices/player-1/radio",
        template: "/v1/devices/{device}/radio",
        body: Some(r#"{"auto_switch":true,"threshold":5}"#),
        roles: &[Role::Device],
        station: Some(Role::Device),
    },
    Route {
        method: "POST",
        path: "/v1/devices/player-1/receive",
        template: "/v1/devices/{device}/receive",
        body: Some(r#"{"position":1}"#),
        roles: &[Role::Device],
        station: Some(Role::Device),
    },
    Route {
        method: "POST",
        path: "/v1/devices/player-1/favorites",
        template: "/v1/devices/{device}/favorites",
        body: None,
        roles: &[Role::Device],
        station: Some(Role::Device),
    },
    Route {
        method: "POST",
        path: "/v1/devices/player-1/favorites/upload",
        template: "/v1/devices/{device}/favorites/upload",
        body: Some(r#"{"pc":"pc-1"}"#),
        roles: &[Role::Device],
        station: Some(Role::Device),
    },
    Route {
        method: "POST",
        path: "/v1/devices/player-1/favorites/forward",
        template: "/v1/devices/{device}/favorites/forward",
        body: None,
        roles: &[Role::Device],
        station: Some(Role::Device),
    },
    Route {
        method: "POST",
        path: "/v1/devices/player-1/reputation/sync",
        template: "/v1/devices/{device}/reputation/sync",
        body: None,
        roles: &[Role::Device],
        station: Some(Role::Device),
    },
    Route {
        method: "GET",
        path: "/v1/distribution",
        template: "/v1/distribution",
        body: None,
        roles: &[Role::Auditor, Role::Kiosk, Role::Device],
        station: None,
    },
    Route {
        method: "POST",
        path: "/v1/distribution/policy",
        template: "/v1/distribution/policy",
        body: Some(r#"{"threshold":50}"#),
        roles: &[],
        station: None,
    },
    Route {
        method: "POST",
        path: "/v1/distribution/rewards",
        template: "/v1/distribution/rewards",
        body: Some(r#"{"group":"01234-0000A","discount_bp":500}"#),
        roles: &[],
        station: None,
    },
    Route { method: "GET", path: "/v1/log", template: "/v1/log", body: None, roles: &[Role::Auditor], station: None },
    Route { method: "GET", path: "/v1/streams/account-acct-1", template: "/v1/streams/{stream}", body: None, roles: &[Role::Auditor], station: None },
    Route { method: "GET", path: "/v1/log/subscribe", template: "/v1/log/subscribe", body: None, roles: &[Role::Auditor], station: None },
    Route { method: "GET", path: "/v1/verify", template: "/v1/verify", body: None, roles: &[Role::Auditor], station: None },
    Route { method: "GET", path: "/v1/projections/balances", template: "/v1/projections/balances", body: None, roles: &[Role::Auditor], station: None },
    Route {
        method: "GET",
        path: "/v1/projections/usage/acct-1",
        template: "/v1/projections/usage/{account}",
        body: None,
        roles: &[Role::Auditor],
        station: None,
    },
    Route {
        method: "GET",
        path: "/v1/projections/contents/song-1",
        template: "/v1/projections/contents/{content}",
        body: None,
        roles: &[Role::Auditor],
        station: None,
    },
    Route { method: "GET", path: "/v1/projections/charisma", template: "/v1/projections/charisma", body: None, roles: &[Role::Auditor], station: None },
];

/// Routes open to anyone: they carry no data.
const OPEN: &[&str] = &["/healthz", "/readyz", "/metrics"];

const ALL_ROLES: [Role; 3] = [Role::Kiosk, Role::Device, Role::Auditor];

struct Sent {
    status: u16,
    content_type: String,
}

async fn send(http: &awc::Client, base: &str, route: &Route, token: Option<&str>, key: Option<&str>, body: Option<String>) -> Sent {
    let url = format!("{base}{}", route.path);
    let mut request = match route.method {
        "GET" => http.get(url),
        _ => http.post(url),
    };
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(key) = key {
        request = request.insert_header(("Idempotency-Key", key));
    }
    let mut response = match body {
        Some(body) => request.insert_header(("Content-Type", "application/json")).send_body(body).await,
        None => request.send().await,
    }
    .expect("the server answers");
    let content_type = response.headers().get("Content-Type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if route.path != "/v1/log/subscribe" || response.status() != 200 {
        let _ = response.body().limit(1 << 20).await;
    }
    Sent { status: response.status().as_u16(), content_type }
}

fn head_of(op_log: &encore_server::api::types::RecordPage) -> u64 {
    op_log.head
}

#[test]
fn every_route_refuses_missing_tokens_wrong_roles_other_stations_missing_keys_and_big_bodies_writing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (data, operator) = new_deployment(dir.path());
    let server = TestServer::start(&data, &operator);
    let base = server.base();
    let op = server.operator();
    let tokens: Vec<(Role, String)> = ALL_ROLES
        .iter()
        .map(|&role| {
            let station = role.needs_station().then(|| if role == Role::Kiosk { "kiosk-1" } else { "player-1" });
            let path = data.join("credentials");
            let made = encore_server::deployment::credentials::add(&path, &format!("t-{}", role.name()), role, station, "").unwrap();
            (role, made.token)
        })
        .collect();
    let other_station = |role: Role| {
        let made =
            encore_server::deployment::credentials::add(&data.join("credentials"), &format!("other-{}", role.name()), role, Some("someone-else"), "").unwrap();
        made.token
    };
    let (other_kiosk, other_device) = (other_station(Role::Kiosk), other_station(Role::Device));
    run(async {
        op.open_account("setup-1", &OpenAccount { account: "acct-1".into(), initial: 1_000, expires_at: None }).await.unwrap();
        let http = awc::Client::default();
        let head = || async { head_of(&op.log(1, 1).await.unwrap().value) };
        let before = head().await;
        for route in ROUTES {
            let name = format!("{} {}", route.method, route.path);
            let writes = route.method == "POST";
            let body = route.body.map(str::to_string);
            let no_token = send(&http, &base, route, None, Some("k"), body.clone()).await;
            assert_eq!(no_token.status, 401, "{name} without a token");
            assert_eq!(no_token.content_type, "application/problem+json", "{name}: problems are RFC 9457");
            let wrong = send(&http, &base, route, Some("encore_nobody_00"), Some("k"), body.clone()).await;
            assert_eq!(wrong.status, 401, "{name} with an unknown token");
            for (role, token) in &tokens {
                if !route.roles.contains(role) {
                    let sent = send(&http, &base, route, Some(token), Some("k"), body.clone()).await;
                    assert_eq!(sent.status, 403, "{name} as {}", role.name());
                }
            }
            match route.station {
                Some(Role::Kiosk) => {
                    assert_eq!(send(&http, &base, route, Some(&other_kiosk), Some("k"), body.clone()).await.status, 403, "{name} as another kiosk")
                }
                Some(_) => assert_eq!(send(&http, &base, route, Some(&other_device), Some("k"), body.clone()).await.status, 403, "{name} as another device"),
                None => {}
            }
            if writes {
                let sent = send(&http, &base, route, Some(&operator), None, body.clone()).await;
                assert_eq!(sent.status, 400, "{name} without an Idempotency-Key");
                // The content file route takes files: its limit is checked by the content file test.
                if route.template != "/v1/contents/{content}/file" {
                    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(70 * 1024));
                    let sent = send(&http, &base, route, Some(&operator), Some("big"), Some(big)).await;
                    assert_eq!(sent.status, 413, "{name} with a 70 KiB body");
                }
            }
            assert_eq!(head().await, before, "{name}: refused requests wrote nothing");
        }
    });
    server.stop();
}

#[test]
fn the_openapi_document_describes_every_route_and_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let (data, operator) = new_deployment(dir.path());
    let server = TestServer::start(&data, &operator);
    let base = server.base();
    let doc: serde_json::Value = run(async {
        let mut response = awc::Client::default().get(format!("{base}/openapi.json")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        serde_json::from_slice(&response.body().limit(1 << 22).await.unwrap()).unwrap()
    });
    let documented: std::collections::BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |method| (method.to_uppercase(), path.clone())))
        .collect();
    let mut expected: std::collections::BTreeSet<(String, String)> = ROUTES.iter().map(|r| (r.method.to_string(), r.template.to_string())).collect();
    expected.extend(OPEN.iter().map(|p| ("GET".to_string(), p.to_string())));
    assert_eq!(documented, expected);
    // Writes declare their key header, errors their problem body, and every route but the open ones its bearer security.
    for route in ROUTES {
        let op = &doc["paths"][route.template][route.method.to_lowercase()];
        assert!(op["security"].is_array(), "{} {} declares its security", route.method, route.template);
        if route.method == "POST" {
            let params = op["parameters"].as_array().unwrap();
            assert!(params.iter().any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"), "{} declares Idempotency-Key", route.template);
        }
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    server.stop();
}

#[test]
fn unknown_routes_and_malformed_bodies_are_problems_too() {
    let dir = tempfile::tempdir().unwrap();
    let (data, operator) = new_deployment(dir.path());
    let server = TestServer::start(&data, &operator);
    let base = server.base();
    run(async {
        let http = awc::Client::default();
        let response = http.get(format!("{base}/v2/nothing")).send().await.unwrap();
        assert_eq!(response.status(), 404);
        let response = http
            .post(format!("{base}/v1/accounts"))
            .bearer_auth(&operator)
            .insert_header(("Idempotency-Key", "m-1"))
            .insert_header(("Content-Type", "application/json"))
            .send_body(r#"{"account": "a", "surprise": 1}"#)
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "unknown fields are refused");
        let response = http
            .post(format!("{base}/v1/accounts/acct-1/loads"))
            .bearer_auth(&operator)
            .insert_header(("Idempotency-Key", "m-2"))
            .insert_header(("If-Match", "yesterday"))
            .insert_header(("Content-Type", "application/json"))
            .send_body(r#"{"amount": 1}"#)
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "a malformed If-Match is refused");
        let mut request = http.get(format!("{base}/healthz"));
        for i in 0..120 {
            request = request.insert_header((format!("x-padding-{i}"), "y".repeat(20)));
        }
        assert_eq!(request.send().await.unwrap().status(), 431, "more headers than the server takes");
        let response = http.get(format!("{base}/healthz")).insert_header(("x-padding", "y".repeat(20_000))).send().await.unwrap();
        assert_eq!(response.status(), 431, "headers over 16 KiB");
        assert_eq!(response.headers().get("Content-Type").unwrap(), "application/problem+json");
    });
    server.stop();
}

#[test]
fn forged_card_and_token_floods_are_slowed_down_and_cannot_fill_the_log() {
    use encore_server::api::limits::{AUTH_FAILURES_PER_MINUTE, CARD_REJECTIONS_PER_MINUTE};
    let dir = tempfile::tempdir().unwrap();
    let (data, operator) = new_deployment(dir.path());
    let server = TestServer::start(&data, &operator);
    let kiosk = server.client_as("kiosk-1", Role::Kiosk, Some("kiosk-1"));
    let op = server.operator();
    run(async {
        op.open_account("open", &OpenAccount { account: "acct-1".into(), initial: 10, expires_at: None }).await.unwrap();
        op.issue_card("issue", &IssueCard { card: "card-1".into(), account: "acct-1".into(), expires_at: None }).await.unwrap();
        let forged = encore_card::CardFile::personalise(
            encore_domain::ids::CardId::new("card-1").unwrap(),
            encore_domain::ids::AccountId::new("acct-1").unwrap(),
            None,
            encore_domain::licensing::DeviceKey::from_bytes([1; 32]),
        );
        let before = op.log(1, 1).await.unwrap().value.head;
        let mut limited = None;
        for i in 0..CARD_REJECTIONS_PER_MINUTE + 5 {
            let answer = kiosk.answer_at_kiosk("kiosk-1", &forged).await.unwrap();
            match kiosk.insert_card(&format!("forged-{i}"), "kiosk-1", "card-1", &answer).await {
                Ok(written) => assert!(written.value.events.iter().any(|e| e.event_type == "CardRejected")),
                Err(e) => {
                    limited.get_or_insert(i);
                    assert_eq!(e.status(), Some(429), "{e}");
                }
            }
        }
        assert_eq!(limited, Some(CARD_REJECTIONS_PER_MINUTE), "the budget holds exactly");
        let written = op.log(before + 1, 1000).await.unwrap().value.records;
        assert_eq!(
            written.iter().filter(|r| r.event_type == "CardRejected").count(),
            CARD_REJECTIONS_PER_MINUTE as usize,
            "no more rejections than the budget"
        );
        // Guessed tokens: 401 up to the budget, then 429; the operator from the same address is not held back.
        let guesser = op.with_token("encore_guess_0000");
        let mut statuses = Vec::new();
        for _ in 0..AUTH_FAILURES_PER_MINUTE + 3 {
            statuses.push(guesser.account("acct-1").await.unwrap_err().status());
        }
        assert_eq!(statuses.iter().filter(|s| **s == Some(401)).count(), AUTH_FAILURES_PER_MINUTE as usize);
        assert_eq!(statuses.last(), Some(&Some(429)));
        assert_eq!(op.account("acct-1").await.unwrap().value.balance, 10);
    });
    server.stop();
}
