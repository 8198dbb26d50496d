//! Group commands (seed 003): users and groups, PCs and PDs, certificates,
//! source id lists, ripping, modes, plays on devices, copies, radio sharing,
//! favorites, reliability, charisma and rewards.

use encore_domain::groups::{CharismaPolicy, ControlMode, DeviceKind, DistributionConfig, GroupLimits, SourceId, UsageRules};
use encore_domain::ids::ServiceId;

use super::{Done, World};
use crate::args::{self, Args, Usage};
use crate::runner::Failure;

pub(super) async fn run(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    match args.word(0, "command")? {
        "user" => register_user(world, args).await,
        "device" => device(world, args).await,
        "join" => join(world, args).await,
        "leave" => leave(world, args).await,
        "certificate" => certificate(world, args).await,
        "accept" => accept(world, args).await,
        "merge" => {
            let (a, b) = (world.device(args.word(1, "device")?)?, world.device(args.word(2, "device")?)?);
            Ok(Done::from(world.runtime.merge_lists(&a, &b).await?))
        }
        "copy" => {
            let from = world.device(args.word(1, "from device")?)?;
            let to = world.device(args.word(2, "to device")?)?;
            let content = world.content(args.word(3, "content")?)?;
            Ok(Done::from(world.runtime.copy(&from, &to, &content).await?))
        }
        "rip" => {
            let pc = world.device(args.word(1, "pc")?)?;
            let content = world.content(args.word(2, "content")?)?;
            Ok(Done::from(world.runtime.rip(&pc, &content).await?))
        }
        "acquire" => acquire(world, args).await,
        "mode" => {
            let device = world.device(args.word(1, "device")?)?;
            let mode = match args.word(2, "group or checkout")? {
                "group" => ControlMode::GroupManagement,
                "checkout" => ControlMode::CheckInCheckOut,
                other => return Err(Usage(format!("mode {other:?}: use group or checkout")).into()),
            };
            Ok(Done::from(world.runtime.set_mode(&device, mode).await?))
        }
        "shareable" => {
            let pd = world.device(args.word(1, "pd")?)?;
            let content = world.content(args.word(2, "content")?)?;
            Ok(Done::from(world.runtime.mark_shareable(&pd, &content).await?))
        }
        "radio" => {
            let pd = world.device(args.word(1, "pd")?)?;
            let auto = args::on_off(args.option("auto-switch").unwrap_or("off"))?;
            let threshold = args.option("threshold").map(|t| args::number(t, "threshold")).transpose()?.unwrap_or(100);
            Ok(Done::from(world.runtime.set_radio(&pd, auto, threshold).await?))
        }
        "share" => {
            let from = world.device(args.word(1, "from pd")?)?;
            let content = world.content(args.word(2, "content")?)?;
            let to = world.device(args.option("to").ok_or_else(|| Usage("share needs `to PD`".into()))?)?;
            Ok(Done::from(world.runtime.share_by_radio(&from, &to, &content).await?))
        }
        "favorite" => {
            let pd = world.device(args.word(1, "pd")?)?;
            Ok(Done::from(world.runtime.press_favorite(&pd).await?))
        }
        "upload" => {
            let pd = world.device(args.word(1, "pd")?)?;
            let pc = world.device(args.option("to").ok_or_else(|| Usage("upload needs `to PC`".into()))?)?;
            Ok(Done::from(world.runtime.upload_favorites(&pd, &pc).await?))
        }
        "forward" => {
            let pc = world.device(args.word(1, "pc")?)?;
            Ok(Done::from(world.runtime.forward_favorites(&pc).await?))
        }
        "charisma" => charisma(world, args).await,
        "reward" => {
            let group = world.group_of(args.word(1, "user")?)?;
            let bp = args::number(args.word(2, "discount in basis points")?, "discount")?;
            let bp = u32::try_from(bp).map_err(|_| Usage(format!("discount {bp} is too large")))?;
            Ok(Done::from(world.runtime.set_reward(&group, bp).await?))
        }
        "tamper" => tamper(world, args).await,
        "sync" => {
            let device = world.device(args.word(1, "device")?)?;
            Ok(Done::from(world.runtime.sync_reputation(&device).await?))
        }
        other => Err(Usage(format!("unknown command {other:?}")).into()),
    }
}

