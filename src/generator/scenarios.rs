//! Fraud scenarios: what a fraudster does with a customer's card once one
//! starts, planned in full at the start so that the truth is exact.

use super::catalog::{self, CATEGORIES};
use super::config::Scenario;
use super::population::{price, Customer, Purchase, World};
use super::random::{self, chance, millis_between, uniform, Random, DAY, HOUR, MINUTE};
use crate::domain::Millis;
use rand::Rng;

/// The legitimate transaction that a scenario starts from.
pub(super) struct Trigger<'a> {
    pub world: &'a World,
    pub customer: &'a Customer,
    pub index: u32,
    pub at: Millis,
    /// Where the customer is.
    pub city: u16,
    /// The trigger's terminal, if it was in store.
    pub terminal: Option<u32>,
}

pub(super) enum Plan {
    /// Fraudulent purchases, each at or after the trigger.
    Frauds(Vec<Purchase>),
    /// From the trigger until `until`, each transaction at `terminal` is
    /// fraudulent with probability `share`.
    Compromise {
        terminal: u32,
        until: Millis,
        share: f64,
    },
}

/// None when the world offers no way to play the scenario (no far city).
pub(super) fn plan(rng: &mut Random, scenario: Scenario, trigger: &Trigger) -> Option<Plan> {
    match scenario {
        Scenario::ImpossibleTravel => impossible_travel(rng, trigger).map(Plan::Frauds),
        Scenario::AccountTakeover => Some(Plan::Frauds(account_takeover(rng, trigger))),
        Scenario::CardTesting => Some(Plan::Frauds(card_testing(rng, trigger))),
        Scenario::CompromisedTerminal => compromised_terminal(rng, trigger),
        Scenario::HighRiskMerchant => Some(Plan::Frauds(vec![high_risk_merchant(rng, trigger)])),
    }
}

/// The fraudster's own phone or bot, and the network it comes from.
struct Fraudster {
    device: String,
    ip: String,
}

impl Fraudster {
    fn new(rng: &mut Random) -> Fraudster {
        Fraudster {
            device: random::device_id(rng),
            ip: random::fraudster_ip(rng),
        }
    }
}

/// An online purchase in `city` from `fraudster`'s device.
fn online(
    rng: &mut Random,
    trigger: &Trigger,
    (at, city): (Millis, u16),
    category: usize,
    amount: f64,
    (device, ip): (&str, &str),
) -> Purchase {
    Purchase {
        at,
        customer: trigger.index,
        city,
        merchant: trigger.world.online_merchant(rng, category).unwrap_or(0),
        terminal: None,
        amount: random::cents(amount),
        device: Some(device.into()),
        ip: Some(ip.into()),
    }
}

fn one_of(rng: &mut Random, categories: &[usize]) -> usize {
    random::pick(rng, categories)
        .copied()
        .unwrap_or(catalog::ECOMMERCE)
}

/// Card details used on another continent minutes after the customer's own
/// purchase: usually online, sometimes a cloned card in a shop or ATM.
fn impossible_travel(rng: &mut Random, trigger: &Trigger) -> Option<Vec<Purchase>> {
    let far = *random::pick(rng, &trigger.world.city(trigger.city).far)?;
    let at = trigger.at + millis_between(rng, 5 * MINUTE, 60 * MINUTE);
    let typical = trigger.customer.typical_amount;
    if chance(rng, 0.75) {
        const ONLINE: [usize; 4] = [
            catalog::ECOMMERCE,
            catalog::ELECTRONICS,
            catalog::CLOTHING,
            catalog::TRAVEL,
        ];
        let category = one_of(rng, &ONLINE);
        let fraudster = Fraudster::new(rng);
        let amount = typical * uniform(rng, 1.0, 6.0);
        let identity = (fraudster.device.as_str(), fraudster.ip.as_str());
        return Some(vec![online(
            rng,
            trigger,
            (at, far),
            category,
            amount,
            identity,
        )]);
    }
    const IN_STORE: [usize; 4] = [
        catalog::ELECTRONICS,
        catalog::JEWELRY,
        catalog::CLOTHING,
        catalog::CASH,
    ];
    let category = one_of(rng, &IN_STORE);
    let (merchant, terminal) = trigger.world.in_store(rng, far, category)?;
    let spending = typical * uniform(rng, 1.0, 3.0);
    Some(vec![Purchase {
        at,
        customer: trigger.index,
        city: far,
        merchant,
        terminal: Some(terminal),
        amount: price(rng, category, spending),
        device: None,
        ip: None,
    }])
}

