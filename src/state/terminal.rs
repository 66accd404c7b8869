//! Per-terminal risk: transactions and confirmed frauds per day, read with a
//! feedback delay, as the Fraud Detection Handbook's terminal risk features.
//!
//! Frauds are only known once labels arrive, so the risk for a window of `w`
//! days skips the last `delay` days, whose labels are mostly still missing.

use super::time::Secs;
use serde::{Deserialize, Serialize};

const DAY_SECS: Secs = 86_400;
/// Days kept per terminal: the longest window (30) plus the longest delay.
pub const TERMINAL_DAYS: u32 = 40;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TerminalState {
    newest_day: u32,
    transactions: Vec<u16>,
    frauds: Vec<u16>,
}

impl Default for TerminalState {
    fn default() -> Self {
        TerminalState {
            newest_day: 0,
            transactions: vec![0; TERMINAL_DAYS as usize],
            frauds: vec![0; TERMINAL_DAYS as usize],
        }
    }
}

/// A terminal's record over one delayed window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TerminalRisk {
    pub transactions: u32,
    pub frauds: u32,
}

impl TerminalRisk {
    pub fn fraud_rate(&self) -> f64 {
        if self.transactions == 0 {
            0.0
        } else {
            self.frauds as f64 / self.transactions as f64
        }
    }
}

impl TerminalState {
    pub fn add_transaction(&mut self, at: Secs) {
        if let Some(slot) = self.slot_for(at / DAY_SECS) {
            self.transactions[slot] = self.transactions[slot].saturating_add(1);
        }
    }

    /// Counts a confirmed fraud on the day of the transaction. False when that
    /// day is older than the terminal's history.
    pub fn add_fraud(&mut self, transaction_at: Secs) -> bool {
        match self.slot_for(transaction_at / DAY_SECS) {
            Some(slot) => {
                self.frauds[slot] = self.frauds[slot].saturating_add(1);
                true
            }
            None => false,
        }
    }

    /// Days (today - delay - window, today - delay].
    pub fn risk(&self, at: Secs, delay_days: u32, window_days: u32) -> TerminalRisk {
        let today = at / DAY_SECS;
        let last = today.saturating_sub(delay_days).min(self.newest_day);
        let first = (today.saturating_sub(delay_days + window_days) + 1)
            .max((self.newest_day + 1).saturating_sub(TERMINAL_DAYS));
        let mut risk = TerminalRisk::default();
        for day in first..=last {
            let slot = (day % TERMINAL_DAYS) as usize;
            risk.transactions += self.transactions[slot] as u32;
            risk.frauds += self.frauds[slot] as u32;
        }
        risk
    }

    /// The 1, 7 and 30-day delayed windows in one pass over the days.
    pub fn risks(&self, at: Secs, delay_days: u32) -> [TerminalRisk; 3] {
        let newest = (at / DAY_SECS).saturating_sub(delay_days);
        let mut running = TerminalRisk::default();
        let mut risks = [TerminalRisk::default(); 3];
        for age in 0..30u32 {
            if let Some(slot) = newest.checked_sub(age).and_then(|day| self.held_slot(day)) {
                running.transactions += self.transactions[slot] as u32;
                running.frauds += self.frauds[slot] as u32;
            }
            match age {
                0 => risks[0] = running,
                6 => risks[1] = running,
                29 => risks[2] = running,
                _ => {}
            }
        }
        risks
    }

    /// The slot of `day` if the ring still holds it.
    fn held_slot(&self, day: u32) -> Option<usize> {
        let held = day <= self.newest_day && day + TERMINAL_DAYS > self.newest_day;
        held.then_some((day % TERMINAL_DAYS) as usize)
    }

    pub fn newest_day(&self) -> u32 {
        self.newest_day
    }

    /// The ring slot for `day`, moving the ring forward if needed; None if too old.
    fn slot_for(&mut self, day: u32) -> Option<usize> {
        if day > self.newest_day {
            let steps = (day - self.newest_day).min(TERMINAL_DAYS);
            for step in 1..=steps {
                let slot = ((self.newest_day + step) % TERMINAL_DAYS) as usize;
                self.transactions[slot] = 0;
                self.frauds[slot] = 0;
            }
            self.newest_day = day;
        }
        (day + TERMINAL_DAYS > self.newest_day).then_some((day % TERMINAL_DAYS) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_skips_the_feedback_delay() {
        let mut terminal = TerminalState::default();
        let day = |n: u32| 10_000 * DAY_SECS + n * DAY_SECS + 3_600;
        for n in 0..20 {
            terminal.add_transaction(day(n));
            terminal.add_transaction(day(n));
        }
        assert!(terminal.add_fraud(day(10)));
        // On day 19 with a 7-day delay, the 7-day window is days 6..=12.
        let risk = terminal.risk(day(19), 7, 7);
        assert_eq!(
            risk,
            TerminalRisk {
                transactions: 14,
                frauds: 1
            }
        );
        // The fraud on day 10 is inside the delay for day 16's 1-day window (day 9).
        assert_eq!(terminal.risk(day(16), 7, 1).frauds, 0);
        assert_eq!(terminal.risk(day(17), 7, 1).frauds, 1);
        assert!(!terminal.add_fraud(day(0) - 100 * DAY_SECS));
        for at in [day(9), day(16), day(17), day(19), day(30), day(45)] {
            let one_pass = terminal.risks(at, 7);
            assert_eq!(
                one_pass,
                [1, 7, 30].map(|days| terminal.risk(at, 7, days)),
                "{at}"
            );
        }
    }
}