/// `user register USER service 01234 [max-pcs N] [max-recorders N]`
async fn register_user(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    if args.word(1, "register")? != "register" {
        return Err(Usage("use `user register USER service NNNNN`".into()).into());
    }
    let name = args.word(2, "user")?;
    let user = world.user(name)?;
    let service = args.option("service").ok_or_else(|| Usage("user register needs `service NNNNN`".into()))?;
    let service = ServiceId::new(service).map_err(|e| Usage(e.to_string()))?;
    let mut limits = GroupLimits::default();
    if let Some(n) = args.option("max-pcs") {
        limits.max_pcs = args::number_u32(n, "max-pcs")?;
    }
    if let Some(n) = args.option("max-recorders") {
        limits.max_recorders = args::number_u32(n, "max-recorders")?;
    }
    let outcome = world.runtime.register_user(&user, service, limits).await?;
    world.groups.insert(name.to_string(), outcome.value.clone());
    Ok(Done { note: Some(format!("group {}", outcome.value)), events: outcome.events })
}

/// `device pc NAME [recorder REC]` | `device pd NAME` | `device play NAME CONTENT` | `device stop NAME`
async fn device(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let name = args.word(2, "device")?;
    let device = world.device(name)?;
    match args.word(1, "pc, pd, play or stop")? {
        "pc" => {
            let terminal = world.terminal(name)?;
            let recorder = args.option("recorder").map(|r| world.recorder(r)).transpose()?;
            Ok(Done::from(world.runtime.provision_device(&device, DeviceKind::Pc { terminal, recorder }).await?))
        }
        "pd" => Ok(Done::from(world.runtime.provision_device(&device, DeviceKind::Pd).await?)),
        "play" => {
            let content = world.content(args.word(3, "content")?)?;
            Ok(Done::from(world.runtime.play_on_device(&device, &content).await?))
        }
        "stop" => Ok(Done::from(world.runtime.stop_playing(&device).await?)),
        other => Err(Usage(format!("device {other:?}: use pc, pd, play or stop")).into()),
    }
}

/// `join USER DEVICE [via PC]`
async fn join(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let group = world.group_of(args.word(1, "user")?)?;
    let device = world.device(args.word(2, "device")?)?;
    let via = args.option("via").map(|pc| world.device(pc)).transpose()?;
    Ok(Done::from(world.runtime.register_device(&group, &device, via.as_ref()).await?))
}

/// `leave USER DEVICE`
async fn leave(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let group = world.group_of(args.word(1, "user")?)?;
    let device = world.device(args.word(2, "device")?)?;
    Ok(Done::from(world.runtime.deregister_device(&group, &device).await?))
}

/// `certificate USER PC valid N UNIT`: the PC issues a group certificate, kept under the PC's name.
async fn certificate(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let group = world.group_of(args.word(1, "user")?)?;
    let pc_name = args.word(2, "pc")?;
    let pc = world.device(pc_name)?;
    let n = args.option("valid").ok_or_else(|| Usage("certificate needs `valid N days`".into()))?;
    let valid_until = world.runtime.now().plus_secs(args::duration(n, args.option(n).unwrap_or("days"))?);
    let outcome = world.runtime.issue_certificate(&group, &pc, valid_until).await?;
    world.certificates.insert(pc_name.to_string(), outcome.value.clone());
    Ok(Done::from(outcome))
}

/// `accept DEVICE certificate-of PC`
async fn accept(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let device = world.device(args.word(1, "device")?)?;
    let pc = args.option("certificate-of").ok_or_else(|| Usage("accept needs `certificate-of PC`".into()))?;
    let certificate = world.certificates.get(pc).cloned().ok_or_else(|| Usage(format!("{pc} has issued no certificate")))?;
    Ok(Done::from(world.runtime.accept_certificate(&device, certificate).await?))
}

