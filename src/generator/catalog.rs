//! Static reference data: the cities customers live in and travel to, the
//! merchant categories they buy from, and the currency of each country.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Continent {
    NorthAmerica,
    SouthAmerica,
    Europe,
    Africa,
    Asia,
    Oceania,
}

impl Continent {
    /// Customers are drawn mostly from the US and Europe, like the card
    /// portfolios of the banks this detector is written for.
    pub(super) fn home_bias(self, country: &str) -> f64 {
        match (self, country) {
            (_, "US") => 3.0,
            (Continent::NorthAmerica, _) | (Continent::Europe, _) => 2.0,
            _ => 0.5,
        }
    }
}

const NA: Continent = Continent::NorthAmerica;
const SA: Continent = Continent::SouthAmerica;
const EU: Continent = Continent::Europe;
const AF: Continent = Continent::Africa;
const AS: Continent = Continent::Asia;
const OC: Continent = Continent::Oceania;

/// A city as written in transactions (the way the gazetteer resolves it),
/// the country it must resolve to, and its continent. A name that resolves
/// elsewhere (another Birmingham) is dropped at start rather than trusted.
pub(super) const CITIES: &[(&str, &str, Continent)] = &[
    ("New York, NY", "US", NA),
    ("Los Angeles, CA", "US", NA),
    ("Chicago, IL", "US", NA),
    ("Houston, TX", "US", NA),
    ("Phoenix, AZ", "US", NA),
    ("Philadelphia, PA", "US", NA),
    ("San Antonio, TX", "US", NA),
    ("San Diego, CA", "US", NA),
    ("Dallas, TX", "US", NA),
    ("San Jose, CA", "US", NA),
    ("Austin, TX", "US", NA),
    ("Jacksonville, FL", "US", NA),
    ("Columbus, OH", "US", NA),
    ("Charlotte, NC", "US", NA),
    ("San Francisco, CA", "US", NA),
    ("Indianapolis, IN", "US", NA),
    ("Seattle, WA", "US", NA),
    ("Denver, CO", "US", NA),
    ("Washington, DC", "US", NA),
    ("Boston, MA", "US", NA),
    ("Nashville, TN", "US", NA),
    ("Detroit, MI", "US", NA),
    ("Portland, OR", "US", NA),
    ("Las Vegas, NV", "US", NA),
    ("Memphis, TN", "US", NA),
    ("Louisville, KY", "US", NA),
    ("Baltimore, MD", "US", NA),
    ("Milwaukee, WI", "US", NA),
    ("Albuquerque, NM", "US", NA),
    ("Tucson, AZ", "US", NA),
    ("Sacramento, CA", "US", NA),
    ("Kansas City, MO", "US", NA),
    ("Atlanta, GA", "US", NA),
    ("Miami, FL", "US", NA),
    ("Minneapolis, MN", "US", NA),
    ("Tampa, FL", "US", NA),
    ("New Orleans, LA", "US", NA),
    ("Cleveland, OH", "US", NA),
    ("Pittsburgh, PA", "US", NA),
    ("St. Louis, MO", "US", NA),
    ("Cincinnati, OH", "US", NA),
    ("Orlando, FL", "US", NA),
    ("Salt Lake City, UT", "US", NA),
    ("Raleigh, NC", "US", NA),
    ("Honolulu, HI", "US", NA),
    ("Anchorage, AK", "US", NA),
    ("Toronto, ON", "CA", NA),
    ("Montreal, QC", "CA", NA),
    ("Vancouver, BC", "CA", NA),
    ("Calgary, AB", "CA", NA),
    ("Ottawa, ON", "CA", NA),
    ("Edmonton, AB", "CA", NA),
    ("Mexico City, Mexico", "MX", NA),
    ("Guadalajara, Mexico", "MX", NA),
    ("Monterrey, Mexico", "MX", NA),
    ("London, UK", "GB", EU),
    ("Manchester, UK", "GB", EU),
    ("Birmingham, UK", "GB", EU),
    ("Glasgow, UK", "GB", EU),
    ("Edinburgh, UK", "GB", EU),
    ("Dublin, Ireland", "IE", EU),
    ("Paris, France", "FR", EU),
    ("Lyon, France", "FR", EU),
    ("Marseille, France", "FR", EU),
    ("Toulouse, France", "FR", EU),
    ("Nice, France", "FR", EU),
    ("Berlin, Germany", "DE", EU),
    ("Hamburg, Germany", "DE", EU),
    ("Munich, Germany", "DE", EU),
    ("Cologne, Germany", "DE", EU),
    ("Frankfurt, Germany", "DE", EU),
    ("Stuttgart, Germany", "DE", EU),
    ("Madrid, Spain", "ES", EU),
    ("Barcelona, Spain", "ES", EU),
    ("Valencia, Spain", "ES", EU),
    ("Seville, Spain", "ES", EU),
    ("Lisbon, Portugal", "PT", EU),
    ("Porto, Portugal", "PT", EU),
    ("Rome, Italy", "IT", EU),
    ("Milan, Italy", "IT", EU),
    ("Naples, Italy", "IT", EU),
    ("Turin, Italy", "IT", EU),
    ("Amsterdam, Netherlands", "NL", EU),
    ("Rotterdam, Netherlands", "NL", EU),
    ("Brussels, Belgium", "BE", EU),
    ("Antwerp, Belgium", "BE", EU),
    ("Zurich, Switzerland", "CH", EU),
    ("Geneva, Switzerland", "CH", EU),
    ("Vienna, Austria", "AT", EU),
    ("Prague, Czech Republic", "CZ", EU),
    ("Warsaw, Poland", "PL", EU),
    ("Krakow, Poland", "PL", EU),
    ("Budapest, Hungary", "HU", EU),
    ("Copenhagen, Denmark", "DK", EU),
    ("Stockholm, Sweden", "SE", EU),
    ("Gothenburg, Sweden", "SE", EU),
    ("Oslo, Norway", "NO", EU),
    ("Helsinki, Finland", "FI", EU),
    ("Athens, Greece", "GR", EU),
    ("Bucharest, Romania", "RO", EU),
    ("Sofia, Bulgaria", "BG", EU),
    ("Zagreb, Croatia", "HR", EU),
    ("Belgrade, Serbia", "RS", EU),
    ("Istanbul, Turkey", "TR", EU),
    ("Kyiv, Ukraine", "UA", EU),
    ("Moscow, Russia", "RU", EU),
    ("Saint Petersburg, Russia", "RU", EU),
    ("Tokyo, Japan", "JP", AS),
    ("Osaka, Japan", "JP", AS),
    ("Seoul, South Korea", "KR", AS),
    ("Beijing, China", "CN", AS),
    ("Shanghai, China", "CN", AS),
    ("Shenzhen, China", "CN", AS),
    ("Hong Kong, Hong Kong", "HK", AS),
    ("Taipei, Taiwan", "TW", AS),
    ("Singapore, Singapore", "SG", AS),
    ("Bangkok, Thailand", "TH", AS),
    ("Kuala Lumpur, Malaysia", "MY", AS),
    ("Jakarta, Indonesia", "ID", AS),
    ("Manila, Philippines", "PH", AS),
    ("Ho Chi Minh City, Vietnam", "VN", AS),
    ("Hanoi, Vietnam", "VN", AS),
    ("Mumbai, India", "IN", AS),
    ("New Delhi, India", "IN", AS),
    ("Bangalore, India", "IN", AS),
    ("Chennai, India", "IN", AS),
    ("Karachi, Pakistan", "PK", AS),
    ("Dhaka, Bangladesh", "BD", AS),
    ("Dubai, United Arab Emirates", "AE", AS),
    ("Abu Dhabi, United Arab Emirates", "AE", AS),
    ("Riyadh, Saudi Arabia", "SA", AS),
    ("Doha, Qatar", "QA", AS),
    ("Tel Aviv, Israel", "IL", AS),
    ("Sydney, Australia", "AU", OC),
    ("Melbourne, Australia", "AU", OC),
    ("Brisbane, Australia", "AU", OC),
    ("Perth, Australia", "AU", OC),
    ("Auckland, New Zealand", "NZ", OC),
    ("Sao Paulo, Brazil", "BR", SA),
    ("Rio de Janeiro, Brazil", "BR", SA),
    ("Buenos Aires, Argentina", "AR", SA),
    ("Santiago, Chile", "CL", SA),
    ("Lima, Peru", "PE", SA),
    ("Bogota, Colombia", "CO", SA),
    ("Lagos, Nigeria", "NG", AF),
    ("Cairo, Egypt", "EG", AF),
    ("Johannesburg, South Africa", "ZA", AF),
    ("Cape Town, South Africa", "ZA", AF),
    ("Nairobi, Kenya", "KE", AF),
    ("Casablanca, Morocco", "MA", AF),
    ("Accra, Ghana", "GH", AF),
    ("Addis Ababa, Ethiopia", "ET", AF),
];

