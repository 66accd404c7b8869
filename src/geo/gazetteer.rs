//! Embedded gazetteer: GeoNames cities of 15 000+ inhabitants (plus every
//! country capital), country names and codes, and US/Canadian subdivisions.
//!
//! All names are indexed under a normalised key (lower case, accents folded to
//! ASCII, punctuation collapsed), so a lookup costs one normalisation and one
//! hash probe per comma-separated part of the query.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

use xxhash_rust::xxh3::xxh3_64_with_seed;

const GAZETTEER_TSV: &str = include_str!("../../data/gazetteer.tsv");
const COUNTRIES_TSV: &str = include_str!("../../data/countries.tsv");
const ADMIN1_TSV: &str = include_str!("../../data/admin1.tsv");

/// Raw input longer than this is rejected before even trimming, so every call
/// costs a bounded amount of work whatever the caller passes.
const MAX_INPUT_BYTES: usize = 1024;
/// No place in the data needs more once trimmed; longer input is rejected
/// before any allocation.
const MAX_PLACE_BYTES: usize = 256;
/// "Portland, OR, USA" has two qualifiers; more than this is not an address.
const MAX_QUALIFIERS: usize = 3;
/// Separates alternate names in the aliases columns.
const ALIAS_SEPARATOR: char = '|';

/// A resolved location.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    pub latitude: f64,
    pub longitude: f64,
    /// ISO 3166-1 alpha-2, ASCII uppercase.
    pub country: [u8; 2],
    pub population: u32,
}

impl Place {
    /// The ISO alpha-2 country code as a string slice, e.g. `"RU"`.
    #[must_use]
    pub fn country_code(&self) -> &str {
        std::str::from_utf8(&self.country).unwrap_or("")
    }
}

/// Small id of a (country, admin1 code) pair, from [`RegionInterner`].
type RegionId = u16;

#[derive(Debug, Clone, Copy)]
struct City {
    place: Place,
    region: RegionId,
}

/// What the part after a comma can restrict the match to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    Country([u8; 2]),
    Region(RegionId),
}

