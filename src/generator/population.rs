//! The world the stream happens in: cities, merchants and their terminals,
//! and the customers, built once at start so that generating an event only
//! clones ready-made strings.

use super::catalog::{self, Continent, Pricing, Sold, CATEGORIES, CATEGORY_COUNT};
use super::random::{self, chance, log_normal, pick, uniform, Random, DAY};
use crate::domain::{Channel, Millis, Text, Transaction};
use crate::geo::Gazetteer;
use rand::Rng;

/// Terminals are sized to see about this many transactions a day from their
/// city's own customers: enough for a skimmed one to build a fraud rate.
const TARGET_TRANSACTIONS_PER_TERMINAL_DAY: f64 = 8.0;
/// Cities further apart than this on different continents are "far" for
/// impossible travel: even 60 minutes make it 3 000 km/h.
const FAR_KM: f64 = 3_000.0;
/// Coordinates scatter this many degrees around the city centre (a few km).
const COORDINATE_JITTER_DEGREES: f64 = 0.03;

pub(super) struct City {
    /// As written in `location`, e.g. "Seattle, WA".
    pub location: Text,
    pub latitude: f64,
    pub longitude: f64,
    pub country: Text,
    pub currency: Text,
    pub continent: Continent,
    /// Relative chance of being a customer's home.
    pub weight: f64,
    /// Other cities on the same continent, for ordinary trips.
    pub nearby: Vec<u16>,
    /// Cities on other continents at least `FAR_KM` away.
    pub far: Vec<u16>,
    /// In-store merchants per category.
    pub merchants: [Vec<u32>; CATEGORY_COUNT],
}

impl City {
    pub(super) fn position(&self) -> (f64, f64) {
        (self.latitude, self.longitude)
    }
}

pub(super) struct Merchant {
    pub id: Text,
    pub name: Text,
    pub category: usize,
    /// Empty for online merchants.
    pub terminals: Vec<u32>,
}

pub(super) struct Terminal {
    pub id: Text,
}

/// A customer away from home.
pub(super) struct Trip {
    pub city: u16,
    /// Landing: no transactions while in the air.
    pub arrive: Millis,
    pub leave: Millis,
    /// Home again.
    pub back: Millis,
    /// The hotel's network, if not on mobile data.
    pub ip: Option<String>,
}

pub(super) struct Customer {
    pub id: Text,
    pub home: u16,
    pub devices: Vec<String>,
    /// The phone used for most online purchases: the newest one.
    pub device_in_use: usize,
    pub ips: Vec<String>,
    /// Median of an ordinary purchase (before the category's factor).
    pub typical_amount: f64,
    /// Mean milliseconds between purchases.
    pub mean_gap: f64,
    /// Cumulative category weights.
    pub tastes: [f32; CATEGORY_COUNT],
    pub trip: Option<Trip>,
}

/// Everything fixed after start: cities, merchants, terminals.
pub(super) struct World {
    pub cities: Vec<City>,
    /// Cumulative city weights, for homes and card-testing locations.
    pub city_weights: Vec<f64>,
    pub merchants: Vec<Merchant>,
    pub terminals: Vec<Terminal>,
    /// Online merchants per category.
    pub online: [Vec<u32>; CATEGORY_COUNT],
    category_names: Vec<Text>,
    mccs: Vec<Text>,
    source: String,
}

/// A purchase decided but not yet written as a transaction.
pub(super) struct Purchase {
    pub at: Millis,
    pub customer: u32,
    pub city: u16,
    pub merchant: u32,
    pub terminal: Option<u32>,
    pub amount: f64,
    pub device: Option<Text>,
    pub ip: Option<Text>,
}

impl World {
    /// Cities from the catalog that resolve, customers, then merchants sized
    /// for the customers. Err if no city resolves (a broken gazetteer).
    pub(super) fn build(
        rng: &mut Random,
        customers: u32,
    ) -> Result<(World, Vec<Customer>), String> {
        let cities = resolve_cities(Gazetteer::embedded());
        if cities.is_empty() {
            return Err("no catalog city resolves in the gazetteer".into());
        }
        let mut world = World {
            city_weights: cumulative(cities.iter().map(|city| city.weight)),
            cities,
            merchants: Vec::new(),
            terminals: Vec::new(),
            online: Default::default(),
            category_names: CATEGORIES.iter().map(|c| c.name.into()).collect(),
            mccs: CATEGORIES.iter().map(|c| c.mcc.into()).collect(),
            source: "chargeback".into(),
        };
        let customers = create_customers(rng, &world, customers);
        world.add_in_store_merchants(rng, &customers);
        world.add_online_merchants();
        Ok((world, customers))
    }

