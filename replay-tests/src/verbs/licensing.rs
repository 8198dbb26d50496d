//! Licensing commands (seeds 000, 002): accounts, loads, cards (genuine and
//! forged), the catalogue, kiosk sessions, player purchases, plays, refunds.

use encore_domain::licensing::{CardChip, DeviceKey, Station, UseCondition};
use encore_domain::Timestamp;

use super::{Done, World};
use crate::args::{self, Args, Usage};
use crate::runner::Failure;

pub(super) async fn run(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    match (args.word(0, "command")?, args.word(1, "argument").unwrap_or("")) {
        ("account", "open") => open_account(world, args).await,
        ("account", "link") => link_account(world, args).await,
        ("load", _) => load(world, args).await,
        ("card", "issue") => issue_card(world, args).await,
        ("card", "forge") => forge_card(world, args),
        ("content", "list") => list_content(world, args).await,
        ("kiosk", _) => kiosk(world, args).await,
        ("player", "buy") => player_buy(world, args).await,
        ("player", "want") => player_want(world, args).await,
        ("play", _) => play(world, args).await,
        ("refund", _) => refund(world, args).await,
        _ => Err(Usage(format!("unknown command {:?}", args.rest(0).join(" "))).into()),
    }
}

/// `expires DATE` or `expires-in N UNIT`, if given.
fn expiry(world: &World, args: &Args<'_>) -> Result<Option<Timestamp>, Usage> {
    if let Some(date) = args.option("expires") {
        return args::date(date).map(Some);
    }
    match args.option("expires-in") {
        None => Ok(None),
        Some(n) => {
            let unit = args.option(n).unwrap_or("days");
            Ok(Some(world.runtime.now().plus_secs(args::duration(n, unit)?)))
        }
    }
}

/// `account open ACCOUNT [balance N] [expires DATE | expires-in N days]`
async fn open_account(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let account = world.account(args.word(2, "account")?)?;
    let initial = args.option("balance").map(args::money).transpose()?.unwrap_or_default();
    let expires = expiry(world, args)?;
    Ok(Done::from(world.runtime.open_account(&account, expires, initial).await?))
}

/// `account link ACCOUNT USER`: the account's purchases count for USER's group
/// (its member reward; the favorites its devices uploaded).
async fn link_account(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let account = world.account(args.word(2, "account")?)?;
    let user = world.user(args.word(3, "user")?)?;
    Ok(Done::from(world.runtime.link_account(&account, &user).await?))
}

/// `load ACCOUNT AMOUNT`
async fn load(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let account = world.account(args.word(1, "account")?)?;
    let amount = args::money(args.word(2, "amount")?)?;
    Ok(Done::noted(world.runtime.load_money(&account, amount).await?))
}

/// `card issue CARD account ACCOUNT [expires DATE | expires-in N days]`: the card is then in hand.
async fn issue_card(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let name = args.word(2, "card")?;
    let card = world.card(name)?;
    let account = world.account(args.option("account").ok_or_else(|| Usage("card issue needs `account NAME`".into()))?)?;
    let expires = expiry(world, args)?;
    let done = Done::from(world.runtime.issue_card(&card, &account, expires).await?);
    let chip = world.runtime.secrets().genuine_chip(card);
    world.chips.insert(name.to_string(), std::sync::Arc::new(chip));
    Ok(done)
}

/// `card forge FAKE as CARD`: a card that claims CARD's id without its device key.
fn forge_card(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let fake = args.word(2, "forged card name")?;
    let target = args.option("as").ok_or_else(|| Usage("card forge needs `as CARD`".into()))?;
    let card = world.card(target)?;
    let key = DeviceKey::from_bytes(*blake3::hash(format!("forged by the scenario: {fake}").as_bytes()).as_bytes());
    world.chips.insert(fake.to_string(), std::sync::Arc::new(CardChip::with_key(card, key)));
    Ok(Done::note(format!("{fake} claims to be {target}")))
}

/// `content list CONTENT price N uses N [valid N days]`
async fn list_content(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let content = world.content(args.word(2, "content")?)?;
    let price = args::money(args.option("price").ok_or_else(|| Usage("content list needs `price N`".into()))?)?;
    let uses = args::number_u32(args.option("uses").ok_or_else(|| Usage("content list needs `uses N`".into()))?, "uses")?;
    let valid_days = args.option("valid").map(|d| args::number_u32(d, "valid days")).transpose()?;
    let condition = UseCondition { uses, valid_days };
    Ok(Done::from(world.runtime.list_content(&content, price, condition).await?))
}