impl Qualifier {
    fn admits(self, city: &City) -> bool {
        match self {
            Qualifier::Country(code) => city.place.country == code,
            Qualifier::Region(region) => city.region == region,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct CountryEntry {
    code: [u8; 2],
    capital: Option<u32>,
    /// Keyed by an ISO code rather than a name. Bare codes are tried after
    /// city names: "Bo" is a city of 230 000 in Sierra Leone, not Bolivia.
    is_code: bool,
}

/// Offline place-name resolver; see [`Gazetteer::resolve`].
///
/// ```
/// use fraud_detector::geo::Gazetteer;
///
/// let gazetteer = Gazetteer::embedded();
/// let moscow = gazetteer.resolve("Moscow, Russia").unwrap();
/// assert_eq!(moscow.country_code(), "RU");
/// assert_ne!(gazetteer.resolve("Moscow, ID"), Some(moscow));
/// assert_eq!(gazetteer.country_code("USA"), Some(*b"US"));
/// ```
pub struct Gazetteer {
    cities: Vec<City>,
    /// Normalised name -> city indices: cities whose own name matches come
    /// before those matching through an alternate name, most populous first.
    cities_by_name: KeyMap<Vec<Posting>>,
    qualifiers: KeyMap<Box<[Qualifier]>>,
    countries: KeyMap<CountryEntry>,
    /// Tells this gazetteer's answers apart in the per-thread memory of
    /// recently resolved names.
    id: u64,
}

/// Gazetteer ids, from 1.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Maps keyed by normalised names.
type KeyMap<V> = HashMap<Box<str>, V, KeyHasherBuilder>;

/// xxh3 is several times cheaper than the default SipHash on short names.
/// SipHash's flooding resistance buys nothing here: the keys are fixed when
/// the data is loaded, so hostile lookups cannot lengthen any probe chain.
#[derive(Debug, Clone, Copy, Default)]
struct KeyHasherBuilder;

impl BuildHasher for KeyHasherBuilder {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxh3_64_with_seed(bytes, self.0);
    }

    /// Only `str`'s terminator comes through here; a second xxh3 round for it
    /// would double the cost of hashing a short name.
    fn write_u8(&mut self, byte: u8) {
        self.0 = self.0.rotate_left(8) ^ u64::from(byte);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl std::fmt::Debug for Gazetteer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gazetteer")
            .field("cities", &self.cities.len())
            .field("names", &self.cities_by_name.len())
            .field("qualifiers", &self.qualifiers.len())
            .field("countries", &self.countries.len())
            .finish()
    }
}

impl Gazetteer {
    /// The embedded gazetteer, parsed once on first use, then shared.
    ///
    /// Parsing takes a few tens of milliseconds in release builds; call this
    /// at start-up to keep that off the first event's latency.
    #[must_use]
    pub fn embedded() -> &'static Gazetteer {
        static EMBEDDED: OnceLock<Gazetteer> = OnceLock::new();
        EMBEDDED.get_or_init(|| Gazetteer::from_tsv(GAZETTEER_TSV, COUNTRIES_TSV, ADMIN1_TSV))
    }

    /// Builds a gazetteer from the three TSV files written by
    /// `scripts/build_gazetteer.py`; malformed lines are skipped.
    fn from_tsv(gazetteer: &str, countries: &str, admin1: &str) -> Gazetteer {
        let mut builder = Builder::sized_for(gazetteer);
        for line in data_lines(gazetteer) {
            builder.add_city_line(line);
        }
        builder.rank_candidates();
        let mut gazetteer = Gazetteer {
            cities: builder.cities,
            cities_by_name: builder.names,
            qualifiers: KeyMap::default(),
            countries: KeyMap::default(),
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        };
        let mut qualifiers = QualifierBuilder::default();
        for line in data_lines(countries) {
            gazetteer.add_country_line(line, &mut qualifiers);
        }
        for line in data_lines(admin1) {
            qualifiers.add_region_line(line, &mut builder.regions);
        }
        gazetteer.qualifiers = qualifiers.finish();
        gazetteer
    }

    /// Resolves a free-text place such as "New York, NY", "Moscow, Russia",
    /// "Paris", "paris, fr" or "Sao Paulo, Brazil" to the most populous
    /// matching city. Alternate names ("Moskva", "Wien"; kept for cities of
    /// 100 000+) only count when no city bears the name as its own.
    ///
    /// Matching ignores case, accents, surrounding whitespace and punctuation.
    /// Each part after a comma is a qualifier that the city must satisfy: a US
    /// state or Canadian province (code or name), or a country (alpha-2,
    /// alpha-3, name or common short form such as "USA", "UK", "Russia").
    /// Ambiguous codes ("CA", "GA") accept either reading. Without a comma, a
    /// trailing qualifier word is also understood ("Seattle WA"), and a bare
    /// country resolves to its capital.
    ///
    /// Returns `None` when nothing matches, including when a qualifier is not
    /// recognised: a wrong location is worse than none for travel checks.
    #[must_use]
    pub fn resolve(&self, place: &str) -> Option<Place> {
        super::recent::remembered(self.id, place, |place| self.resolve_afresh(place))
    }

    fn resolve_afresh(&self, place: &str) -> Option<Place> {
        let place = trim_place(place)?;
        let mut key = String::with_capacity(place.len() + 8);
        let mut parts = place.split(',');
        let city_part = parts.next()?;
        let mut qualifiers: [&[Qualifier]; MAX_QUALIFIERS] = [&[]; MAX_QUALIFIERS];
        let mut qualifier_count = 0;
        for part in parts {
            normalise_into(part, &mut key);
            if key.is_empty() {
                continue;
            }
            *qualifiers.get_mut(qualifier_count)? = self.qualifiers.get(key.as_str())?;
            qualifier_count += 1;
        }
        normalise_into(city_part, &mut key);
        if qualifier_count == 0 {
            self.resolve_unqualified(&key)
        } else {
            self.best_city(&key, &qualifiers[..qualifier_count])
        }
    }

    /// ISO alpha-2 code for a country name, short form or code ("Russia" ->
    /// `RU`, "USA" -> `US`, "gbr" -> `GB`); `None` if unknown.
    #[must_use]
    pub fn country_code(&self, name_or_code: &str) -> Option<[u8; 2]> {
        let name_or_code = trim_place(name_or_code)?;
        let mut key = String::with_capacity(name_or_code.len() + 8);
        normalise_into(name_or_code, &mut key);
        self.countries.get(key.as_str()).map(|country| country.code)
    }

    /// Number of cities.
    #[must_use]
    pub fn len(&self) -> usize {
        self.cities.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cities.is_empty()
    }

    fn resolve_unqualified(&self, key: &str) -> Option<Place> {
        let country = self.countries.get(key);
        let capital_of_named_country = country.filter(|entry| !entry.is_code);
        self.capital(capital_of_named_country)
            .or_else(|| self.most_populous(key))
            .or_else(|| self.resolve_trailing_qualifier(key))
            .or_else(|| self.capital(country))
    }

    /// "Seattle WA" and "Sao Paulo Brazil": the last word as a qualifier.
    fn resolve_trailing_qualifier(&self, key: &str) -> Option<Place> {
        let (name, last_word) = key.rsplit_once(' ')?;
        let qualifier = self.qualifiers.get(last_word)?;
        self.best_city(name, &[qualifier])
    }

    fn capital(&self, country: Option<&CountryEntry>) -> Option<Place> {
        let index = country?.capital?;
        self.place_at(index)
    }

    fn most_populous(&self, key: &str) -> Option<Place> {
        let best = self.cities_by_name.get(key)?.first()?;
        self.place_at(best.city)
    }

    fn best_city(&self, key: &str, qualifiers: &[&[Qualifier]]) -> Option<Place> {
        let candidates = self.cities_by_name.get(key)?;
        candidates
            .iter()
            .filter_map(|posting| self.cities.get(posting.city as usize))
            .find(|city| satisfies_all(city, qualifiers))
            .map(|city| city.place)
    }

    fn place_at(&self, index: u32) -> Option<Place> {
        self.cities.get(index as usize).map(|city| city.place)
    }

    fn add_country_line(&mut self, line: &str, qualifiers: &mut QualifierBuilder) {
        let mut fields = line.split('\t');
        let (Some(alpha2), Some(alpha3), Some(name)) =
            (fields.next(), fields.next(), fields.next())
        else {
            return;
        };
        let Some(code) = parse_country_code(alpha2) else {
            return;
        };
        let capital = fields
            .next()
            .and_then(|capital| self.find_capital(capital, code));
        let aliases = fields.next().unwrap_or("");
        let names = std::iter::once(name).chain(aliases.split(ALIAS_SEPARATOR));
        let codes = [alpha2, alpha3];
        let mut key = String::new();
        // Names first so that they win a clash with a code ("U.S." vs "US").
        for (text, is_code) in names.map(|n| (n, false)).chain(codes.map(|c| (c, true))) {
            normalise_into(text, &mut key);
            if key.is_empty() {
                continue;
            }
            let entry = CountryEntry {
                code,
                capital,
                is_code,
            };
            self.countries.entry(key.as_str().into()).or_insert(entry);
            qualifiers.add(&key, Qualifier::Country(code));
        }
    }

    fn find_capital(&self, name: &str, country: [u8; 2]) -> Option<u32> {
        let mut key = String::new();
        normalise_into(name, &mut key);
        let candidates = self.cities_by_name.get(key.as_str())?;
        candidates.iter().map(|p| p.city).find(|&index| {
            self.cities
                .get(index as usize)
                .is_some_and(|city| city.place.country == country)
        })
    }
}

fn satisfies_all(city: &City, qualifiers: &[&[Qualifier]]) -> bool {
    qualifiers
        .iter()
        .all(|alternatives| alternatives.iter().any(|qualifier| qualifier.admits(city)))
}

/// The input without surrounding noise, or `None` if empty or too long to be
/// a place name.
fn trim_place(text: &str) -> Option<&str> {
    if text.len() > MAX_INPUT_BYTES {
        return None;
    }
    let trimmed = text.trim_matches(is_edge_noise);
    (!trimmed.is_empty() && trimmed.len() <= MAX_PLACE_BYTES).then_some(trimmed)
}

/// Characters that never start or end a meaningful place name.
fn is_edge_noise(c: char) -> bool {
    c.is_whitespace() || c.is_ascii_punctuation()
}

/// Non-empty lines that are not `#` comments.
fn data_lines(tsv: &str) -> impl Iterator<Item = &str> {
    tsv.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

fn parse_country_code(text: &str) -> Option<[u8; 2]> {
    match text.as_bytes() {
        &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            Some([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
        }
        _ => None,
    }
}

/// A gazetteer.tsv line, borrowed from the embedded text.
struct CityRecord<'a> {
    name: &'a str,
    ascii_name: &'a str,
    admin1: &'a str,
    place: Place,
    aliases: &'a str,
}

impl<'a> CityRecord<'a> {
    fn parse(line: &'a str) -> Option<CityRecord<'a>> {
        let mut fields = line.split('\t');
        let name = fields.next()?;
        let ascii_name = fields.next()?;
        let admin1 = fields.next()?;
        let country = parse_country_code(fields.next()?)?;
        let latitude = parse_coordinate(fields.next()?, 90.0)?;
        let longitude = parse_coordinate(fields.next()?, 180.0)?;
        let population = fields.next()?.parse().ok()?;
        let aliases = fields.next().unwrap_or("");
        let place = Place {
            latitude,
            longitude,
            country,
            population,
        };
        Some(CityRecord {
            name,
            ascii_name,
            admin1,
            place,
            aliases,
        })
    }
}

fn parse_coordinate(text: &str, limit: f64) -> Option<f64> {
    let value: f64 = text.parse().ok()?;
    (value.is_finite() && value.abs() <= limit).then_some(value)
}

/// One city reachable under a name.
#[derive(Debug, Clone, Copy)]
struct Posting {
    city: u32,
    via_alias: bool,
}

struct Builder<'a> {
    cities: Vec<City>,
    names: KeyMap<Vec<Posting>>,
    regions: RegionInterner<'a>,
    key: String,
}

impl<'a> Builder<'a> {
    /// Pre-sizes the tables from the data length so that loading never
    /// rehashes; the ratios are those of the shipped gazetteer.tsv.
    fn sized_for(tsv: &str) -> Builder<'a> {
        const BYTES_PER_CITY: usize = 60;
        const BYTES_PER_NAME: usize = 32;
        Builder {
            cities: Vec::with_capacity(tsv.len() / BYTES_PER_CITY),
            names: KeyMap::with_capacity_and_hasher(tsv.len() / BYTES_PER_NAME, KeyHasherBuilder),
            regions: RegionInterner::default(),
            key: String::new(),
        }
    }

    fn add_city_line(&mut self, line: &'a str) {
        let Some(record) = CityRecord::parse(line) else {
            return;
        };
        let Ok(index) = u32::try_from(self.cities.len()) else {
            return;
        };
        let Some(region) = self.regions.intern(record.place.country, record.admin1) else {
            return;
        };
        self.cities.push(City {
            place: record.place,
            region,
        });
        self.index_name(record.name, index, false);
        self.index_name(record.ascii_name, index, false);
        for alias in record.aliases.split(ALIAS_SEPARATOR) {
            self.index_name(alias, index, true);
        }
    }

    fn index_name(&mut self, name: &str, city: u32, via_alias: bool) {
        normalise_into(name, &mut self.key);
        if self.key.is_empty() {
            return;
        }
        let posting = Posting { city, via_alias };
        match self.names.get_mut(self.key.as_str()) {
            // A city's keys are indexed together, own names first, so a repeat
            // is always the last posting and never better than the first.
            Some(postings) if postings.last().is_some_and(|last| last.city == city) => {}
            Some(postings) => postings.push(posting),
            None => {
                self.names.insert(self.key.as_str().into(), vec![posting]);
            }
        }
    }

    /// Orders every candidate list: own names before alternate names, then
    /// most populous first, so a lookup can stop at the first acceptable city.
    fn rank_candidates(&mut self) {
        let cities = &self.cities;
        let population = |posting: &Posting| {
            cities
                .get(posting.city as usize)
                .map_or(0, |city| city.place.population)
        };
        for postings in self.names.values_mut() {
            postings.sort_by_key(|p| (p.via_alias, Reverse(population(p)), p.city));
            postings.shrink_to_fit();
        }
    }
}

/// Numbers each (country, admin1 code) pair so cities carry a small id.
#[derive(Default)]
struct RegionInterner<'a> {
    ids: HashMap<([u8; 2], &'a str), RegionId, KeyHasherBuilder>,
}

impl<'a> RegionInterner<'a> {
    fn intern(&mut self, country: [u8; 2], admin1: &'a str) -> Option<RegionId> {
        if let Some(&id) = self.ids.get(&(country, admin1)) {
            return Some(id);
        }
        let id = RegionId::try_from(self.ids.len()).ok()?;
        self.ids.insert((country, admin1), id);
        Some(id)
    }
}

#[derive(Default)]
struct QualifierBuilder {
    by_key: KeyMap<Vec<Qualifier>>,
}

impl QualifierBuilder {
    fn add(&mut self, key: &str, qualifier: Qualifier) {
        let alternatives = self.by_key.entry(key.into()).or_default();
        if !alternatives.contains(&qualifier) {
            alternatives.push(qualifier);
        }
    }

