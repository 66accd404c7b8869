//! What honest customers do: buy where they are, at their usual places and
//! amounts, and now and then do something that merely looks suspicious
//! (travel, a big purchase, a new phone) so that precision is earned.

use super::catalog::{self, Sold, CATEGORIES};
use super::population::{price, Customer, Purchase, Trip, World};
use super::random::{self, chance, millis_between, uniform, Random, DAY, HOUR, MINUTE};
use crate::domain::Millis;
use rand::Rng;

/// Per purchase: the chance of booking a trip afterwards.
const TRIP_CHANCE: f64 = 0.004;
/// Per purchase: a big one-off (a laptop, a flight, a ring).
const BIG_PURCHASE_CHANCE: f64 = 0.004;
/// Per purchase: a new phone, which online shops then see as a new device.
const NEW_PHONE_CHANCE: f64 = 0.0015;
/// Most online purchases come from the phone in use, the rest from another.
const USUAL_DEVICE_SHARE: f64 = 0.85;
/// Travellers move no faster than a jet, with time to and from airports.
const TRAVEL_KMH: f64 = 700.0;
/// Night hours (local) when most purchases are put off until morning.
const NIGHT: std::ops::Range<f64> = 1.0..6.0;

pub(super) enum Whereabouts {
    /// Travelling: nothing to buy before this time.
    InTransit(Millis),
    At(u16),
}

impl Customer {
    /// Where the customer is at `now`, ending a finished trip.
    pub(super) fn whereabouts(&mut self, now: Millis) -> Whereabouts {
        let Some(trip) = &self.trip else {
            return Whereabouts::At(self.home);
        };
        if now < trip.arrive {
            Whereabouts::InTransit(trip.arrive)
        } else if now < trip.leave {
            Whereabouts::At(trip.city)
        } else if now < trip.back {
            Whereabouts::InTransit(trip.back)
        } else {
            self.trip = None;
            Whereabouts::At(self.home)
        }
    }

    pub(super) fn is_away(&self) -> bool {
        self.trip.is_some()
    }

    pub(super) fn current_device(&self) -> &str {
        &self.devices[self.device_in_use]
    }
}

/// An ordinary purchase by `customer` (index `index`) in `city` at `at`.
pub(super) fn purchase(
    rng: &mut Random,
    world: &World,
    customer: &Customer,
    index: u32,
    city: u16,
    at: Millis,
) -> Purchase {
    let (category, amount) = if chance(rng, BIG_PURCHASE_CHANCE) {
        big_purchase(rng, customer)
    } else {
        let category = random::pick_cumulative(rng, &customer.tastes);
        (category, price(rng, category, customer.typical_amount))
    };
    let online = match CATEGORIES[category].sold {
        Sold::InStore | Sold::Atm => false,
        Sold::Online => true,
        Sold::Both(online_share) => chance(rng, online_share),
    };
    let in_store = if online {
        None
    } else {
        world.in_store(rng, city, category)
    };
    let mut purchase = Purchase {
        at,
        customer: index,
        city,
        merchant: 0,
        terminal: None,
        amount,
        device: None,
        ip: None,
    };
    match in_store {
        Some((merchant, terminal)) => {
            purchase.merchant = merchant;
            purchase.terminal = Some(terminal);
        }
        None => {
            let online_category = if world.online[category].is_empty() {
                catalog::ECOMMERCE
            } else {
                category
            };
            purchase.merchant = world.online_merchant(rng, online_category).unwrap_or(0);
            purchase.device = Some(online_device(rng, customer).into());
            purchase.ip = Some(online_ip(rng, customer).into());
        }
    }
    purchase
}

fn big_purchase(rng: &mut Random, customer: &Customer) -> (usize, f64) {
    const BIG: [usize; 3] = [catalog::ELECTRONICS, catalog::TRAVEL, catalog::JEWELRY];
    let category = BIG[rng.gen_range(0..BIG.len())];
    let amount = customer.typical_amount * uniform(rng, 5.0, 15.0);
    (category, random::cents(amount))
}

fn online_device<'a>(rng: &mut Random, customer: &'a Customer) -> &'a str {
    if customer.devices.len() == 1 || chance(rng, USUAL_DEVICE_SHARE) {
        customer.current_device()
    } else {
        random::pick(rng, &customer.devices).map_or(customer.current_device(), String::as_str)
    }
}

fn online_ip<'a>(rng: &mut Random, customer: &'a Customer) -> &'a str {
    if let Some(ip) = customer.trip.as_ref().and_then(|trip| trip.ip.as_deref()) {
        return ip;
    }
    random::pick(rng, &customer.ips).map_or("", String::as_str)
}

/// Habits that change a customer after a purchase: a new phone, a trip.
pub(super) fn maybe_change_habits(
    rng: &mut Random,
    world: &World,
    customer: &mut Customer,
    now: Millis,
) {
    if chance(rng, NEW_PHONE_CHANCE) {
        customer.devices.push(random::device_id(rng));
        customer.device_in_use = customer.devices.len() - 1;
    }
    if !customer.is_away() && chance(rng, TRIP_CHANCE) {
        customer.trip = Some(plan_trip(rng, world, customer.home, now));
    }
}

/// A trip leaving now: mostly on the home continent, sometimes anywhere,
/// with the journey taking longer than a jet would.
fn plan_trip(rng: &mut Random, world: &World, home: u16, now: Millis) -> Trip {
    let nearby = &world.city(home).nearby;
    let city = match random::pick(rng, nearby).filter(|_| chance(rng, 0.6)) {
        Some(&city) => city,
        None => {
            let city = world.random_city(rng);
            if city == home {
                nearby.first().copied().unwrap_or(home)
            } else {
                city
            }
        }
    };
    let distance = random::haversine_km(world.city(home).position(), world.city(city).position());
    let journey = |rng: &mut Random| {
        let hours = distance / TRAVEL_KMH + uniform(rng, 2.0, 5.0);
        (hours * HOUR as f64) as Millis
    };
    let arrive = now + journey(rng);
    let leave = arrive + millis_between(rng, 2 * 24 * HOUR, 8 * 24 * HOUR);
    let back = leave + journey(rng);
    let ip = chance(rng, 0.7).then(|| random::residential_ip(rng));
    Trip {
        city,
        arrive,
        leave,
        back,
        ip,
    }
}

/// When the customer next buys something: a Poisson process, with most of
/// the night's purchases put off until the morning (local time).
pub(super) fn next_purchase_time(
    rng: &mut Random,
    world: &World,
    customer: &Customer,
    now: Millis,
) -> Millis {
    let at = now + random::exponential_millis(rng, customer.mean_gap);
    let city = customer
        .trip
        .as_ref()
        .map_or(customer.home, |trip| trip.city);
    let hour = local_hour(at, world.city(city).longitude);
    if NIGHT.contains(&hour) && chance(rng, 0.85) {
        let until_morning = (NIGHT.end - hour + uniform(rng, 0.0, 3.0)) * HOUR as f64;
        at + until_morning as Millis
    } else {
        at
    }
}

/// Some time after landing: through the airport, into town.
pub(super) fn after_landing(rng: &mut Random, lands: Millis) -> Millis {
    lands + millis_between(rng, 10 * MINUTE, 3 * HOUR)
}

/// Solar time from longitude: close enough to the local clock for habits.
fn local_hour(at: Millis, longitude: f64) -> f64 {
    let offset = (longitude / 15.0 * HOUR as f64) as Millis;
    // Integer remainder: a float one costs a libm call per purchase.
    (at + offset).rem_euclid(DAY) as f64 / HOUR as f64
}
