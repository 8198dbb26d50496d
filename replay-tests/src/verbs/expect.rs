//! `expect` lines: checks on actor state and projections. A mismatch stops
//! the run with `FILE:LINE: expected WHAT = VALUE, got OTHER`.

use std::collections::BTreeSet;

use encore_domain::groups::SourceId;
use encore_projections::{rebuild, UsageHistory, UsageKind};

use super::{Done, World};
use crate::args::{self, Args, Usage};
use crate::runner::Failure;

pub(super) async fn run(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let what = args.word(1, "what to expect")?;
    let (subject, expected, got) = match what {
        "balance" | "declines" => account(world, args, what).await?,
        "uses" | "on-card" => card(world, args, what).await?,
        "sources" | "group" | "library" | "playing" | "favorites" | "device-reliability" => device(world, args, what).await?,
        "pcs" | "pds" | "recorders" => group(world, args, what).await?,
        "reliability" | "charisma" | "reward" => distribution(world, args, what).await?,
        "bought" | "played" | "purchases" | "plays" => usage(world, args, what)?,
        "pending" => pending(world, args).await?,
        other => return Err(Usage(format!("cannot expect {other:?} (see docs/SCENARIOS.md)")).into()),
    };
    if expected != got {
        return Err(Failure::Expectation { expected: format!("{what} of {subject} = {expected}"), got });
    }
    Ok(Done::note(format!("{what} of {subject} = {got}")))
}

type Check = (String, String, String);

fn rest(args: &Args<'_>, from: usize) -> String {
    args.rest(from).join(" ")
}

async fn account(world: &mut World, args: &Args<'_>, what: &str) -> Result<Check, Failure> {
    let name = args.word(2, "account")?;
    let id = world.account(name)?;
    let account = world.runtime.account(&id).await?;
    let got = match what {
        "balance" => account.balance.units(),
        _ => account.declines,
    };
    Ok((name.into(), args::number(args.word(3, "value")?, what)?.to_string(), got.to_string()))
}

async fn card(world: &mut World, args: &Args<'_>, what: &str) -> Result<Check, Failure> {
    let (card_name, content_name) = (args.word(2, "card")?, args.word(3, "content")?);
    let id = world.card(card_name)?;
    let card = world.runtime.card(&id).await?;
    let content = world.content(content_name)?;
    let license = card.licenses.get(&content);
    let got = match what {
        "uses" => license.map(|l| l.terms.uses_left.to_string()).unwrap_or_else(|| "no license".into()),
        _ => if license.is_some() { "yes" } else { "no" }.to_string(),
    };
    Ok((format!("{content_name} on {card_name}"), rest(args, 4), got))
}

async fn device(world: &mut World, args: &Args<'_>, what: &str) -> Result<Check, Failure> {
    let name = args.word(2, "device")?;
    let id = world.device(name)?;
    let device = world.runtime.device(&id).await?;
    let (expected, got) = match what {
        "sources" => {
            let mut want = BTreeSet::new();
            for word in args.rest(3).iter().filter(|w| *w != "none") {
                want.insert(source(world, word)?);
            }
            let have: BTreeSet<_> = device.source_list().entries().iter().map(|e| e.source.clone()).collect();
            (describe_sources(&want), describe_sources(&have))
        }
        "group" => {
            let want = match args.word(3, "user or none")? {
                "none" => "none".to_string(),
                user => world.group_of(user)?.to_string(),
            };
            (want, device.group().map(ToString::to_string).unwrap_or_else(|| "none".into()))
        }
        "library" => {
            let content = world.content(args.word(3, "content")?)?;
            (rest(args, 4), if device.library().contains_key(&content) { "yes" } else { "no" }.to_string())
        }
        "playing" => {
            let want = match args.word(3, "content or nothing")? {
                "nothing" => "nothing".to_string(),
                c => world.content(c)?.to_string(),
            };
            (want, device.now_playing().map(|p| p.content.to_string()).unwrap_or_else(|| "nothing".into()))
        }
        "favorites" => (rest(args, 3), device.favorites().len().to_string()),
        _ => (rest(args, 3), device.reliability().to_string()),
    };
    Ok((name.into(), expected, got))
}