    /// An admin1.tsv line: country, GeoNames admin1 code, abbreviation, name.
    fn add_region_line<'a>(&mut self, line: &'a str, regions: &mut RegionInterner<'a>) {
        let fields: Vec<&str> = line.split('\t').collect();
        let &[country, admin1, abbreviation, name] = fields.as_slice() else {
            return;
        };
        let Some(country) = parse_country_code(country) else {
            return;
        };
        let Some(region) = regions.intern(country, admin1) else {
            return;
        };
        let mut key = String::new();
        for text in [abbreviation, name] {
            normalise_into(text, &mut key);
            if !key.is_empty() {
                self.add(&key, Qualifier::Region(region));
            }
        }
    }

    fn finish(self) -> KeyMap<Box<[Qualifier]>> {
        self.by_key
            .into_iter()
            .map(|(key, alternatives)| (key, alternatives.into_boxed_slice()))
            .collect()
    }
}

/// Writes the lookup key of `text` into `out`: lower case, Latin accents
/// folded to ASCII, dots and apostrophes dropped ("D.C." = "DC", "Xi'an" =
/// "Xian"), any other run of punctuation or space turned into one space, and
/// "St"/"Ste"/"Ft"/"Mt" before another word expanded ("St. Louis" = "Saint
/// Louis") -- but not alone, where they are codes (Montana, Sao Tome).
fn normalise_into(text: &str, out: &mut String) {
    out.clear();
    let mut writer = KeyWriter {
        out,
        word_start: 0,
        pending_space: false,
    };
    for c in text.chars() {
        if c.is_ascii() {
            writer.push_ascii(c);
        } else {
            for lower in c.to_lowercase() {
                writer.push_non_ascii(lower);
            }
        }
    }
}

