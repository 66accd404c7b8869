//! Tiny fixed-capacity sets of fingerprints with the times they were seen.
//!
//! They hold the handful of devices, IPs, merchants or countries a customer
//! uses; when full, the least recently seen entry makes room. Fixed arrays
//! keep a customer's state in one small allocation.

use super::time::Secs;
use serde::{Deserialize, Serialize};

/// A fingerprint with its first and last sighting; `last == 0` marks a free slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sighting {
    pub id: u32,
    pub first: Secs,
    pub last: Secs,
}

/// A fingerprint with its last sighting only, for sets that just count recent entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastSeen {
    pub id: u32,
    pub last: Secs,
}

/// What a set slot must offer; `last() == 0` marks a free slot.
pub trait Slot: Copy + Default {
    fn new(id: u32, at: Secs) -> Self;
    fn id(&self) -> u32;
    fn first(&self) -> Secs;
    fn last(&self) -> Secs;
    fn seen_again(&mut self, at: Secs);
}

impl Slot for Sighting {
    fn new(id: u32, at: Secs) -> Self {
        Sighting {
            id,
            first: at,
            last: at,
        }
    }
    fn id(&self) -> u32 {
        self.id
    }
    fn first(&self) -> Secs {
        self.first
    }
    fn last(&self) -> Secs {
        self.last
    }
    fn seen_again(&mut self, at: Secs) {
        self.first = self.first.min(at);
        self.last = self.last.max(at);
    }
}

impl Slot for LastSeen {
    fn new(id: u32, at: Secs) -> Self {
        LastSeen { id, last: at }
    }
    fn id(&self) -> u32 {
        self.id
    }
    /// Not tracked: the last sighting stands in.
    fn first(&self) -> Secs {
        self.last
    }
    fn last(&self) -> Secs {
        self.last
    }
    fn seen_again(&mut self, at: Secs) {
        self.last = self.last.max(at);
    }
}

/// What the set knew of an id before this sighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    New,
    Known { first: Secs, last: Secs },
}

/// Devices and IPs: when each was first and last seen.
pub type SightingSet<const N: usize> = SlotSet<Sighting, N>;
/// Merchants and countries: only whether they were seen recently.
pub type RecentSet<const N: usize> = SlotSet<LastSeen, N>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "Vec<S>",
    into = "Vec<S>",
    bound(
        serialize = "S: Serialize + Clone",
        deserialize = "S: Deserialize<'de>"
    )
)]
pub struct SlotSet<S: Slot, const N: usize> {
    slots: [S; N],
}

impl<S: Slot, const N: usize> Default for SlotSet<S, N> {
    fn default() -> Self {
        SlotSet {
            slots: [S::default(); N],
        }
    }
}

impl<S: Slot, const N: usize> SlotSet<S, N> {
    pub fn lookup(&self, id: u32) -> Seen {
        self.slots
            .iter()
            .find(|slot| slot.last() != 0 && slot.id() == id)
            .map_or(Seen::New, |slot| Seen::Known {
                first: slot.first(),
                last: slot.last(),
            })
    }

    /// Records a sighting at `at` (which may be out of order).
    pub fn observe(&mut self, id: u32, at: Secs) {
        let at = at.max(1);
        let known = self
            .slots
            .iter_mut()
            .find(|slot| slot.last() != 0 && slot.id() == id);
        if let Some(slot) = known {
            slot.seen_again(at);
            return;
        }
        if let Some(stalest) = self.slots.iter_mut().min_by_key(|slot| slot.last()) {
            *stalest = S::new(id, at);
        }
    }

    /// Entries seen at or after `since`.
    pub fn count_since(&self, since: Secs) -> u32 {
        self.slots
            .iter()
            .filter(|slot| slot.last() != 0 && slot.last() >= since)
            .count() as u32
    }

    pub fn len(&self) -> u32 {
        self.count_since(1)
    }

    /// The occupied slots, for views of the state (the analyst console).
    pub fn entries(&self) -> impl Iterator<Item = &S> {
        self.slots.iter().filter(|slot| slot.last() != 0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets entries last seen before `cutoff`.
    pub fn forget_before(&mut self, cutoff: Secs) {
        for slot in &mut self.slots {
            if slot.last() < cutoff {
                *slot = S::default();
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &S> {
        self.slots.iter().filter(|slot| slot.last() != 0)
    }
}

impl<S: Slot, const N: usize> From<SlotSet<S, N>> for Vec<S> {
    fn from(set: SlotSet<S, N>) -> Vec<S> {
        set.iter().copied().collect()
    }
}

impl<S: Slot, const N: usize> TryFrom<Vec<S>> for SlotSet<S, N> {
    type Error = String;

    fn try_from(sightings: Vec<S>) -> Result<Self, String> {
        if sightings.len() > N {
            return Err(format!(
                "{} sightings do not fit a set of {N}",
                sightings.len()
            ));
        }
        let mut set = SlotSet::default();
        set.slots[..sightings.len()].copy_from_slice(&sightings);
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_seen() {
        let mut set = SightingSet::<2>::default();
        set.observe(1, 100);
        set.observe(2, 200);
        set.observe(1, 300);
        set.observe(3, 400);
        assert_eq!(
            set.lookup(1),
            Seen::Known {
                first: 100,
                last: 300
            }
        );
        assert_eq!(set.lookup(2), Seen::New);
        assert_eq!(set.count_since(350), 1);
    }

    #[test]
    fn out_of_order_sightings_widen_first_and_last() {
        let mut set = SightingSet::<3>::default();
        set.observe(7, 500);
        set.observe(7, 450);
        assert_eq!(
            set.lookup(7),
            Seen::Known {
                first: 450,
                last: 500
            }
        );
    }

    #[test]
    fn survives_serde() {
        let mut set = SightingSet::<3>::default();
        set.observe(9, 10);
        let bytes = bincode::serialize(&set).unwrap();
        assert_eq!(bincode::deserialize::<SightingSet<3>>(&bytes).unwrap(), set);
        let too_many = vec![
            Sighting {
                id: 1,
                first: 1,
                last: 1
            };
            4
        ];
        assert!(SightingSet::<3>::try_from(too_many).is_err());
    }
}
