//! The OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! attributes and the body types: never written by hand.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi};

use super::{accounts, cards, catalogue, groups, log, ops, stations, types};

#[derive(OpenApi)]
#[openapi(
    info(title = "Encore", description = "The accounting, license and log servers of an Encore deployment. Every write needs an Idempotency-Key; errors are application/problem+json."),
    paths(
        accounts::open_account, accounts::get_account, accounts::load_money, accounts::refund, accounts::link_account, accounts::issue_card, accounts::get_card,
        catalogue::list_content, catalogue::catalogue, catalogue::get_content, catalogue::upload_content, catalogue::content_file,
        cards::kiosk_challenge, cards::player_challenge, cards::card_image, cards::report_play,
        stations::insert_card, stations::pending, stations::kiosk_purchase, stations::eject_card, stations::player_purchase,
        groups::register_user, groups::get_group, groups::provision_device, groups::get_device, groups::register_device,
        groups::deregister_device, groups::issue_certificate, groups::group_certificates, groups::accept_certificate,
        groups::play_on_device, groups::mark_shareable, groups::transmit, groups::set_radio, groups::receive,
        groups::press_favorite, groups::upload_favorites, groups::forward_favorites, groups::sync_reputation,
        groups::get_distribution, groups::configure_distribution, groups::set_reward,
        log::read_log, log::read_stream, log::subscribe, log::verify, log::balances, log::usage, log::content_usage, log::charisma,
        ops::healthz, ops::readyz, ops::metrics,
    ),
    components(schemas(
        types::Problem, types::EventRef, types::OpenAccount, types::LoadMoney, types::Refund, types::PendingView, types::AccountView, types::AccountWritten, types::IssueCard,
        types::CardView, types::Written, types::ListContent, types::ContentView, types::Purchase, types::PurchaseView, types::RecordView,
        types::RecordPage, types::VerifyView, types::BalanceRow, types::BalancesView, types::Health, stations::InsertCard,
        types::RegisterUser, types::UserRegisteredView, types::GroupView, types::ProvisionDevice, types::DeviceView, types::RegisterDevice,
        types::IssueCertificate, types::CertificateView, types::CertificatesView, types::AcceptCertificate, types::UploadFavorites,
        types::ReliabilityRow, types::DistributionView, types::ConfigureDistribution, types::SetReward, types::UseRow, types::UsageView,
        types::ContentUsageView, types::StandingRow, types::CharismaView, types::ContentFileView, types::ContentFileTerms, types::CatalogueView, types::TicketView,
        types::CardAnswer, types::LicenseView, types::LinkAccount, types::LinkedView, types::DeviceContent, types::RadioSettings, types::Receive, types::PlayReportBody, types::PlayReportView,
    )),
    modifiers(&BearerAuth, &Problems),
    tags((name = "accounting"), (name = "license"), (name = "groups"), (name = "distribution"), (name = "log"), (name = "operations")),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// Problems as the server sends them: every error response is
/// `application/problem+json`, and every operation lists the refusals any
/// route can give besides its own (a malformed value, a missing token, a
/// contended stream or a non-JSON body on a write, a body or headers over the
/// limits, a poisoned log), so the document says what the server does.
struct Problems;

/// The routes that need no token.
const OPEN_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

impl Modify for Problems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let open = OPEN_PATHS.contains(&path.as_str());
            for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
                add_common_refusals(operation, open);
                for (status, response) in operation.responses.responses.iter_mut() {
                    if let (true, RefOr::T(response)) = (status.as_str() >= "400", response) {
                        if let Some(content) = response.content.shift_remove("application/json") {
                            response.content.insert("application/problem+json".into(), content);
                        }
                    }
                }
            }
        }
    }
}

fn add_common_refusals(operation: &mut Operation, open: bool) {
    let mut common = vec![
        ("413", "a body over the route's limit (64 KiB of JSON; content files 32 MiB)"),
        ("431", "request headers over 16 KiB"),
        ("503", "the log is poisoned, the clock jumped, the server is stopping, or overloaded"),
    ];
    if !open {
        common.push(("400", "a malformed value: an id, a header, a query"));
        common.push(("401", "no token, or an unknown or revoked one"));
        common.push(("429", "too many refusals: unknown tokens from this address, or card rejections at this station, in the last minute"));
    }
    if operation.request_body.is_some() || operation.parameters.iter().flatten().any(|p| p.name == "Idempotency-Key") {
        common.push(("409", "the stream kept changing under the command: retry with the same key"));
    }
    if operation.request_body.is_some() {
        common.push(("415", "a body that is not application/json"));
    }
    for (status, description) in common {
        operation.responses.responses.entry(status.to_string()).or_insert_with(|| RefOr::T(problem(description)));
    }
}

fn problem(description: &str) -> Response {
    let mut response = Response::new(description);
    response.content.insert("application/problem+json".into(), Content::new(Some(Ref::from_schema_name("Problem"))));
    response
}