struct KeyWriter<'a> {
    out: &'a mut String,
    word_start: usize,
    pending_space: bool,
}

impl KeyWriter<'_> {
    fn push_ascii(&mut self, c: char) {
        if c.is_ascii_alphanumeric() {
            self.start_word_if_needed();
            self.out.push(c.to_ascii_lowercase());
        } else if !is_ignored(c) {
            self.separate();
        }
    }

    fn push_non_ascii(&mut self, lower: char) {
        if is_ignored(lower) {
            return;
        }
        if let Some(ascii) = fold_to_ascii(lower) {
            self.start_word_if_needed();
            self.out.push_str(ascii);
        } else if lower.is_alphanumeric() {
            // Other scripts are kept: such names then match only verbatim.
            self.start_word_if_needed();
            self.out.push(lower);
        } else {
            self.separate();
        }
    }

    fn separate(&mut self) {
        self.pending_space = !self.out.is_empty();
    }

    #[inline]
    fn start_word_if_needed(&mut self) {
        if self.pending_space {
            self.start_word();
        }
    }

    fn start_word(&mut self) {
        self.expand_abbreviation();
        self.out.push(' ');
        self.word_start = self.out.len();
        self.pending_space = false;
    }

    fn expand_abbreviation(&mut self) {
        let expansion = match self.out.get(self.word_start..) {
            Some("st") => "saint",
            Some("ste") => "sainte",
            Some("ft") => "fort",
            Some("mt") => "mount",
            _ => return,
        };
        self.out.truncate(self.word_start);
        self.out.push_str(expansion);
    }
}

