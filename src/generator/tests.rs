use super::*;
use crate::domain::{format_millis, Channel};
use crate::duration::Span;
use crate::geo::Gazetteer;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

fn with_transactions(transactions: u64) -> GeneratorConfig {
    GeneratorConfig {
        transactions: Some(transactions),
        ..GeneratorConfig::default()
    }
}

fn generate(config: GeneratorConfig) -> (Vec<Generated>, GeneratorStats) {
    let mut generator = Generator::new(config).unwrap();
    let events: Vec<Generated> = generator.by_ref().collect();
    (events, generator.stats().clone())
}

fn transactions(events: &[Generated]) -> impl Iterator<Item = (&Transaction, Option<Scenario>)> {
    events.iter().filter_map(|event| match event {
        Generated::Transaction { transaction, truth } => Some((transaction, *truth)),
        Generated::Label(_) => None,
    })
}

/// The pipeline runs the generator on a task of its own.
#[test]
fn generator_can_move_to_another_thread() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<Generator>();
    assert_send::<Generated>();
}

#[test]
fn same_seed_same_stream() {
    let first: Vec<Generated> = Generator::new(GeneratorConfig::default())
        .unwrap()
        .take(10_000)
        .collect();
    let second: Vec<Generated> = Generator::new(GeneratorConfig::default())
        .unwrap()
        .take(10_000)
        .collect();
    assert_eq!(first, second);
}

#[test]
fn different_seed_different_stream() {
    let other = GeneratorConfig {
        seed: 7,
        ..GeneratorConfig::default()
    };
    let first: Vec<Generated> = Generator::new(GeneratorConfig::default())
        .unwrap()
        .take(100)
        .collect();
    let second: Vec<Generated> = Generator::new(other).unwrap().take(100).collect();
    assert_ne!(first, second);
}

#[test]
fn stops_after_the_configured_transactions_then_drains_labels() {
    let (events, stats) = generate(with_transactions(20_000));
    assert_eq!(transactions(&events).count(), 20_000);
    assert_eq!(stats.transactions, 20_000);
    let last_transaction = events
        .iter()
        .rposition(|event| matches!(event, Generated::Transaction { .. }))
        .unwrap();
    assert!(events[last_transaction + 1..]
        .iter()
        .all(|event| matches!(event, Generated::Label(_))));
    assert_eq!(stats.labels, stats.total_frauds());
}

/// One bounded run checked for everything the demo relies on.
#[test]
fn fifty_thousand_transactions_are_ordered_valid_and_labelled() {
    let (events, stats) = generate(with_transactions(50_000));
    assert_event_time_order(&events);
    assert_valid_and_located(&events);
    assert_labels_match_frauds(&events);
    let mut seen: HashMap<Scenario, u64> = HashMap::new();
    for (_, truth) in transactions(&events) {
        if let Some(scenario) = truth {
            *seen.entry(scenario).or_default() += 1;
        }
    }
    for scenario in Scenario::ALL {
        assert!(
            seen.get(&scenario).copied().unwrap_or(0) > 0,
            "no {scenario} in {seen:?}"
        );
        assert_eq!(seen[&scenario], stats.frauds(scenario));
    }
}

fn assert_event_time_order(events: &[Generated]) {
    for pair in events.windows(2) {
        assert!(
            pair[0].event_time() <= pair[1].event_time(),
            "{:?} before {:?}",
            pair[0],
            pair[1]
        );
    }
}

fn assert_valid_and_located(events: &[Generated]) {
    let gazetteer = Gazetteer::embedded();
    let mut resolved: HashSet<&str> = HashSet::new();
    let mut ids: HashSet<&str> = HashSet::new();
    for (transaction, _) in transactions(events) {
        transaction.validate().unwrap();
        assert!(ids.insert(&transaction.transaction_id), "{transaction:?}");
        assert!(transaction.timestamp.is_some());
        let location = transaction.location.as_deref().unwrap();
        if resolved.insert(location) {
            let place = gazetteer.resolve(location).unwrap();
            assert_eq!(Some(place.country_code()), transaction.country.as_deref());
        }
        let channel = transaction.channel.unwrap();
        assert_eq!(transaction.card_present, Some(channel != Channel::Ecom));
        assert_eq!(transaction.terminal_id.is_some(), channel != Channel::Ecom);
    }
}

