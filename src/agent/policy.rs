//! Which decisions go to the agent, and how far its verdict may move them.
//! The agent may always raise; it may lower only within the topology's
//! bounds, and never a hard-rule BLOCK.

use super::config::{BoundsConfig, EscalateConfig};
use crate::domain::{Action, Decision};

pub fn should_escalate(escalate: &EscalateConfig, decision: &Decision) -> bool {
    escalates(escalate, decision.action, decision.risk_score)
}

/// As [`should_escalate`], for an action and score before the decision exists.
pub fn escalates(escalate: &EscalateConfig, action: Action, score: i32) -> bool {
    if escalate.actions.contains(&action) {
        return true;
    }
    match (escalate.risk_min, escalate.risk_max) {
        (None, None) => false,
        (min, max) => min.is_none_or(|min| score >= min) && max.is_none_or(|max| score <= max),
    }
}

fn level(action: Action) -> u8 {
    match action {
        Action::Approve => 0,
        Action::Review => 1,
        Action::Block => 2,
    }
}

/// The action that stands once the agent proposed `proposed`.
pub fn bounded(
    engine: Action,
    hard_block: bool,
    proposed: Action,
    bounds: &BoundsConfig,
) -> Action {
    if level(proposed) >= level(engine) {
        return proposed;
    }
    if hard_block {
        return engine;
    }
    let lowest = level(engine).saturating_sub(bounds.max_lower_steps);
    let floor = if engine == Action::Block {
        lowest.max(level(bounds.block_floor)).max(1)
    } else {
        lowest
    };
    let allowed = level(proposed).max(floor);
    Action::ALL[allowed as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::{Approve, Block, Review};

    fn bounds(steps: u8, floor: Action) -> BoundsConfig {
        BoundsConfig {
            max_lower_steps: steps,
            block_floor: floor,
        }
    }

    #[test]
    fn raising_is_always_allowed() {
        assert_eq!(bounded(Approve, false, Block, &bounds(0, Review)), Block);
        assert_eq!(bounded(Review, false, Block, &bounds(0, Review)), Block);
    }

    #[test]
    fn a_hard_block_never_moves() {
        for proposed in Action::ALL {
            assert_eq!(bounded(Block, true, proposed, &bounds(2, Review)), Block);
        }
    }

    #[test]
    fn lowering_stays_within_steps_and_a_block_never_reaches_approve() {
        assert_eq!(bounded(Block, false, Approve, &bounds(2, Review)), Review);
        assert_eq!(bounded(Block, false, Approve, &bounds(2, Approve)), Review);
        assert_eq!(bounded(Block, false, Review, &bounds(0, Review)), Block);
        assert_eq!(bounded(Block, false, Review, &bounds(1, Review)), Review);
        assert_eq!(bounded(Review, false, Approve, &bounds(1, Review)), Approve);
        assert_eq!(bounded(Review, false, Approve, &bounds(0, Review)), Review);
    }

    fn sample() -> Decision {
        Decision {
            decision_id: "dec-T".into(),
            transaction_id: "T".into(),
            customer_id: "C".into(),
            action: Approve,
            risk_score: 0,
            reasons: Vec::new(),
            amount: 1.0,
            currency: None,
            event_time: 0,
            time_source: crate::domain::TimeSource::Event,
            late: false,
            decided_at: 0,
            latency_us: 0,
            rules_version: "v".into(),
            model_score: None,
            model_version: None,
            model_risk: None,
            model_contributions: Vec::new(),
            shadow_score: None,
            shadow_version: None,
            agent: None,
        }
    }

    #[test]
    fn escalates_listed_actions_and_the_risk_band() {
        let escalate = EscalateConfig {
            actions: vec![Block],
            risk_min: Some(40),
            risk_max: Some(79),
        };
        let decision = |action, risk_score| Decision {
            action,
            risk_score,
            ..sample()
        };
        assert!(should_escalate(&escalate, &decision(Block, 100)));
        assert!(should_escalate(&escalate, &decision(Review, 45)));
        assert!(!should_escalate(&escalate, &decision(Approve, 20)));
        assert!(!should_escalate(&escalate, &decision(Review, 80)));
    }
}