/// Dots, apostrophes and combining accents vanish without splitting words.
fn is_ignored(c: char) -> bool {
    matches!(
        c,
        '.' | '\'' | '`' | '\u{b4}' | '\u{2018}' | '\u{2019}' | '\u{2bb}' | '\u{2bc}'
    ) || is_combining_mark(c)
}

fn is_combining_mark(c: char) -> bool {
    matches!(c,
        '\u{300}'..='\u{36f}'
        | '\u{1ab0}'..='\u{1aff}'
        | '\u{1dc0}'..='\u{1dff}'
        | '\u{20d0}'..='\u{20ff}'
        | '\u{fe20}'..='\u{fe2f}')
}

/// ASCII spelling of a lower-case Latin letter with diacritics, covering the
/// Latin-1, Latin Extended-A/B and Vietnamese ranges used in GeoNames names.
fn fold_to_ascii(c: char) -> Option<&'static str> {
    fold_latin1(c)
        .or_else(|| fold_latin_extended_a(c))
        .or_else(|| fold_latin_extended_b(c))
        .or_else(|| fold_latin_extended_additional(c))
}

fn fold_latin1(c: char) -> Option<&'static str> {
    Some(match c {
        'à'..='å' => "a",
        'æ' => "ae",
        'ç' => "c",
        'è'..='ë' => "e",
        'ì'..='ï' => "i",
        'ð' => "d",
        'ñ' => "n",
        'ò'..='ö' | 'ø' => "o",
        'ù'..='ü' => "u",
        'ý' | 'ÿ' => "y",
        'þ' => "th",
        'ß' => "ss",
        _ => return None,
    })
}

fn fold_latin_extended_a(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{100}'..='\u{105}' => "a",
        '\u{106}'..='\u{10d}' => "c",
        '\u{10e}'..='\u{111}' => "d",
        '\u{112}'..='\u{11b}' => "e",
        '\u{11c}'..='\u{123}' => "g",
        '\u{124}'..='\u{127}' => "h",
        '\u{128}'..='\u{131}' => "i",
        '\u{132}'..='\u{133}' => "ij",
        '\u{134}'..='\u{135}' => "j",
        '\u{136}'..='\u{138}' => "k",
        '\u{139}'..='\u{142}' => "l",
        '\u{143}'..='\u{14b}' => "n",
        '\u{14c}'..='\u{151}' => "o",
        '\u{152}'..='\u{153}' => "oe",
        '\u{154}'..='\u{159}' => "r",
        '\u{15a}'..='\u{161}' | '\u{17f}' => "s",
        '\u{162}'..='\u{167}' => "t",
        '\u{168}'..='\u{173}' => "u",
        '\u{174}'..='\u{175}' => "w",
        '\u{176}'..='\u{178}' => "y",
        '\u{179}'..='\u{17e}' => "z",
        _ => return None,
    })
}