/// ISO 4217 currency of an ISO alpha-2 country; USD where unknown (the
/// detector compares amounts without converting, so this is only a label).
pub(super) fn currency_of(country: &str) -> &'static str {
    match country {
        "CA" => "CAD",
        "MX" => "MXN",
        "GB" => "GBP",
        "IE" | "FR" | "DE" | "ES" | "PT" | "IT" | "NL" | "BE" | "AT" | "FI" | "GR" | "HR" => "EUR",
        "CH" => "CHF",
        "CZ" => "CZK",
        "PL" => "PLN",
        "HU" => "HUF",
        "DK" => "DKK",
        "SE" => "SEK",
        "NO" => "NOK",
        "RO" => "RON",
        "BG" => "BGN",
        "RS" => "RSD",
        "TR" => "TRY",
        "UA" => "UAH",
        "RU" => "RUB",
        "JP" => "JPY",
        "KR" => "KRW",
        "CN" => "CNY",
        "HK" => "HKD",
        "TW" => "TWD",
        "SG" => "SGD",
        "TH" => "THB",
        "MY" => "MYR",
        "ID" => "IDR",
        "PH" => "PHP",
        "VN" => "VND",
        "IN" => "INR",
        "PK" => "PKR",
        "BD" => "BDT",
        "AE" => "AED",
        "SA" => "SAR",
        "QA" => "QAR",
        "IL" => "ILS",
        "AU" => "AUD",
        "NZ" => "NZD",
        "BR" => "BRL",
        "AR" => "ARS",
        "CL" => "CLP",
        "PE" => "PEN",
        "CO" => "COP",
        "NG" => "NGN",
        "EG" => "EGP",
        "ZA" => "ZAR",
        "KE" => "KES",
        "MA" => "MAD",
        "GH" => "GHS",
        "ET" => "ETB",
        _ => "USD",
    }
}