    pub(super) fn random_city(&self, rng: &mut Random) -> u16 {
        random::pick_cumulative(rng, &self.city_weights) as u16
    }

    pub(super) fn city(&self, index: u16) -> &City {
        &self.cities[index as usize]
    }

    pub(super) fn label_source(&self) -> String {
        self.source.clone()
    }

    /// An in-store merchant of `category` in `city` and one of its terminals.
    pub(super) fn in_store(
        &self,
        rng: &mut Random,
        city: u16,
        category: usize,
    ) -> Option<(u32, u32)> {
        let merchant = *pick(rng, &self.city(city).merchants[category])?;
        let terminal = *pick(rng, &self.merchants[merchant as usize].terminals)?;
        Some((merchant, terminal))
    }

    pub(super) fn online_merchant(&self, rng: &mut Random, category: usize) -> Option<u32> {
        pick(rng, &self.online[category]).copied()
    }

    /// The transaction for a purchase, its id left empty until emitted.
    pub(super) fn transaction(
        &self,
        purchase: Purchase,
        customer: &Customer,
        coordinates: Option<(f64, f64)>,
    ) -> Transaction {
        let city = self.city(purchase.city);
        let merchant = &self.merchants[purchase.merchant as usize];
        let channel = match (purchase.terminal, CATEGORIES[merchant.category].sold) {
            (None, _) => Channel::Ecom,
            (Some(_), Sold::Atm) => Channel::Atm,
            (Some(_), _) => Channel::Pos,
        };
        Transaction {
            transaction_id: Text::default(),
            customer_id: customer.id.clone(),
            amount: purchase.amount,
            currency: Some(city.currency.clone()),
            timestamp: Some(purchase.at),
            merchant: Some(merchant.name.clone()),
            merchant_category: Some(self.category_names[merchant.category].clone()),
            mcc: Some(self.mccs[merchant.category].clone()),
            merchant_id: Some(merchant.id.clone()),
            terminal_id: purchase
                .terminal
                .map(|terminal| self.terminals[terminal as usize].id.clone()),
            location: Some(city.location.clone()),
            latitude: coordinates.map(|(latitude, _)| latitude),
            longitude: coordinates.map(|(_, longitude)| longitude),
            country: Some(city.country.clone()),
            channel: Some(channel),
            card_present: Some(channel != Channel::Ecom),
            device_id: purchase.device,
            ip_address: purchase.ip,
            previous_location: None,
            time_since_last_transaction: None,
        }
    }

    /// A point a few km from the city centre, for a `share` of transactions.
    pub(super) fn coordinates(
        &self,
        rng: &mut Random,
        city: u16,
        share: f64,
    ) -> Option<(f64, f64)> {
        if !chance(rng, share) {
            return None;
        }
        let city = self.city(city);
        let jitter = |rng: &mut Random| uniform(rng, -1.0, 1.0) * COORDINATE_JITTER_DEGREES;
        let latitude = (city.latitude + jitter(rng)).clamp(-90.0, 90.0);
        let longitude = (city.longitude + jitter(rng)).clamp(-180.0, 180.0);
        Some((round5(latitude), round5(longitude)))
    }

    fn add_in_store_merchants(&mut self, rng: &mut Random, customers: &[Customer]) {
        let demand = daily_in_store_demand(customers, self.cities.len());
        for (city, city_demand) in demand.iter().enumerate() {
            // Terminals are numbered within their city: TERM-PARIS-1, -2...
            let city_first_terminal = self.terminals.len();
            for (category, spec) in CATEGORIES.iter().enumerate() {
                if spec.sold.in_store_share() == 0.0 {
                    continue;
                }
                let count = merchant_count(city_demand[category], spec.sold);
                for _ in 0..count {
                    self.add_in_store_merchant(rng, (city as u16, city_first_terminal), category);
                }
            }
        }
    }

