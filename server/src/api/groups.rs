//! The group management server (users, leaf ids, devices, registration with
//! the PC and recorder limits, group certificates and their delivery to the
//! group's PCs; 003 [0236]-[0293]) and the distribution server (favorites
//! travelling PD -> PC -> server, reliability, the charisma policy and list,
//! rewards, and their sync back to devices; 003 [0383]-[0440]). A device
//! credential acts only as its own device; a refused registration or
//! certificate is an event (200), as in the domain.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use encore_actors::Recorded;
use encore_domain::groups::{CharismaPolicy, DeviceKind, DistributionConfig, GroupEvent, GroupLimits};
use encore_domain::ids::{ContentId, DeviceId, GroupId, RecorderId, ServiceId, TerminalId, UserId};
use encore_domain::{Event, EventCodec};

use super::auth::Caller;
use super::idempotency::{self, etag, event_refs, Write};
use super::problem::ApiError;
use super::types::*;
use super::{parse_id, parse_time, render_time, AppState, Json};
use crate::deployment::Role;

fn group_id(text: &str) -> Result<GroupId, ApiError> {
    parse_id(text.parse::<GroupId>(), text)
}

fn device_id(text: &str) -> Result<DeviceId, ApiError> {
    parse_id(DeviceId::new(text), text)
}

fn written(_: Option<&()>, events: &[Recorded]) -> Result<Written, ApiError> {
    Ok(Written { events: event_refs(events) })
}

// ----- group management -----