/// Where a category's purchases happen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Sold {
    InStore,
    Online,
    /// In store or online; the share online.
    Both(f64),
    /// Cash from an ATM.
    Atm,
}

impl Sold {
    pub(super) fn in_store_share(self) -> f64 {
        match self {
            Sold::InStore | Sold::Atm => 1.0,
            Sold::Online => 0.0,
            Sold::Both(online) => 1.0 - online,
        }
    }
}

/// How a category's amounts are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Pricing {
    /// The customer's typical amount times this factor, log-normally spread.
    Relative(f64),
    /// A fixed range whoever pays: transit fares.
    Fare(f64, f64),
    /// Multiples of 20, around the customer's typical amount times this.
    Cash(f64),
}

pub(super) struct Category {
    pub name: &'static str,
    pub mcc: &'static str,
    pub sold: Sold,
    pub pricing: Pricing,
    /// Relative share of an ordinary customer's purchases (0: only the
    /// customers given a taste for it, or only fraud).
    pub base_weight: f64,
    pub brands: &'static [&'static str],
}

pub(super) const GROCERIES: usize = 0;
pub(super) const RESTAURANTS: usize = 1;
pub(super) const FAST_FOOD: usize = 2;
pub(super) const GAS: usize = 3;
pub(super) const PHARMACY: usize = 4;
pub(super) const CLOTHING: usize = 5;
pub(super) const ECOMMERCE: usize = 6;
pub(super) const ELECTRONICS: usize = 7;
pub(super) const TRAVEL: usize = 8;
pub(super) const DIGITAL_GOODS: usize = 9;
pub(super) const TRANSIT: usize = 10;
pub(super) const JEWELRY: usize = 11;
pub(super) const CASH: usize = 12;
pub(super) const CRYPTOCURRENCY: usize = 13;
pub(super) const GAMBLING: usize = 14;
pub(super) const MONEY_TRANSFER: usize = 15;
pub(super) const GIFT_CARDS: usize = 16;
pub(super) const DONATIONS: usize = 17;
pub(super) const CATEGORY_COUNT: usize = 18;