fn fold_latin_extended_b(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{180}' => "b",
        '\u{18f}' | '\u{259}' => "e", // schwa, as in Azerbaijani names
        '\u{1a0}'..='\u{1a1}' => "o",
        '\u{1af}'..='\u{1b0}' => "u",
        '\u{1b6}' => "z",
        '\u{1cd}'..='\u{1ce}' | '\u{1de}'..='\u{1e1}' => "a",
        '\u{1cf}'..='\u{1d0}' => "i",
        '\u{1d1}'..='\u{1d2}' | '\u{1ea}'..='\u{1ed}' => "o",
        '\u{1d3}'..='\u{1dc}' => "u",
        '\u{1e4}'..='\u{1e7}' | '\u{1f4}'..='\u{1f5}' => "g",
        '\u{1e8}'..='\u{1e9}' => "k",
        '\u{1f0}' => "j",
        '\u{1f8}'..='\u{1f9}' => "n",
        '\u{218}'..='\u{219}' => "s",
        '\u{21a}'..='\u{21b}' => "t",
        '\u{21e}'..='\u{21f}' => "h",
        '\u{226}'..='\u{227}' => "a",
        '\u{228}'..='\u{229}' => "e",
        '\u{22a}'..='\u{231}' => "o",
        '\u{232}'..='\u{233}' => "y",
        _ => return None,
    })
}