#[utoipa::path(post, path = "/v1/users", tag = "groups", request_body = RegisterUser,
    params(("Idempotency-Key" = String, Header)),
    responses((status = 201, body = UserRegisteredView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/users")]
pub async fn register_user(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: Json<RegisterUser>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[])?;
    let user = parse_id(UserId::new(body.user.clone()), &body.user)?;
    let service = parse_id(ServiceId::new(&body.service), &body.service)?;
    let defaults = GroupLimits::default();
    let limits = GroupLimits { max_pcs: body.max_pcs.unwrap_or(defaults.max_pcs), max_recorders: body.max_recorders.unwrap_or(defaults.max_recorders) };
    let write = Write { req: &req, caller: &caller, route: "POST /v1/users".into(), body: &body.0, status: StatusCode::CREATED };
    idempotency::write(
        &state,
        write,
        || state.runtime.register_user(&user, service, limits),
        |_, events| {
            let group = events.iter().find_map(|r| match &r.event {
                Event::Groups(GroupEvent::UserRegistered { group, .. }) => Some(group.to_string()),
                _ => None,
            });
            Ok(UserRegisteredView { group, events: event_refs(events) })
        },
    )
    .await
}

#[utoipa::path(get, path = "/v1/groups/{group}", tag = "groups", params(("group" = String, Path)),
    responses((status = 200, body = GroupView, headers(("ETag" = String))), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/groups/{group}")]
pub async fn get_group(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[Role::Auditor])?;
    let group = group_id(&path)?;
    let found = state.runtime.group(&group).await?;
    if found.group().is_none() {
        return Err(ApiError::not_found("unknown-group", &path));
    }
    let limits = found.limits();
    let view = GroupView {
        group: group.to_string(),
        user: found.user().map(ToString::to_string),
        pcs: found.pcs().keys().map(ToString::to_string).collect(),
        pds: found.pds().iter().map(ToString::to_string).collect(),
        recorders_ever: found.recorders_ever().iter().map(ToString::to_string).collect(),
        max_pcs: limits.max_pcs,
        max_recorders: limits.max_recorders,
        version: found.version(),
    };
    Ok(HttpResponse::Ok().insert_header(etag(found.version())).json(view))
}

#[utoipa::path(post, path = "/v1/devices", tag = "groups", request_body = ProvisionDevice,
    params(("Idempotency-Key" = String, Header)),
    responses((status = 201, body = Written), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/devices")]
pub async fn provision_device(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: Json<ProvisionDevice>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[])?;
    let device = device_id(&body.device)?;
    let kind = match (body.kind.as_str(), &body.terminal, &body.recorder) {
        ("pd", None, None) => DeviceKind::Pd,
        ("pc", Some(terminal), recorder) => DeviceKind::Pc {
            terminal: parse_id(TerminalId::new(terminal.clone()), terminal)?,
            recorder: recorder.as_ref().map(|r| parse_id(RecorderId::new(r.clone()), r)).transpose()?,
        },
        ("pc", None, _) => return Err(ApiError::bad_request("bad-device-kind", "a PC needs its terminal id")),
        ("pd", _, _) => return Err(ApiError::bad_request("bad-device-kind", "a PD has no terminal or recorder id")),
        (other, _, _) => return Err(ApiError::bad_request("bad-device-kind", "kind is pc or pd").with_value(other)),
    };
    let write = Write { req: &req, caller: &caller, route: "POST /v1/devices".into(), body: &body.0, status: StatusCode::CREATED };
    idempotency::write(&state, write, || state.runtime.provision_device(&device, kind), written).await
}

#[utoipa::path(get, path = "/v1/devices/{device}", tag = "groups", params(("device" = String, Path)),
    responses((status = 200, body = DeviceView, headers(("ETag" = String))), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/devices/{device}")]
pub async fn get_device(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    if caller.0.role != Role::Auditor {
        caller.as_station(Role::Device, &path)?;
    }
    let device = device_id(&path)?;
    let found = state.runtime.device(&device).await?;
    let Some(kind) = found.kind() else { return Err(ApiError::not_found("unknown-device", &path)) };
    let view = DeviceView {
        device: device.to_string(),
        kind: Some(if kind.is_pc() { "pc" } else { "pd" }.to_string()),
        group: found.group().map(ToString::to_string),
        recorder: found.recorder().map(ToString::to_string),
        library: found.library().keys().map(ToString::to_string).collect(),
        favorites: found.favorites().len() as u64,
        reliability: found.reliability(),
        charisma: found.charisma_list().iter().map(ToString::to_string).collect(),
        version: found.version(),
    };
    Ok(HttpResponse::Ok().insert_header(etag(found.version())).json(view))
}

#[utoipa::path(post, path = "/v1/groups/{group}/devices", tag = "groups", request_body = RegisterDevice,
    params(("group" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = Written, description = "DeviceRegistered, or DeviceRegistrationRefused with its reason (a limit, another group)"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/groups/{group}/devices")]
pub async fn register_device(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<RegisterDevice>,
) -> Result<HttpResponse, ApiError> {
    // A PC registers itself; a PD is registered through its PC (003 [0244]-[0248]).
    caller.as_station(Role::Device, body.via.as_deref().unwrap_or(&body.device))?;
    let group = group_id(&path)?;
    let device = device_id(&body.device)?;
    let via = body.via.as_deref().map(device_id).transpose()?;
    let write = Write { req: &req, caller: &caller, route: format!("POST /v1/groups/{group}/devices"), body: &body.0, status: StatusCode::OK };
    idempotency::write(&state, write, || state.runtime.register_device(&group, &device, via.as_ref()), written).await
}

#[utoipa::path(post, path = "/v1/groups/{group}/devices/{device}/deregister", tag = "groups",
    params(("group" = String, Path), ("device" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = Written), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/groups/{group}/devices/{device}/deregister")]
pub async fn deregister_device(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (group, device) = path.into_inner();
    caller.as_station(Role::Device, &device)?;
    let (group, device) = (group_id(&group)?, device_id(&device)?);
    let write = Write { req: &req, caller: &caller, route: format!("POST /v1/groups/{group}/devices/{device}/deregister"), body: &(), status: StatusCode::OK };
    idempotency::write(&state, write, || state.runtime.deregister_device(&group, &device), written).await
}

#[utoipa::path(post, path = "/v1/groups/{group}/certificates", tag = "groups", request_body = IssueCertificate,
    params(("group" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = Written, description = "GroupCertificateIssued (none for a PC without a recorder id)"), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/groups/{group}/certificates")]
pub async fn issue_certificate(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<IssueCertificate>,
) -> Result<HttpResponse, ApiError> {
    caller.as_station(Role::Device, &body.pc)?;
    let group = group_id(&path)?;
    let pc = device_id(&body.pc)?;
    let valid_until = parse_time(&body.valid_until)?;
    let write = Write { req: &req, caller: &caller, route: format!("POST /v1/groups/{group}/certificates"), body: &body.0, status: StatusCode::OK };
    let call = || async { state.runtime.issue_certificate(&group, &pc, valid_until).await.map(|o| o.map(|_| ())) };
    idempotency::write(&state, write, call, written).await
}

#[utoipa::path(get, path = "/v1/groups/{group}/certificates", tag = "groups", params(("group" = String, Path)),
    responses((status = 200, body = CertificatesView, description = "the certificate management's certificates of the group, for its newly registered PCs"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/groups/{group}/certificates")]
pub async fn group_certificates(state: web::Data<AppState>, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let group = group_id(&path)?;
    // A device of the group may fetch them (003 [0252], [0293]); others need
    // auditor or operator. A device learns nothing of other groups, not even
    // whether they exist.
    if caller.0.role != Role::Device {
        caller.allow(&[Role::Auditor])?;
    }
    let found = state.runtime.group(&group).await?;
    if caller.0.role == Role::Device {
        let member = caller.0.station.as_deref().and_then(|s| DeviceId::new(s).ok()).is_some_and(|d| found.contains(&d));
        if !member {
            return Err(ApiError::forbidden(format!("credential {} is not a device of group {group}", caller.0.id)).with_value(group.to_string()));
        }
    }
    if found.group().is_none() {
        return Err(ApiError::not_found("unknown-group", &path));
    }
    let certificates = found
        .certificates()
        .values()
        .map(|c| CertificateView { group: c.group.to_string(), recorder: c.recorder.to_string(), valid_until: render_time(c.valid_until) })
        .collect();
    Ok(HttpResponse::Ok().json(CertificatesView { certificates }))
}

#[utoipa::path(post, path = "/v1/devices/{device}/certificates", tag = "groups", request_body = AcceptCertificate,
    params(("device" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = Written, description = "SourceIdAdded, or CertificateRefused with its reason"), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/devices/{device}/certificates")]
pub async fn accept_certificate(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<AcceptCertificate>,
) -> Result<HttpResponse, ApiError> {
    caller.as_station(Role::Device, &path)?;
    idempotency::idempotency_key(&req)?;
    let device = device_id(&path)?;
    let group = group_id(&body.group)?;
    let recorder = parse_id(RecorderId::new(body.recorder.clone()), &body.recorder)?;
    // The certificate comes from the certificate management, never from the caller.
    let certificate = state.runtime.group(&group).await?.certificates().get(&recorder).cloned();
    let certificate = certificate.ok_or_else(|| ApiError::not_found("unknown-certificate", &body.recorder))?;
    let write = Write { req: &req, caller: &caller, route: format!("POST /v1/devices/{device}/certificates"), body: &body.0, status: StatusCode::OK };
    idempotency::write(&state, write, || state.runtime.accept_certificate(&device, certificate.clone()), written).await
}

// ----- distribution -----

/// A device-scoped write with no body: favorites, forwarding, reputation sync.
macro_rules! device_action {
    ($name:ident, $route:literal, $doc:literal, |$rt:ident, $device:ident| $call:expr) => {
        #[utoipa::path(post, path = $route, tag = "distribution", description = $doc,
                    params(("device" = String, Path), ("Idempotency-Key" = String, Header)),
                    responses((status = 200, body = Written), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
                        (status = 422, body = Problem)),
                    security(("bearer" = [])))]
        #[post($route)]
        pub async fn $name(state: web::Data<AppState>, caller: Caller, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
            caller.as_station(Role::Device, &path)?;
            let $device = device_id(&path)?;
            let route = format!("POST {}", $route.replace("{device}", $device.as_str()));
            let write = Write { req: &req, caller: &caller, route, body: &(), status: StatusCode::OK };
            let $rt = &state.runtime;
            idempotency::write(&state, write, || $call, written).await
        }
    };
}

device_action!(press_favorite, "/v1/devices/{device}/favorites", "The favorite button: records what the PD plays (FavoriteRecorded).", |rt, device| rt
    .press_favorite(&device));
device_action!(
    forward_favorites,
    "/v1/devices/{device}/favorites/forward",
    "A PC forwards the favorites it holds to the distribution server.",
    |rt, device| rt.forward_favorites(&device)
);
device_action!(sync_reputation, "/v1/devices/{device}/reputation/sync", "Sends a device its group's reliability and the charisma list.", |rt, device| rt
    .sync_reputation(&device));

/// A device-scoped write naming one content of its library.
macro_rules! device_content_action {
    ($name:ident, $route:literal, $doc:literal, |$rt:ident, $device:ident, $content:ident| $call:expr) => {
        #[utoipa::path(post, path = $route, tag = "groups", description = $doc, request_body = DeviceContent,
                    params(("device" = String, Path), ("Idempotency-Key" = String, Header)),
                    responses((status = 200, body = Written), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
                        (status = 413, body = Problem), (status = 422, body = Problem)),
                    security(("bearer" = [])))]
        #[post($route)]
        pub async fn $name(
            state: web::Data<AppState>,
            caller: Caller,
            req: HttpRequest,
            path: web::Path<String>,
            body: Json<DeviceContent>,
        ) -> Result<HttpResponse, ApiError> {
            caller.as_station(Role::Device, &path)?;
            let $device = device_id(&path)?;
            let $content = parse_id(ContentId::new(body.content.clone()), &body.content)?;
            let route = format!("POST {}", $route.replace("{device}", $device.as_str()));
            let write = Write { req: &req, caller: &caller, route, body: &body.0, status: StatusCode::OK };
            let $rt = &state.runtime;
            idempotency::write(&state, write, || $call, written).await
        }
    };
}

device_content_action!(
    play_on_device,
    "/v1/devices/{device}/play",
    "Plays a content of the device's library under its control mode (DevicePlayed or DevicePlayRefused).",
    |rt, device, content| rt.play_on_device(&device, &content)
);
device_content_action!(mark_shareable, "/v1/devices/{device}/shareable", "A PD marks a content of its library shareable by radio.", |rt, device, content| rt
    .mark_shareable(&device, &content));
device_content_action!(
    transmit,
    "/v1/devices/{device}/transmit",
    "A PD transmits a shareable content by radio (ContentShared: its position is what receivers name).",
    |rt, device, content| async move { rt.transmit(&device, &content).await.map(|sent| sent.map(|_| ())) }
);

#[utoipa::path(post, path = "/v1/devices/{device}/radio", tag = "groups", request_body = RadioSettings,
    params(("device" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = Written), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/devices/{device}/radio")]
pub async fn set_radio(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<RadioSettings>,
) -> Result<HttpResponse, ApiError> {
    caller.as_station(Role::Device, &path)?;
    let device = device_id(&path)?;
    let write = Write { req: &req, caller: &caller, route: format!("POST /v1/devices/{device}/radio"), body: &body.0, status: StatusCode::OK };
    idempotency::write(&state, write, || state.runtime.set_radio(&device, body.auto_switch, body.threshold), written).await
}

#[utoipa::path(post, path = "/v1/devices/{device}/receive", tag = "groups", request_body = Receive,
    params(("device" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = Written, description = "played, switched to, or refused (SharedContentRefused)"), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/devices/{device}/receive")]
pub async fn receive(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<Receive>,
) -> Result<HttpResponse, ApiError> {
    caller.as_station(Role::Device, &path)?;
    let device = device_id(&path)?;
    idempotency::idempotency_key(&req)?; // refused before the log is read
    let ledger = state.runtime.ledger().clone();
    let position = body.position;
    let record = web::block(move || ledger.read_record(position))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let not_sent = || ApiError::not_found("no-transmission", &position.to_string());
    let record = record.filter(|r| r.event_type == "ContentShared").ok_or_else(not_sent)?;
    let event = encore_domain::Event::decode_payload(&record.event_type, &record.payload).map_err(|e| ApiError::internal(e.to_string()))?;
    let shared = match &event {
        encore_domain::Event::Groups(e) => encore_domain::groups::SharedContent::from_event(e),
        _ => None,
    }
    .ok_or_else(not_sent)?;
    let write = Write { req: &req, caller: &caller, route: format!("POST /v1/devices/{device}/receive"), body: &body.0, status: StatusCode::OK };
    idempotency::write(&state, write, || state.runtime.receive(&device, shared.clone()), written).await
}

#[utoipa::path(post, path = "/v1/devices/{device}/favorites/upload", tag = "distribution", request_body = UploadFavorites,
    params(("device" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = Written), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/devices/{device}/favorites/upload")]
pub async fn upload_favorites(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    body: Json<UploadFavorites>,
) -> Result<HttpResponse, ApiError> {
    caller.as_station(Role::Device, &path)?;
    let (pd, pc) = (device_id(&path)?, device_id(&body.pc)?);
    let write = Write { req: &req, caller: &caller, route: format!("POST /v1/devices/{pd}/favorites/upload"), body: &body.0, status: StatusCode::OK };
    idempotency::write(&state, write, || state.runtime.upload_favorites(&pd, &pc), written).await
}

#[utoipa::path(get, path = "/v1/distribution", tag = "distribution",
    responses((status = 200, body = DistributionView, headers(("ETag" = String))), (status = 401, body = Problem)),
    security(("bearer" = [])))]
#[get("/v1/distribution")]
pub async fn get_distribution(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.allow(&[Role::Auditor, Role::Kiosk, Role::Device])?;
    let found = state.runtime.distribution().await?;
    let config = found.config();
    let (policy, policy_value) = match config.policy {
        CharismaPolicy::Threshold { threshold } => ("threshold", threshold),
        CharismaPolicy::TopN { n } => ("top-n", u64::from(n)),
    };
    let charisma = found.charisma_list();
    let groups = found
        .reliabilities()
        .iter()
        .map(|(group, &points)| ReliabilityRow { group: group.to_string(), points, charisma: charisma.contains(group), reward_bp: found.reward_for(group) })
        .collect();
    let view = DistributionView {
        points_per_purchase: config.points_per_purchase,
        policy: policy.into(),
        policy_value,
        groups,
        charisma: charisma.iter().map(ToString::to_string).collect(),
        version: found.version(),
    };
    Ok(HttpResponse::Ok().insert_header(etag(found.version())).json(view))
}

#[utoipa::path(post, path = "/v1/distribution/policy", tag = "distribution", request_body = ConfigureDistribution,
    params(("Idempotency-Key" = String, Header), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = Written), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 412, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/distribution/policy")]
pub async fn configure_distribution(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: Json<ConfigureDistribution>,
) -> Result<HttpResponse, ApiError> {
    caller.allow(&[])?;
    let defaults = DistributionConfig::default();
    let policy = match (body.threshold, body.top_n) {
        (Some(_), Some(_)) => return Err(ApiError::bad_request("bad-policy", "give threshold or top_n, not both")),
        (Some(threshold), None) => CharismaPolicy::Threshold { threshold },
        (None, Some(n)) => CharismaPolicy::TopN { n },
        (None, None) => defaults.policy,
    };
    let config = DistributionConfig {
        points_per_purchase: body.points_per_purchase.unwrap_or(defaults.points_per_purchase),
        policy,
        points_per_further_purchase: body.points_per_further_purchase,
    };
    let write = Write { req: &req, caller: &caller, route: "POST /v1/distribution/policy".into(), body: &body.0, status: StatusCode::OK };
    idempotency::write(&state, write, || state.runtime.configure_distribution(config), written).await
}

#[utoipa::path(post, path = "/v1/distribution/rewards", tag = "distribution", request_body = SetReward,
    params(("Idempotency-Key" = String, Header)),
    responses((status = 200, body = Written), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
#[post("/v1/distribution/rewards")]
pub async fn set_reward(state: web::Data<AppState>, caller: Caller, req: HttpRequest, body: Json<SetReward>) -> Result<HttpResponse, ApiError> {
    caller.allow(&[])?;
    let group = group_id(&body.group)?;
    let write = Write { req: &req, caller: &caller, route: "POST /v1/distribution/rewards".into(), body: &body.0, status: StatusCode::OK };
    idempotency::write(&state, write, || state.runtime.set_reward(&group, body.discount_bp), written).await
}