/// Indexed by the constants above.
pub(super) const CATEGORIES: [Category; CATEGORY_COUNT] = [
    Category {
        name: "Groceries",
        mcc: "5411",
        sold: Sold::InStore,
        pricing: Pricing::Relative(0.9),
        base_weight: 22.0,
        brands: &["FreshMart", "Green Basket", "Daily Market", "Harvest Foods"],
    },
    Category {
        name: "Restaurants",
        mcc: "5812",
        sold: Sold::InStore,
        pricing: Pricing::Relative(0.8),
        base_weight: 14.0,
        brands: &[
            "The Local Grill",
            "Trattoria Roma",
            "Golden Dragon",
            "Sakura Sushi",
        ],
    },
    Category {
        name: "Fast Food",
        mcc: "5814",
        sold: Sold::InStore,
        pricing: Pricing::Relative(0.2),
        base_weight: 14.0,
        brands: &[
            "Quick Bite",
            "Burger Stop",
            "Bean There Coffee",
            "Taco Corner",
        ],
    },
    Category {
        name: "Gas",
        mcc: "5541",
        sold: Sold::InStore,
        pricing: Pricing::Relative(0.8),
        base_weight: 9.0,
        brands: &["Metro Fuel", "Highway Gas", "PetroPoint"],
    },
    Category {
        name: "Pharmacy",
        mcc: "5912",
        sold: Sold::InStore,
        pricing: Pricing::Relative(0.5),
        base_weight: 4.0,
        brands: &["HealthPlus Pharmacy", "CarePoint Pharmacy"],
    },
    Category {
        name: "Clothing",
        mcc: "5651",
        sold: Sold::Both(0.4),
        pricing: Pricing::Relative(1.3),
        base_weight: 5.0,
        brands: &["Urban Threads", "Denim & Co", "Style Avenue"],
    },
    Category {
        name: "E-commerce",
        mcc: "5999",
        sold: Sold::Online,
        pricing: Pricing::Relative(0.9),
        base_weight: 14.0,
        brands: &[
            "ShopNow",
            "MegaMart Online",
            "QuickCart",
            "Parcelo",
            "BuyMore Online",
        ],
    },
    Category {
        name: "Electronics",
        mcc: "5732",
        sold: Sold::Both(0.5),
        pricing: Pricing::Relative(3.0),
        base_weight: 2.0,
        brands: &["TechWorld", "Gadget Hub", "ByteStore"],
    },
    Category {
        name: "Travel",
        mcc: "4722",
        sold: Sold::Online,
        pricing: Pricing::Relative(5.0),
        base_weight: 1.2,
        brands: &[
            "FlyAway Travel",
            "GlobeTrotter",
            "SkyBooker",
            "StayNow Hotels",
        ],
    },
    Category {
        name: "Digital Goods",
        mcc: "5815",
        sold: Sold::Online,
        pricing: Pricing::Relative(0.25),
        base_weight: 5.0,
        brands: &["StreamBox", "TuneCloud", "AppVault", "PixelPlay"],
    },
    Category {
        name: "Transit",
        mcc: "4111",
        sold: Sold::InStore,
        pricing: Pricing::Fare(1.5, 4.5),
        base_weight: 0.0,
        brands: &["Metro Transit"],
    },
    Category {
        name: "Jewelry",
        mcc: "5944",
        sold: Sold::InStore,
        pricing: Pricing::Relative(5.0),
        base_weight: 0.3,
        brands: &["Golden Touch Jewelers", "Diamond Lane"],
    },
    Category {
        name: "Cash Withdrawal",
        mcc: "6011",
        sold: Sold::Atm,
        pricing: Pricing::Cash(1.5),
        base_weight: 4.0,
        brands: &[
            "First National ATM",
            "Union Savings ATM",
            "Citywide Bank ATM",
        ],
    },
    Category {
        name: "Cryptocurrency",
        mcc: "6051",
        sold: Sold::Online,
        pricing: Pricing::Relative(2.0),
        base_weight: 0.0,
        brands: &["CoinVault", "CryptoNest Exchange", "BitHarbor"],
    },
    Category {
        name: "Gambling",
        mcc: "7995",
        sold: Sold::Online,
        pricing: Pricing::Relative(1.0),
        base_weight: 0.0,
        brands: &["LuckySpin Casino", "BetRoyal", "PokerPeak"],
    },
    Category {
        name: "Money Transfer",
        mcc: "4829",
        sold: Sold::Online,
        pricing: Pricing::Relative(3.0),
        base_weight: 0.0,
        brands: &["SwiftSend", "GlobalRemit", "PayBridge Transfer"],
    },
    Category {
        name: "Gift Cards",
        mcc: "5947",
        sold: Sold::Online,
        pricing: Pricing::Relative(1.0),
        base_weight: 0.3,
        brands: &["CardDepot Gifts", "eGift Express"],
    },
    Category {
        name: "Donations",
        mcc: "8398",
        sold: Sold::Online,
        pricing: Pricing::Relative(0.4),
        base_weight: 0.3,
        brands: &["Hope Foundation", "GreenEarth Fund"],
    },
];

/// Where the high-risk-merchant scenario spends.
pub(super) const HIGH_RISK: [usize; 3] = [CRYPTOCURRENCY, GAMBLING, MONEY_TRANSFER];