fn assert_labels_match_frauds(events: &[Generated]) {
    let mut frauds: HashMap<&str, (&Transaction, bool)> = HashMap::new();
    for event in events {
        match event {
            Generated::Transaction { transaction, truth } => {
                if truth.is_some() {
                    frauds.insert(&transaction.transaction_id, (transaction, false));
                }
            }
            Generated::Label(label) => {
                let (transaction, labelled) = frauds
                    .get_mut(label.transaction_id.as_str())
                    .unwrap_or_else(|| panic!("label for no earlier fraud: {label:?}"));
                assert!(!*labelled, "second label: {label:?}");
                *labelled = true;
                assert!(label.is_fraud);
                assert_eq!(label.transaction_time, transaction.timestamp);
                assert_eq!(
                    label.customer_id.as_deref(),
                    Some(transaction.customer_id.as_str())
                );
                assert_eq!(
                    label.terminal_id.as_deref(),
                    transaction.terminal_id.as_deref()
                );
                assert_eq!(label.source.as_deref(), Some("chargeback"));
            }
        }
    }
    let unlabelled = frauds.values().filter(|(_, labelled)| !labelled).count();
    assert_eq!(unlabelled, 0, "of {} frauds", frauds.len());
}

#[test]
fn fraud_share_follows_fraud_rate_and_scenario_length() {
    let config = with_transactions(100_000);
    let fraud_rate = config.fraud_rate;
    let (_, stats) = generate(config);
    let started: u64 = stats.scenarios_started.iter().sum();
    let mean_length = stats.total_frauds() as f64 / started as f64;
    let share = stats.total_frauds() as f64 / stats.transactions as f64;
    let expected = fraud_rate * mean_length;
    println!(
        "fraud share {share:.4}, expected {expected:.4} (mean scenario length {mean_length:.1}); {stats:?}"
    );
    assert!(
        (expected / 2.0..expected * 2.0).contains(&share),
        "{share} vs {expected}"
    );
    let legit = stats.transactions - stats.total_frauds();
    let start_rate = started as f64 / legit as f64;
    assert!(
        (fraud_rate / 2.0..fraud_rate * 2.0).contains(&start_rate),
        "{start_rate}"
    );
}

#[test]
fn legit_noise_is_present() {
    let (events, _) = generate(with_transactions(50_000));
    let mut devices_per_customer: HashMap<&str, HashSet<&str>> = HashMap::new();
    let mut customers_per_device: HashMap<&str, HashSet<&str>> = HashMap::new();
    let mut countries_per_customer: HashMap<&str, HashSet<&str>> = HashMap::new();
    let mut legit_high_risk = 0;
    let mut legit_large = 0;
    for (transaction, truth) in transactions(&events).filter(|(_, truth)| truth.is_none()) {
        let customer = transaction.customer_id.as_str();
        if let Some(device) = transaction.device_id.as_deref() {
            devices_per_customer
                .entry(customer)
                .or_default()
                .insert(device);
            customers_per_device
                .entry(device)
                .or_default()
                .insert(customer);
        }
        if let Some(country) = transaction.country.as_deref() {
            countries_per_customer
                .entry(customer)
                .or_default()
                .insert(country);
        }
        let category = transaction.merchant_category.as_deref().unwrap_or("");
        legit_high_risk +=
            ["Cryptocurrency", "Gambling", "Money Transfer"].contains(&category) as u32;
        legit_large += (transaction.amount >= 1_000.0) as u32;
        assert!(truth.is_none());
    }
    let shared = customers_per_device
        .values()
        .filter(|c| c.len() == 2)
        .count();
    let many_devices = devices_per_customer
        .values()
        .filter(|d| d.len() >= 3)
        .count();
    let travellers = countries_per_customer
        .values()
        .filter(|c| c.len() >= 2)
        .count();
    println!(
        "shared devices {shared}, customers with 3+ devices {many_devices}, abroad {travellers}, \
         legit high-risk {legit_high_risk}, legit >= 1000: {legit_large}"
    );
    assert!(shared > 0 && many_devices > 0 && travellers > 0);
    assert!(legit_high_risk > 0 && legit_large > 0);
    assert!(customers_per_device
        .values()
        .all(|customers| customers.len() <= 2));
}

