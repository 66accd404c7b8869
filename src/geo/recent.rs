//! The place names this thread resolved lately. A stream repeats a few
//! hundred names, and resolving one walks several hash tables that other
//! work keeps evicting from the cache (7 % of the Kafka loop's CPU in
//! `perf`); a hit here is one hash and one short compare.
//!
//! Per thread, so that workers never contend on it; keyed by the
//! gazetteer's id, so that two gazetteers never share answers.

use super::gazetteer::Place;
use std::cell::RefCell;
use xxhash_rust::xxh3::xxh3_64;

/// Slots per thread (direct-mapped), 80 bytes each.
const SLOTS: usize = 1024;
/// Longer names are resolved every time.
const LONGEST_CACHED: usize = 46;

#[derive(Clone, Copy)]
struct Slot {
    /// 0: empty (the empty name is never looked up).
    len: u8,
    name: [u8; LONGEST_CACHED],
    place: Option<Place>,
}

const EMPTY: Slot = Slot {
    len: 0,
    name: [0; LONGEST_CACHED],
    place: None,
};

struct RecentPlaces {
    gazetteer: u64,
    slots: Box<[Slot]>,
}

thread_local! {
    static RECENT: RefCell<RecentPlaces> = RefCell::new(RecentPlaces {
        gazetteer: 0,
        slots: vec![EMPTY; SLOTS].into_boxed_slice(),
    });
}

/// `resolve(name)`, answered from this thread's recent names when it can.
/// Unresolved names are remembered too: their `None` is as costly to find.
pub(crate) fn remembered(
    gazetteer: u64,
    name: &str,
    resolve: impl FnOnce(&str) -> Option<Place>,
) -> Option<Place> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > LONGEST_CACHED {
        return resolve(name);
    }
    let index = (xxh3_64(bytes) as usize) % SLOTS;
    let hit = RECENT.with_borrow_mut(|recent| {
        if recent.gazetteer != gazetteer {
            recent.slots.fill(EMPTY);
            recent.gazetteer = gazetteer;
        }
        let slot = &recent.slots[index];
        (usize::from(slot.len) == bytes.len() && &slot.name[..bytes.len()] == bytes)
            .then_some(slot.place)
    });
    if let Some(place) = hit {
        return place;
    }
    let place = resolve(name);
    RECENT.with_borrow_mut(|recent| {
        if recent.gazetteer == gazetteer {
            let slot = &mut recent.slots[index];
            slot.len = bytes.len() as u8;
            slot.name[..bytes.len()].copy_from_slice(bytes);
            slot.place = place;
        }
    });
    place
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn place(latitude: f64) -> Option<Place> {
        Some(Place {
            latitude,
            longitude: 0.0,
            country: *b"FR",
            population: 1,
        })
    }

    #[test]
    fn a_name_is_resolved_once_then_answered_from_memory() {
        let calls = Cell::new(0);
        let resolve = |_: &str| {
            calls.set(calls.get() + 1);
            place(48.85)
        };
        assert_eq!(remembered(901, "Paris, France", resolve), place(48.85));
        assert_eq!(remembered(901, "Paris, France", resolve), place(48.85));
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn unknown_names_are_remembered_and_other_names_never_share_an_answer() {
        let calls = Cell::new(0);
        let unknown = |_: &str| {
            calls.set(calls.get() + 1);
            None
        };
        assert_eq!(remembered(902, "Atlantis", unknown), None);
        assert_eq!(remembered(902, "Atlantis", unknown), None);
        assert_eq!(calls.get(), 1);
        // Every other name, whatever slot it maps to, gets its own answer.
        for n in 0..3 * SLOTS {
            let name = format!("City {n}");
            let answer = remembered(902, &name, |_| place(n as f64));
            assert_eq!(answer, place(n as f64), "{name}");
        }
    }

    #[test]
    fn another_gazetteer_and_long_names_are_resolved_afresh() {
        assert_eq!(remembered(903, "Lyon", |_| place(45.7)), place(45.7));
        assert_eq!(remembered(904, "Lyon", |_| place(1.0)), place(1.0));
        let long = "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch, UK";
        let calls = Cell::new(0);
        for _ in 0..2 {
            remembered(904, long, |_| {
                calls.set(calls.get() + 1);
                place(53.2)
            });
        }
        assert_eq!(calls.get(), 2);
    }
}