    fn add_in_store_merchant(
        &mut self,
        rng: &mut Random,
        (city, city_first_terminal): (u16, usize),
        category: usize,
    ) {
        let spec = &CATEGORIES[category];
        let merchant_index = self.merchants.len() as u32;
        let brand = pick(rng, spec.brands).copied().unwrap_or(spec.name);
        let city_name = city_name(&self.cities[city as usize].location);
        let terminal_count = terminals_per_merchant(rng, spec.sold);
        let prefix = if spec.sold == Sold::Atm {
            "ATM"
        } else {
            "TERM"
        };
        let slug = slug(city_name);
        let mut terminals = Vec::with_capacity(terminal_count);
        for _ in 0..terminal_count {
            terminals.push(self.terminals.len() as u32);
            let number = self.terminals.len() - city_first_terminal + 1;
            self.terminals.push(Terminal {
                id: compact_str::format_compact!("{prefix}-{slug}-{number}"),
            });
        }
        self.merchants.push(Merchant {
            id: compact_str::format_compact!("M-{:06}", merchant_index + 1),
            name: compact_str::format_compact!("{brand} {city_name}"),
            category,
            terminals,
        });
        self.cities[city as usize].merchants[category].push(merchant_index);
    }

    fn add_online_merchants(&mut self) {
        for (category, spec) in CATEGORIES.iter().enumerate() {
            if spec.sold.in_store_share() == 1.0 {
                continue;
            }
            for brand in spec.brands {
                let index = self.merchants.len() as u32;
                self.merchants.push(Merchant {
                    id: compact_str::format_compact!("M-{:06}", index + 1),
                    name: (*brand).into(),
                    category,
                    terminals: Vec::new(),
                });
                self.online[category].push(index);
            }
        }
    }
}

fn round5(value: f64) -> f64 {
    (value * 100_000.0).round() / 100_000.0
}

fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut total = 0.0;
    weights
        .map(|weight| {
            total += weight;
            total
        })
        .collect()
}

/// "Seattle" from "Seattle, WA".
fn city_name(location: &str) -> &str {
    location.split(',').next().unwrap_or(location).trim()
}

/// "SAINT-LOUIS" from "St. Louis": terminal ids stay plain ASCII.
fn slug(name: &str) -> String {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| word.to_ascii_uppercase())
        .collect();
    words.join("-")
}

fn resolve_cities(gazetteer: &Gazetteer) -> Vec<City> {
    let mut cities: Vec<City> = catalog::CITIES
        .iter()
        .filter_map(|&(name, country, continent)| {
            let place = gazetteer.resolve(name)?;
            (place.country_code() == country).then(|| City {
                location: name.into(),
                latitude: place.latitude,
                longitude: place.longitude,
                country: country.into(),
                currency: catalog::currency_of(country).into(),
                continent,
                weight: f64::from(place.population.max(10_000)).sqrt()
                    * continent.home_bias(country),
                nearby: Vec::new(),
                far: Vec::new(),
                merchants: Default::default(),
            })
        })
        .collect();
    link_cities(&mut cities);
    cities
}

fn link_cities(cities: &mut [City]) {
    let positions: Vec<((f64, f64), Continent)> = cities
        .iter()
        .map(|city| (city.position(), city.continent))
        .collect();
    for (index, city) in cities.iter_mut().enumerate() {
        for (other, &(position, continent)) in positions.iter().enumerate() {
            if other == index {
                continue;
            }
            if continent == city.continent {
                city.nearby.push(other as u16);
            } else if random::haversine_km(city.position(), position) >= FAR_KM {
                city.far.push(other as u16);
            }
        }
    }
}

fn create_customers(rng: &mut Random, world: &World, count: u32) -> Vec<Customer> {
    let mut customers: Vec<Customer> = Vec::with_capacity(count as usize);
    let mut previous_joined_household = false;
    for number in 1..=count {
        let mut customer = new_customer(rng, world, number);
        // A household sharing a tablet: two customers on one device is
        // ordinary, so the shared-device rule (3+) must not fire on it.
        // Households stay pairs: a partner is never already in one.
        let partner = customers.last().filter(|_| !previous_joined_household);
        previous_joined_household = false;
        if let Some(partner) = partner.filter(|_| chance(rng, 0.05)) {
            customer.home = partner.home;
            customer.devices[0] = partner.devices[0].clone();
            previous_joined_household = true;
        }
        customers.push(customer);
    }
    customers
}