/// The words a purchase once took for its groups side: who buys now follows
/// from the card's account (`account link`), and the favorite from what the
/// buyer's devices uploaded, never from the script.
fn refuse_claims(args: &Args<'_>) -> Result<(), Usage> {
    for word in ["via-favorite", "member"] {
        if args.option(word).is_some() {
            return Err(Usage(format!("`{word}` is gone: link the buyer's account to its user (`account link ACCOUNT USER`); a purchase through a favorite follows from the favorites the buyer's devices uploaded")));
        }
    }
    Ok(())
}

/// `kiosk insert KIOSK CARD` | `kiosk buy KIOSK CONTENT [as P]`
/// | `kiosk pending KIOSK` | `kiosk eject KIOSK`
async fn kiosk(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let name = args.word(2, "kiosk")?;
    let kiosk = world.device(name)?;
    match args.word(1, "insert, buy, pending or eject")? {
        "insert" => {
            let card = args.word(3, "card")?;
            let chip = world.chip(card)?;
            let outcome = world.runtime.kiosk_insert(&kiosk, &chip).await?;
            // A rejected card is handed back at once: the slot stays empty.
            if outcome.value == encore_domain::licensing::InsertOutcome::Accepted {
                world.kiosk_slots.insert(name.to_string(), card.to_string());
            }
            Ok(Done::noted(outcome))
        }
        "buy" => {
            let card = world.kiosk_slots.get(name).cloned().ok_or_else(|| Usage(format!("kiosk {name} holds no card")))?;
            let content = world.content(args.word(3, "content")?)?;
            let purchase = world.purchase(args)?;
            refuse_claims(args)?;
            let chip = world.chip(&card)?;
            Ok(Done::noted(world.runtime.kiosk_buy(&kiosk, &chip, &purchase, &content).await?))
        }
        "pending" => {
            let pending = world.runtime.kiosk_pending(&kiosk).await?;
            Ok(Done::note(format!("pending {:?}", pending.iter().map(|c| c.as_str()).collect::<Vec<_>>())))
        }
        "eject" => {
            let outcome = world.runtime.kiosk_eject(&kiosk).await?;
            world.kiosk_slots.remove(name);
            Ok(Done::from(outcome))
        }
        other => Err(Usage(format!("kiosk {other:?}: use insert, buy, pending or eject")).into()),
    }
}

/// `player buy PLAYER CARD CONTENT [as P]`
async fn player_buy(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let player = world.device(args.word(2, "player")?)?;
    let chip = world.chip(args.word(3, "card")?)?;
    let content = world.content(args.word(4, "content")?)?;
    let purchase = world.purchase(args)?;
    refuse_claims(args)?;
    Ok(Done::noted(world.runtime.buy_from_player(&player, &chip, &purchase, &content).await?))
}

/// `player want PLAYER CARD CONTENT`: the player records a content id on the card for a kiosk to buy.
async fn player_want(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let player = world.device(args.word(2, "player")?)?;
    let chip = world.chip(args.word(3, "card")?)?;
    let content = world.content(args.word(4, "content")?)?;
    Ok(Done::noted(world.runtime.record_wanted(&player, &chip, &content).await?))
}

/// `play CARD CONTENT on PLAYER`
async fn play(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let chip = world.chip(args.word(1, "card")?)?;
    let content = world.content(args.word(2, "content")?)?;
    let player = world.device(args.option("on").ok_or_else(|| Usage("play needs `on PLAYER`".into()))?)?;
    let outcome = world.runtime.play_from_card(&Station::player(player), &chip, &content).await?;
    // The content key is handed to the decoder in memory; transcripts never show it.
    let note = match &outcome.value {
        encore_domain::licensing::PlayOutcome::Played { terms_after, .. } => format!("played, {} uses left", terms_after.uses_left),
        other => format!("{other:?}"),
    };
    Ok(Done { events: outcome.events, note: Some(note) })
}

/// `refund ACCOUNT PURCHASE`
async fn refund(world: &mut World, args: &Args<'_>) -> Result<Done, Failure> {
    let account = world.account(args.word(1, "account")?)?;
    let purchase = world.id("purchase", args.word(2, "purchase")?, encore_domain::ids::PurchaseId::new)?;
    Ok(Done::noted(world.runtime.refund(&account, &purchase).await?))
}