/// U+1E00..U+1EFF is ordered by base letter, so ranges suffice.
fn fold_latin_extended_additional(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{1e00}'..='\u{1e01}' | '\u{1e9a}' => "a",
        '\u{1e02}'..='\u{1e07}' => "b",
        '\u{1e08}'..='\u{1e09}' => "c",
        '\u{1e0a}'..='\u{1e13}' => "d",
        '\u{1e14}'..='\u{1e1d}' => "e",
        '\u{1e1e}'..='\u{1e1f}' => "f",
        '\u{1e20}'..='\u{1e21}' => "g",
        '\u{1e22}'..='\u{1e2b}' | '\u{1e96}' => "h",
        '\u{1e2c}'..='\u{1e2f}' => "i",
        '\u{1e30}'..='\u{1e35}' => "k",
        '\u{1e36}'..='\u{1e3d}' => "l",
        '\u{1e3e}'..='\u{1e43}' => "m",
        '\u{1e44}'..='\u{1e4b}' => "n",
        '\u{1e4c}'..='\u{1e53}' => "o",
        '\u{1e54}'..='\u{1e57}' => "p",
        '\u{1e58}'..='\u{1e5f}' => "r",
        '\u{1e60}'..='\u{1e69}' | '\u{1e9b}' => "s",
        '\u{1e6a}'..='\u{1e71}' | '\u{1e97}' => "t",
        '\u{1e72}'..='\u{1e7b}' => "u",
        '\u{1e7c}'..='\u{1e7f}' => "v",
        '\u{1e80}'..='\u{1e89}' | '\u{1e98}' => "w",
        '\u{1e8a}'..='\u{1e8d}' => "x",
        '\u{1e8e}'..='\u{1e8f}' | '\u{1e99}' => "y",
        '\u{1e90}'..='\u{1e95}' => "z",
        '\u{1e9e}' => "ss",
        // Vietnamese letters with two diacritics.
        '\u{1ea0}'..='\u{1eb7}' => "a",
        '\u{1eb8}'..='\u{1ec7}' => "e",
        '\u{1ec8}'..='\u{1ecb}' => "i",
        '\u{1ecc}'..='\u{1ee3}' => "o",
        '\u{1ee4}'..='\u{1ef1}' => "u",
        '\u{1ef2}'..='\u{1ef9}' => "y",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EARTH_RADIUS_KM: f64 = 6371.0;

    fn distance_km(place: &Place, latitude: f64, longitude: f64) -> f64 {
        let (lat1, lat2) = (place.latitude.to_radians(), latitude.to_radians());
        let d_lat = lat2 - lat1;
        let d_lon = (longitude - place.longitude).to_radians();
        let a = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
    }

    fn assert_resolves(query: &str, country: &str, latitude: f64, longitude: f64) {
        let place = Gazetteer::embedded()
            .resolve(query)
            .unwrap_or_else(|| panic!("{query:?} did not resolve"));
        assert_eq!(place.country_code(), country, "{query:?} -> {place:?}");
        let distance = distance_km(&place, latitude, longitude);
        assert!(
            distance < 30.0,
            "{query:?} is {distance:.0} km off: {place:?}"
        );
    }

    #[test]
    fn resolves_the_examples_to_the_right_city() {
        let examples = [
            ("Moscow, Russia", "RU", 55.7558, 37.6173),
            ("New York, NY", "US", 40.7128, -74.0060),
            ("Seattle, WA", "US", 47.6062, -122.3321),
            ("Los Angeles, CA", "US", 34.0522, -118.2437),
            ("London", "GB", 51.5074, -0.1278),
            ("Paris, France", "FR", 48.8566, 2.3522),
            ("Sydney, Australia", "AU", -33.8688, 151.2093),
            ("Toronto, ON", "CA", 43.6532, -79.3832),
            ("São Paulo, Brazil", "BR", -23.5505, -46.6333),
            ("Berlin, DE", "DE", 52.5200, 13.4050),
        ];
        for (query, country, latitude, longitude) in examples {
            assert_resolves(query, country, latitude, longitude);
        }
    }

    #[test]
    fn ignores_case_accents_whitespace_and_punctuation() {
        assert_resolves("  paris, fr ", "FR", 48.8566, 2.3522);
        assert_resolves("Sao Paulo, Brazil", "BR", -23.5505, -46.6333);
        assert_resolves("SAO PAULO,BR.", "BR", -23.5505, -46.6333);
        assert_resolves("Montréal, QC", "CA", 45.5017, -73.5673);
        assert_resolves("montreal, quebec", "CA", 45.5017, -73.5673);
        assert_resolves("St. Louis, MO", "US", 38.6270, -90.1994);
        assert_resolves("Saint Louis, Missouri", "US", 38.6270, -90.1994);
        assert_resolves("Washington, D.C.", "US", 38.9072, -77.0369);
        assert_resolves("Zürich", "CH", 47.3769, 8.5417);
        assert_resolves("Kraków, Poland", "PL", 50.0647, 19.9450);
        assert_resolves("Xi'an, China", "CN", 34.3416, 108.9398);
    }

    #[test]
    fn qualifier_picks_between_homonyms() {
        let gazetteer = Gazetteer::embedded();
        let russia = gazetteer.resolve("Moscow, Russia");
        let idaho = gazetteer.resolve("Moscow, ID");
        assert_ne!(russia, idaho);
        assert_resolves("Moscow, ID", "US", 46.7324, -117.0002);
        assert_resolves("Moscow, Idaho", "US", 46.7324, -117.0002);
        assert_resolves("London, ON", "CA", 42.9849, -81.2453);
        assert_resolves("Paris, TX", "US", 33.6609, -95.5555);
        assert_resolves("Portland, OR, USA", "US", 45.5152, -122.6784);
        assert_resolves("Portland, ME", "US", 43.6591, -70.2568);
    }

    #[test]
    fn ambiguous_codes_accept_either_reading() {
        assert_resolves("Toronto, CA", "CA", 43.6532, -79.3832);
        assert_resolves("Atlanta, GA", "US", 33.7490, -84.3880);
        assert_resolves("Atlanta, Georgia", "US", 33.7490, -84.3880);
        assert_resolves("Tbilisi, Georgia", "GE", 41.7151, 44.8271);
    }

    #[test]
    fn bare_country_resolves_to_its_capital() {
        assert_resolves("Russia", "RU", 55.7558, 37.6173);
        assert_resolves("USA", "US", 38.9072, -77.0369);
        assert_resolves("United Kingdom", "GB", 51.5074, -0.1278);
        assert_resolves("South Korea", "KR", 37.5665, 126.9780);
        assert_resolves("Liechtenstein", "LI", 47.1410, 9.5209);
    }

    #[test]
    fn bare_code_is_tried_after_city_names() {
        assert_resolves("Bo", "SL", 7.9647, -11.7383);
        assert_resolves("GBR", "GB", 51.5074, -0.1278);
    }

    #[test]
    fn trailing_qualifier_without_comma() {
        assert_resolves("SEATTLE WA", "US", 47.6062, -122.3321);
        assert_resolves("Los Angeles CA", "US", 34.0522, -118.2437);
        assert_resolves("Sao Paulo Brazil", "BR", -23.5505, -46.6333);
    }

    #[test]
    fn alternate_names_of_big_cities_resolve() {
        assert_resolves("Moskva", "RU", 55.7558, 37.6173);
        assert_resolves("Wien", "AT", 48.2082, 16.3738);
        assert_resolves("München", "DE", 48.1351, 11.5820);
        assert_resolves("Muenchen", "DE", 48.1351, 11.5820);
    }

    #[test]
    fn unknown_places_give_none() {
        let gazetteer = Gazetteer::embedded();
        let huge = "a".repeat(1 << 20);
        let huge_list = ", Paris".repeat(150_000);
        let padded = format!("{}Paris{}", " ".repeat(1 << 19), " ".repeat(1 << 19));
        for query in [
            "Atlantis, Greece",
            "Qwzxv",
            "",
            "   ,  ,",
            ",",
            "Paris, Narnia",
            // More qualifiers than any address has.
            "Paris, , , , France, FR, FRA, France",
            huge.as_str(),
            huge_list.as_str(),
            padded.as_str(),
            "\u{0}\u{ffff}💳",
        ] {
            let shown: String = query.chars().take(40).collect();
            assert_eq!(gazetteer.resolve(query), None, "{shown:?}");
        }
    }

    /// "Atlantis" is no myth to GeoNames: it is a town of 80 000 near Cape Town.
    #[test]
    fn atlantis_is_a_real_town() {
        assert_resolves("Atlantis", "ZA", -33.5667, 18.4833);
    }

    #[test]
    fn never_panics_on_odd_input() {
        let gazetteer = Gazetteer::embedded();
        for query in [
            "İstanbul",
            "ǅ",
            "\u{301}",
            "St.",
            "mt",
            "Ft, MT",
            "a,b,c,d,e",
            "\t\n",
        ] {
            let _ = gazetteer.resolve(query);
            let _ = gazetteer.country_code(query);
        }
        assert_resolves("İstanbul", "TR", 41.0082, 28.9784);
    }

    proptest::proptest! {
        #[test]
        fn resolve_never_panics(text in "\\PC{0,300}") {
            let _ = Gazetteer::embedded().resolve(&text);
            let _ = Gazetteer::embedded().country_code(&text);
        }

        #[test]
        fn resolve_never_panics_on_address_like_input(
            text in "[A-Za-zÀ-ÿ .'-]{0,20}(, ?[A-Za-z .]{0,12}){0,5}"
        ) {
            let _ = Gazetteer::embedded().resolve(&text);
        }
    }

    #[test]
    fn country_code_accepts_names_short_forms_and_codes() {
        let gazetteer = Gazetteer::embedded();
        assert_eq!(gazetteer.country_code("Russia"), Some(*b"RU"));
        assert_eq!(gazetteer.country_code("USA"), Some(*b"US"));
        assert_eq!(gazetteer.country_code("U.S.A."), Some(*b"US"));
        assert_eq!(gazetteer.country_code("uk"), Some(*b"GB"));
        assert_eq!(gazetteer.country_code("gbr"), Some(*b"GB"));
        assert_eq!(gazetteer.country_code("Côte d'Ivoire"), Some(*b"CI"));
        assert_eq!(gazetteer.country_code(" france "), Some(*b"FR"));
        assert_eq!(gazetteer.country_code("Atlantis"), None);
        assert_eq!(gazetteer.country_code(""), None);
    }

    #[test]
    fn embedded_data_is_complete() {
        let gazetteer = Gazetteer::embedded();
        assert!(gazetteer.len() > 30_000, "{gazetteer:?}");
        assert!(!gazetteer.is_empty());
        let data_rows = data_lines(GAZETTEER_TSV).count();
        assert_eq!(gazetteer.len(), data_rows, "malformed lines were skipped");
    }

    /// The Rust folding table must agree with the ASCII names that the build
    /// script derived with Unicode decomposition.
    #[test]
    fn folding_agrees_with_ascii_names_in_the_data() {
        let (mut folded, mut expected) = (String::new(), String::new());
        let mismatches: Vec<&str> = data_lines(GAZETTEER_TSV)
            .filter_map(|line| {
                let record = CityRecord::parse(line)?;
                normalise_into(record.name, &mut folded);
                normalise_into(record.ascii_name, &mut expected);
                (folded != expected).then_some(record.name)
            })
            .collect();
        assert!(
            mismatches.is_empty(),
            "{} mismatches: {:?}",
            mismatches.len(),
            &mismatches[..mismatches.len().min(20)]
        );
    }

    #[test]
    fn normalisation_examples() {
        let mut key = String::new();
        for (text, expected) in [
            ("  New   York ", "new york"),
            ("Winston-Salem", "winston salem"),
            ("St. John's", "saint johns"),
            ("MT", "mt"),
            ("Ft. Lauderdale", "fort lauderdale"),
            ("Hà Nội", "ha noi"),
            ("Straße", "strasse"),
            ("Москва", "москва"),
        ] {
            normalise_into(text, &mut key);
            assert_eq!(key, expected, "{text:?}");
        }
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let cities = concat!(
            "# header\n",
            "Good\tGood\tNY\tUS\t40.0\t-74.0\t100\t\n",
            "Bad\tBad\tNY\tUS\tnorth\t-74.0\t100\n",
            "\tshort\n",
        );
        let gazetteer = Gazetteer::from_tsv(
            cities,
            "US\tUSA\tUnited States\tGood\t\nX\n",
            "US\tNY\tNY\tNew York\n",
        );
        assert_eq!(gazetteer.len(), 1);
        assert_eq!(
            gazetteer.resolve("Good, New York").map(|p| p.population),
            Some(100)
        );
        assert_eq!(
            gazetteer.resolve("United States").map(|p| p.population),
            Some(100)
        );
    }
}