fn new_customer(rng: &mut Random, world: &World, number: u32) -> Customer {
    let device_count = if chance(rng, 0.35) { 2 } else { 1 };
    let ip_count = if chance(rng, 0.4) { 2 } else { 1 };
    let affluent = if chance(rng, 0.05) { 5.0 } else { 1.0 };
    // Log-uniform between 0.5 and 6 purchases a day.
    let daily_rate = 0.5 * 12f64.powf(rng.gen::<f64>());
    Customer {
        id: compact_str::format_compact!("C-{number:06}"),
        home: world.random_city(rng),
        devices: (0..device_count).map(|_| random::device_id(rng)).collect(),
        device_in_use: device_count - 1,
        ips: (0..ip_count).map(|_| random::residential_ip(rng)).collect(),
        typical_amount: log_normal(rng, 60.0, 0.5) * affluent,
        mean_gap: DAY as f64 / daily_rate,
        tastes: tastes(rng),
        trip: None,
    }
}

/// Cumulative category weights: the base mix, each weight scaled by chance,
/// with cars, commutes and a taste for crypto, betting or remittances being
/// some customers' habits only.
fn tastes(rng: &mut Random) -> [f32; CATEGORY_COUNT] {
    let mut weights = CATEGORIES.map(|category| category.base_weight);
    for weight in &mut weights {
        *weight *= uniform(rng, 0.3, 1.7);
    }
    if !chance(rng, 0.7) {
        weights[catalog::GAS] = 0.0;
    }
    let habits = [
        (catalog::TRANSIT, 0.3, 12.0),
        (catalog::CRYPTOCURRENCY, 0.03, 3.0),
        (catalog::GAMBLING, 0.02, 3.0),
        (catalog::MONEY_TRANSFER, 0.03, 2.0),
    ];
    for (category, share, weight) in habits {
        if chance(rng, share) {
            weights[category] = weight;
        }
    }
    let mut total = 0.0;
    weights.map(|weight| {
        total += weight;
        total as f32
    })
}

/// Expected in-store purchases per day, per city and category, from the
/// customers living there.
fn daily_in_store_demand(customers: &[Customer], city_count: usize) -> Vec<[f64; CATEGORY_COUNT]> {
    let mut demand = vec![[0.0; CATEGORY_COUNT]; city_count];
    for customer in customers {
        let per_day = DAY as f64 / customer.mean_gap;
        let total = f64::from(customer.tastes[CATEGORY_COUNT - 1]).max(f64::MIN_POSITIVE);
        let mut previous = 0.0;
        for (category, &cumulative) in customer.tastes.iter().enumerate() {
            let share = (f64::from(cumulative) - previous) / total;
            previous = f64::from(cumulative);
            let in_store = CATEGORIES[category].sold.in_store_share();
            demand[customer.home as usize][category] += per_day * share * in_store;
        }
    }
    demand
}

fn merchant_count(daily_demand: f64, sold: Sold) -> usize {
    let per_merchant = TARGET_TRANSACTIONS_PER_TERMINAL_DAY * mean_terminals(sold);
    ((daily_demand / per_merchant).round() as usize).max(1)
}

fn mean_terminals(sold: Sold) -> f64 {
    if sold == Sold::Atm {
        1.0
    } else {
        1.35
    }
}

fn terminals_per_merchant(rng: &mut Random, sold: Sold) -> usize {
    if sold != Sold::Atm && chance(rng, 0.35) {
        2
    } else {
        1
    }
}

/// An amount for `category` from a customer whose ordinary purchase is `typical`.
pub(super) fn price(rng: &mut Random, category: usize, typical: f64) -> f64 {
    let amount = match CATEGORIES[category].pricing {
        Pricing::Relative(factor) => log_normal(rng, typical * factor, 0.55),
        Pricing::Fare(low, high) => uniform(rng, low, high),
        Pricing::Cash(factor) => {
            let twenties = (log_normal(rng, typical * factor, 0.5) / 20.0).round();
            twenties.max(1.0) * 20.0
        }
    };
    random::cents(amount.clamp(0.5, 50_000.0))
}