#[test]
fn config_problems_are_reported() {
    assert!(GeneratorConfig::default().problems().is_empty());
    let bad = GeneratorConfig {
        customers: 0,
        transactions: Some(0),
        start: "yesterday".into(),
        fraud_rate: 1.5,
        with_coordinates: f64::NAN,
        scenarios: ScenarioWeights {
            card_testing: -1.0,
            ..ScenarioWeights::default()
        },
        label_delay_min: Span::days(10),
        label_delay_max: Span::days(1),
        ..GeneratorConfig::default()
    };
    let problems = bad.problems();
    for field in [
        "customers",
        "transactions",
        "start",
        "fraud_rate",
        "with_coordinates",
        "scenarios.card_testing",
        "label_delay_min",
    ] {
        assert!(
            problems.iter().any(|problem| problem.starts_with(field)),
            "{field} not in {problems:?}"
        );
    }
    assert!(Generator::new(bad).is_err());
    let all_off = GeneratorConfig {
        scenarios: ScenarioWeights {
            impossible_travel: 0.0,
            account_takeover: 0.0,
            card_testing: 0.0,
            compromised_terminal: 0.0,
            high_risk_merchant: 0.0,
        },
        ..GeneratorConfig::default()
    };
    assert_eq!(all_off.problems().len(), 1, "{:?}", all_off.problems());
    let before_2000 = GeneratorConfig {
        start: "1999-12-31T00:00:00Z".into(),
        ..GeneratorConfig::default()
    };
    assert_eq!(before_2000.problems().len(), 1);
}

#[test]
fn config_reads_from_yaml_with_defaults() {
    let config: GeneratorConfig = serde_yaml::from_str(
        "seed: 9\ncustomers: 100\nlabel_delay_max: 3d\nscenarios:\n  card_testing: 2.5\n",
    )
    .unwrap();
    assert_eq!(config.seed, 9);
    assert_eq!(config.label_delay_max, Span::days(3));
    assert_eq!(config.scenarios.card_testing, 2.5);
    assert_eq!(config.scenarios.account_takeover, 1.0);
    assert_eq!(config.transactions, Some(200_000));
    assert!(serde_yaml::from_str::<GeneratorConfig>("sead: 1").is_err());
    let text = serde_yaml::to_string(&GeneratorConfig::default()).unwrap();
    assert_eq!(
        serde_yaml::from_str::<GeneratorConfig>(&text).unwrap(),
        GeneratorConfig::default()
    );
    assert_eq!(
        serde_json::to_string(&Scenario::CardTesting).unwrap(),
        "\"card_testing\""
    );
}

#[test]
fn without_fraud_nothing_is_fraudulent() {
    let config = GeneratorConfig {
        fraud_rate: 0.0,
        customers: 50,
        ..with_transactions(5_000)
    };
    let (events, stats) = generate(config);
    assert_eq!(stats.total_frauds(), 0);
    assert!(events
        .iter()
        .all(|event| matches!(event, Generated::Transaction { truth: None, .. })));
}

#[test]
fn endless_stream_keeps_going() {
    let config = GeneratorConfig {
        transactions: None,
        customers: 10,
        ..GeneratorConfig::default()
    };
    assert_eq!(Generator::new(config).unwrap().take(30_000).count(), 30_000);
}

/// The default run's event-time span and the generation rate; run with
/// `--release -- --nocapture` for a meaningful rate.
#[test]
fn default_run_spans_weeks() {
    let started = Instant::now();
    let mut generator = Generator::new(GeneratorConfig::default()).unwrap();
    let built = started.elapsed();
    let started = Instant::now();
    let (mut first, mut last_transaction) = (None, 0);
    for event in generator.by_ref() {
        if let Generated::Transaction { transaction, .. } = &event {
            let at = transaction.timestamp.unwrap();
            first.get_or_insert(at);
            last_transaction = at;
        }
    }
    let elapsed = started.elapsed();
    let stats = generator.stats();
    let first = first.unwrap();
    let days = (last_transaction - first) as f64 / random::DAY as f64;
    println!(
        "default run: {} .. {} = {days:.1} days; {} transactions, {} frauds, {} labels; \
         population built in {built:?}, {:.2} M events/s",
        format_millis(first),
        format_millis(last_transaction),
        stats.transactions,
        stats.total_frauds(),
        stats.labels,
        (stats.transactions + stats.labels) as f64 / elapsed.as_secs_f64() / 1e6,
    );
    for scenario in Scenario::ALL {
        println!(
            "  {scenario}: {} started, {} fraudulent transactions",
            stats.started(scenario),
            stats.frauds(scenario)
        );
    }
    assert!((25.0..40.0).contains(&days), "{days} days");
}

#[test]
fn every_catalog_city_resolves_to_its_country() {
    let gazetteer = Gazetteer::embedded();
    let unresolved: Vec<&str> = catalog::CITIES
        .iter()
        .filter(|(name, country, _)| {
            let resolved = gazetteer.resolve(name);
            resolved.map(|place| place.country_code() == *country) != Some(true)
        })
        .map(|(name, _, _)| *name)
        .collect();
    assert!(unresolved.is_empty(), "{unresolved:?}");
}