/// Stolen credentials: a first small purchase from a new device and IP to
/// see that the account works, then one to three large ones.
fn account_takeover(rng: &mut Random, trigger: &Trigger) -> Vec<Purchase> {
    let fraudster = Fraudster::new(rng);
    let identity = (fraudster.device.as_str(), fraudster.ip.as_str());
    let typical = trigger.customer.typical_amount;
    let mut at = trigger.at + millis_between(rng, 10 * MINUTE, 8 * HOUR);
    let probe = one_of(rng, &[catalog::DIGITAL_GOODS, catalog::ECOMMERCE]);
    let probe_amount = typical * uniform(rng, 0.2, 1.0);
    let mut purchases = vec![online(
        rng,
        trigger,
        (at, trigger.city),
        probe,
        probe_amount,
        identity,
    )];
    for _ in 0..rng.gen_range(1..=3) {
        at += millis_between(rng, 3 * MINUTE, 40 * MINUTE);
        let category = if chance(rng, 0.25) {
            one_of(
                rng,
                &[
                    catalog::GIFT_CARDS,
                    catalog::CRYPTOCURRENCY,
                    catalog::MONEY_TRANSFER,
                ],
            )
        } else {
            one_of(
                rng,
                &[catalog::ELECTRONICS, catalog::ECOMMERCE, catalog::TRAVEL],
            )
        };
        let amount = typical * uniform(rng, 5.0, 20.0);
        purchases.push(online(
            rng,
            trigger,
            (at, trigger.city),
            category,
            amount,
            identity,
        ));
    }
    purchases
}

/// A bot checking that stolen card numbers work: tiny online amounts in a
/// quarter of an hour, from anywhere, sometimes cashed in with a large one.
fn card_testing(rng: &mut Random, trigger: &Trigger) -> Vec<Purchase> {
    const TESTED_AT: [usize; 3] = [
        catalog::DIGITAL_GOODS,
        catalog::DONATIONS,
        catalog::ECOMMERCE,
    ];
    let fraudster = Fraudster::new(rng);
    let identity = (fraudster.device.as_str(), fraudster.ip.as_str());
    let city = trigger.world.random_city(rng);
    let mut at = trigger.at + millis_between(rng, 10 * MINUTE, DAY);
    let count = rng.gen_range(6..=15);
    let mut purchases = Vec::with_capacity(count + 1);
    for _ in 0..count {
        let amount = uniform(rng, 0.5, 4.99);
        let category = one_of(rng, &TESTED_AT);
        purchases.push(online(rng, trigger, (at, city), category, amount, identity));
        at += millis_between(rng, 10_000, 2 * MINUTE);
    }
    if chance(rng, 0.4) {
        at += millis_between(rng, 10 * MINUTE, 2 * HOUR);
        let category = one_of(
            rng,
            &[
                catalog::ELECTRONICS,
                catalog::ECOMMERCE,
                catalog::GIFT_CARDS,
            ],
        );
        let amount = uniform(rng, 300.0, 2_500.0);
        purchases.push(online(rng, trigger, (at, city), category, amount, identity));
    }
    purchases
}

/// A skimmer on the terminal the customer just used (or one nearby), left
/// there for 5 to 20 days.
fn compromised_terminal(rng: &mut Random, trigger: &Trigger) -> Option<Plan> {
    const SKIMMED: [usize; 6] = [
        catalog::GROCERIES,
        catalog::GAS,
        catalog::RESTAURANTS,
        catalog::FAST_FOOD,
        catalog::PHARMACY,
        catalog::CASH,
    ];
    let terminal = match trigger.terminal {
        Some(terminal) => terminal,
        None => {
            let category = one_of(rng, &SKIMMED);
            trigger.world.in_store(rng, trigger.city, category)?.1
        }
    };
    Some(Plan::Compromise {
        terminal,
        until: trigger.at + millis_between(rng, 5 * DAY, 20 * DAY),
        share: uniform(rng, 0.3, 0.6),
    })
}

/// Cashing out at a crypto exchange, casino or money transmitter, card not
/// present, usually from the fraudster's own device.
fn high_risk_merchant(rng: &mut Random, trigger: &Trigger) -> Purchase {
    let category = one_of(rng, &catalog::HIGH_RISK);
    debug_assert!(CATEGORIES[category].sold == catalog::Sold::Online);
    let at = trigger.at + millis_between(rng, 20 * MINUTE, 12 * HOUR);
    let typical = trigger.customer.typical_amount;
    let amount = (typical * uniform(rng, 8.0, 30.0))
        .max(uniform(rng, 600.0, 1_500.0))
        .min(9_500.0);
    let fraudster = Fraudster::new(rng);
    let device = if chance(rng, 0.7) {
        fraudster.device.as_str()
    } else {
        trigger.customer.current_device()
    };
    online(
        rng,
        trigger,
        (at, trigger.city),
        category,
        amount,
        (device, &fraudster.ip),
    )
}