pub(super) fn source(world: &mut World, word: &str) -> Result<SourceId, Usage> {
    match word.split_once(':') {
        Some(("group", user)) => Ok(SourceId::Group(world.group_of(user)?)),
        Some(("recorder", rec)) => Ok(SourceId::Recorder(world.recorder(rec)?)),
        _ => Err(Usage(format!("source {word:?}: write group:USER or recorder:NAME"))),
    }
}

fn describe_sources(sources: &BTreeSet<SourceId>) -> String {
    if sources.is_empty() {
        return "none".into();
    }
    let words: Vec<String> = sources
        .iter()
        .map(|s| match s {
            SourceId::Group(g) => format!("group:{g}"),
            SourceId::Recorder(r) => format!("recorder:{r}"),
        })
        .collect();
    words.join(" ")
}

async fn group(world: &mut World, args: &Args<'_>, what: &str) -> Result<Check, Failure> {
    let user = args.word(2, "user")?;
    let group = world.runtime.group(&world.group_of(user)?).await?;
    let got = match what {
        "pcs" => group.pcs().len(),
        "pds" => group.pds().len(),
        _ => group.recorders_ever().len(),
    };
    Ok((user.into(), args::number(args.word(3, "count")?, what)?.to_string(), got.to_string()))
}

async fn distribution(world: &mut World, args: &Args<'_>, what: &str) -> Result<Check, Failure> {
    let server = world.runtime.distribution().await?;
    match what {
        "charisma" => {
            let mut want = BTreeSet::new();
            for user in args.rest(2).iter().filter(|w| *w != "none") {
                want.insert(world.group_of(user)?.to_string());
            }
            let have: BTreeSet<String> = server.charisma_list().iter().map(ToString::to_string).collect();
            let show = |s: &BTreeSet<String>| if s.is_empty() { "none".to_string() } else { s.iter().cloned().collect::<Vec<_>>().join(" ") };
            Ok(("the distribution server".into(), show(&want), show(&have)))
        }
        _ => {
            let user = args.word(2, "user")?;
            let group = world.group_of(user)?;
            let got = match what {
                "reliability" => server.reliability_of(&group).to_string(),
                _ => server.reward_for(&group).map(|bp| bp.to_string()).unwrap_or_else(|| "none".into()),
            };
            Ok((user.into(), rest(args, 3), got))
        }
    }
}

/// Usage history comes from the projection, rebuilt from the log as it is now.
fn usage(world: &mut World, args: &Args<'_>, what: &str) -> Result<Check, Failure> {
    let name = args.word(2, "account or content")?;
    let history = rebuild::<UsageHistory>(world.runtime.ledger()).map_err(|e| Usage(format!("usage history: {e}")))?.state;
    let got = match what {
        "bought" | "played" => {
            let account = world.account(name)?;
            let kind = if what == "bought" { UsageKind::Bought } else { UsageKind::Played };
            history.history(&account).filter(|u| u.kind == kind).count() as u64
        }
        "purchases" => history.content(&world.content(name)?).purchases,
        _ => history.content(&world.content(name)?).plays,
    };
    Ok((name.into(), args::number(args.word(3, "count")?, what)?.to_string(), got.to_string()))
}

/// `expect pending KIOSK CONTENT... | none`: the content ids the card in the
/// kiosk asks for and holds no live license of (002 claims 3, 5, 11).
async fn pending(world: &mut World, args: &Args<'_>) -> Result<Check, Failure> {
    let name = args.word(2, "kiosk")?;
    let kiosk = world.device(name)?;
    let mut want = BTreeSet::new();
    for content in args.rest(3).iter().filter(|w| *w != "none") {
        want.insert(world.content(content)?.to_string());
    }
    let have: BTreeSet<String> = world.runtime.kiosk_pending(&kiosk).await?.iter().map(ToString::to_string).collect();
    let show = |s: &BTreeSet<String>| if s.is_empty() { "none".to_string() } else { s.iter().cloned().collect::<Vec<_>>().join(" ") };
    Ok((name.into(), show(&want), show(&have)))
}