/// `acquire DEVICE CONTENT [source-group USER | source-recorder REC] [plays N] [checkouts N] [valid N days]`
async fn acquire(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let device = world.device(args.word(1, "device")?)?;
    let content = world.content(args.word(2, "content")?)?;
    let source = match (args.option("source-group"), args.option("source-recorder")) {
        (Some(user), _) => Some(SourceId::Group(world.group_of(user)?)),
        (None, Some(rec)) => Some(SourceId::Recorder(world.recorder(rec)?)),
        (None, None) => None,
    };
    let wants_rules = ["plays", "checkouts", "valid"].iter().any(|k| args.option(k).is_some());
    let rules = if wants_rules {
        let plays = args.option("plays").map(|n| args::number_u32(n, "plays")).transpose()?;
        let checkouts = args.option("checkouts").map(|n| args::number_u32(n, "checkouts")).transpose()?.unwrap_or(0);
        let valid_until = match args.option("valid") {
            Some(n) => Some(world.runtime.now().plus_secs(args::duration(n, args.option(n).unwrap_or("days"))?)),
            None => None,
        };
        Some(UsageRules { plays_left: plays, valid_until, checkouts_left: checkouts })
    } else {
        None
    };
    Ok(Done::from(world.runtime.acquire(&device, &content, source, rules).await?))
}

/// `charisma threshold N [points N] [further N]` | `charisma top N [points N] [further N]`
async fn charisma(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let n = args::number(args.word(2, "number")?, "charisma parameter")?;
    let policy = match args.word(1, "threshold or top")? {
        "threshold" => CharismaPolicy::Threshold { threshold: n },
        "top" => CharismaPolicy::TopN { n: u32::try_from(n).map_err(|_| Usage(format!("charisma top {n} is too large (at most {})", u32::MAX)))? },
        other => return Err(Usage(format!("charisma {other:?}: use threshold N or top N")).into()),
    };
    let points = args.option("points").map(|p| args::number(p, "points")).transpose()?.unwrap_or(1);
    let further = args.option("further").map(|p| args::number(p, "further points")).transpose()?;
    let config = DistributionConfig { points_per_purchase: points, policy, points_per_further_purchase: further };
    Ok(Done::from(world.runtime.configure_distribution(config).await?))
}

/// `tamper DEVICE add group:USER | recorder:REC`: an attacker rewrites the
/// device's stored source id list without knowing the device secret (003
/// [0152], [0315]). The runner appends a `SourceIdAdded` to the device's
/// stream directly, its integrity value sealed under a guessed key, so the
/// device's list no longer passes its check. Only scenarios do this; the
/// runtime never writes such an event.
async fn tamper(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    use encore_domain::groups::source_list::seal_list;
    use encore_domain::groups::{device_stream, DeviceSecret, GroupEvent, SourceEntry};
    use encore_domain::{Event, EventCodec};
    use encore_ledger::{EventId, ExpectedVersion, NewEvent, StreamAppend, StreamId};

    let name = args.word(1, "device")?;
    if args.word(2, "add")? != "add" {
        return Err(Usage("use `tamper DEVICE add group:USER|recorder:REC`".into()).into());
    }
    let device = world.device(name)?;
    let source = super::expect::source(world, args.word(3, "source id")?)?;
    let state = world.runtime.device(&device).await?;
    let mut list = state.source_list().clone();
    let entry = SourceEntry::new(source, None);
    list.upsert(entry.clone());
    let guessed = DeviceSecret::from_bytes(*blake3::hash(format!("an attacker's guess for {name}").as_bytes()).as_bytes());
    let event = Event::from(GroupEvent::SourceIdAdded { device: device.clone(), entry, icv: seal_list(&guessed, &device, &list) });
    let stream = device_stream(&device);
    let ledger = world.runtime.ledger().clone();
    let stream_id = StreamId::new(stream.clone()).map_err(|e| Usage(format!("stream {stream}: {e}")))?;
    let version = ledger.stream_version(&stream_id).map_err(|e| Usage(format!("reading {stream}: {e}")))?;
    let new = NewEvent::new(
        EventId::derive("encore scenario tamper v1", format!("{stream}#{}", version + 1).as_bytes()),
        event.event_type(),
        world.runtime.now().micros(),
        event.encode_payload(),
    );
    let append = StreamAppend { stream: stream_id, expected: ExpectedVersion::Exact(version), events: vec![new] };
    let appended = ledger.append_async(vec![append]).await.map_err(|e| Usage(format!("tampering with {stream}: {e}")))?;
    let position = appended.positions.first().copied().unwrap_or(0);
    let recorded = encore_actors::Recorded { position, stream, version: version + 1, event };
    Ok(Done { events: vec![recorded], note: Some(format!("{name}'s list rewritten without its secret")) })
}
