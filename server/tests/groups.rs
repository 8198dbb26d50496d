//! Group management and distribution over HTTP (seed 003): a user and its
//! group, PCs registering themselves and a PD through its PC, the PC limit
//! refused as an event, a group certificate issued by one PC and delivered
//! to another, deregistration, and the distribution policy and its refusals.
// Test and benchmark code: a failed set-up or check stops it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use encore_server::api::types::*;
use encore_server::deployment::Role;

fn types(written: &Written) -> Vec<&str> {
    written.events.iter().map(|e| e.event_type.as_str()).collect()
}

/// A registration as the domain writes it: on the group's and the device's
/// streams, with the group id added to the device's source id list.
const REGISTERED: [&str; 3] = ["DeviceRegistered", "DeviceRegistered", "SourceIdAdded"];

#[test]
fn devices_register_into_a_group_within_its_limits_and_share_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let (data, operator) = new_deployment(dir.path());
    let server = TestServer::start(&data, &operator);
    let op = server.operator();
    let pcs: Vec<_> = (1..=4).map(|i| server.client_as(&format!("pc-{i}"), Role::Device, Some(&format!("pc-{i}")))).collect();
    let pd = server.client_as("pd-1", Role::Device, Some("pd-1"));
    run(async {
        let registered =
            op.register_user("user-1", &RegisterUser { user: "alice".into(), service: "01234".into(), max_pcs: None, max_recorders: None }).await.unwrap();
        assert_eq!(registered.status, 201);
        let group = registered.value.group.clone().expect("the new group id");
        assert!(group.starts_with("01234-"), "{group}");
        assert_eq!(
            op.register_user("user-1", &RegisterUser { user: "alice".into(), service: "01234".into(), max_pcs: None, max_recorders: None })
                .await
                .unwrap()
                .value,
            registered.value
        );
        for i in 1..=4 {
            let body = ProvisionDevice { device: format!("pc-{i}"), kind: "pc".into(), terminal: Some(format!("t-{i}")), recorder: Some(format!("r-{i}")) };
            op.provision_device(&format!("prov-pc-{i}"), &body).await.unwrap();
        }
        op.provision_device("prov-pd-1", &ProvisionDevice { device: "pd-1".into(), kind: "pd".into(), terminal: None, recorder: None }).await.unwrap();
        assert_eq!(
            refused(op.provision_device("prov-bad", &ProvisionDevice { device: "pc-9".into(), kind: "pc".into(), terminal: None, recorder: None }).await).kind,
            "bad-device-kind"
        );

        for (i, pc) in pcs.iter().enumerate().take(3) {
            let written = pc.register_device(&format!("reg-{i}"), &group, &format!("pc-{}", i + 1), None).await.unwrap().value;
            assert_eq!(types(&written), REGISTERED, "pc-{}", i + 1);
        }
        let fourth = pcs[3].register_device("reg-3", &group, "pc-4", None).await.unwrap();
        assert_eq!(fourth.status, 200, "a refused registration is an answer, not an error");
        assert_eq!(types(&fourth.value), ["DeviceRegistrationRefused"], "at most 3 PCs at a time");
        // A PD registers through a registered PC, with that PC's credential; not with its own.
        assert_eq!(refused(pd.register_device("reg-pd", &group, "pd-1", Some("pc-1")).await).status, 403);
        assert_eq!(types(&pcs[0].register_device("reg-pd", &group, "pd-1", Some("pc-1")).await.unwrap().value), REGISTERED);
        let view = op.group(&group).await.unwrap().value;
        assert_eq!((view.pcs.len(), view.pds, view.recorders_ever.len()), (3, vec!["pd-1".to_string()], 3));

        // pc-1 issues its certificate; pc-2, a PC of the group, fetches and accepts it.
        let issued = pcs[0].issue_certificate("cert-1", &group, "pc-1", "2027-12-01T00:00:00Z").await.unwrap().value;
        assert_eq!(types(&issued), ["GroupCertificateIssued", "GroupCertificateIssued"], "on the group and on the PC");
        let certificates = pcs[1].certificates(&group).await.unwrap().value.certificates;
        assert_eq!(certificates.iter().map(|c| c.recorder.as_str()).collect::<Vec<_>>(), ["r-1"]);
        assert_eq!(refused(pcs[3].certificates(&group).await).status, 403, "pc-4 is not in the group");
        let accepted = pcs[1].accept_certificate("accept-1", "pc-2", &group, "r-1").await.unwrap().value;
        assert!(types(&accepted).contains(&"SourceIdAdded"), "{accepted:?}");
        assert_eq!(refused(pcs[1].accept_certificate("accept-2", "pc-2", &group, "r-9").await).kind, "unknown-certificate");

        // pc-3 leaves; pc-4 may then join, and recorder ids ever registered keep counting.
        assert!(types(&pcs[2].deregister_device("leave-3", &group, "pc-3").await.unwrap().value).contains(&"DeviceDeregistered"));
        assert_eq!(types(&pcs[3].register_device("reg-3b", &group, "pc-4", None).await.unwrap().value), REGISTERED);
        assert_eq!(op.group(&group).await.unwrap().value.recorders_ever.len(), 4);
        let pc2 = pcs[1].device("pc-2").await.unwrap().value;
        assert_eq!((pc2.kind.as_deref(), pc2.group.as_deref()), (Some("pc"), Some(group.as_str())));
        assert_eq!(refused(pcs[1].device("pc-1").await).status, 403, "a device reads only itself");
    });
    server.stop();
}

#[test]
fn the_distribution_policy_is_the_operators_and_its_refusals_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (data, operator) = new_deployment(dir.path());
    let server = TestServer::start(&data, &operator);
    let op = server.operator();
    run(async {
        let before = op.distribution().await.unwrap();
        assert_eq!((before.value.policy.as_str(), before.value.policy_value, before.value.points_per_purchase), ("threshold", 100, 1));
        let body = ConfigureDistribution { points_per_purchase: Some(2), points_per_further_purchase: None, threshold: None, top_n: Some(5) };
        op.configure_distribution("policy-1", &body, before.etag).await.unwrap();
        let after = op.distribution().await.unwrap();
        assert_eq!((after.value.policy.as_str(), after.value.policy_value, after.value.points_per_purchase), ("top-n", 5, 2));
        let stale = refused(
            op.configure_distribution(
                "policy-2",
                &ConfigureDistribution { points_per_purchase: Some(3), points_per_further_purchase: None, threshold: None, top_n: None },
                before.etag,
            )
            .await,
        );
        assert_eq!(stale.status, 412);
        let both = refused(
            op.configure_distribution(
                "policy-3",
                &ConfigureDistribution { points_per_purchase: None, points_per_further_purchase: None, threshold: Some(1), top_n: Some(1) },
                None,
            )
            .await,
        );
        assert_eq!(both.kind, "bad-policy");
        let zero = refused(
            op.configure_distribution(
                "policy-4",
                &ConfigureDistribution { points_per_purchase: Some(0), points_per_further_purchase: None, threshold: None, top_n: None },
                None,
            )
            .await,
        );
        assert_eq!((zero.status, zero.kind.as_str()), (422, "refused"));
        let not_charisma = refused(op.set_reward("reward-1", "01234-0000A", 500).await);
        assert_eq!(not_charisma.status, 422, "{not_charisma:?}");
        assert_eq!(op.distribution().await.unwrap().etag, after.etag, "refusals wrote nothing");
    });
    server.stop();
}
