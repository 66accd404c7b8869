"""Scores the detector's own decisions against the generator's ground truth.

    python3 training/evaluate_decisions.py DECISIONS.jsonl TRUTH.csv [--days 7]

Reads what serving wrote (no re-implementation of any score): rules only is
the decision's reason points (capped at 100), model only is `model_score`,
combined is the decision's `risk_score` (model score breaking ties). Reports
AUC ROC, average precision and precision@100 per day over the last `--days`
days of event time. Standard library only.
"""

import argparse
import csv
import json
from datetime import datetime


def auc_roc(scores, labels):
    pairs = sorted(zip(scores, labels))
    positives = sum(labels)
    negatives = len(labels) - positives
    rank_sum, index = 0.0, 0
    while index < len(pairs):
        end = index
        while end < len(pairs) and pairs[end][0] == pairs[index][0]:
            end += 1
        average_rank = (index + 1 + end) / 2.0
        rank_sum += average_rank * sum(label for _, label in pairs[index:end])
        index = end
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def average_precision(scores, labels):
    pairs = sorted(zip(scores, labels), key=lambda pair: -pair[0])
    positives = sum(labels)
    hits, total, index = 0, 0.0, 0
    while index < len(pairs):
        end = index
        while end < len(pairs) and pairs[end][0] == pairs[index][0]:
            end += 1
        group_hits = sum(label for _, label in pairs[index:end])
        hits += group_hits
        total += group_hits * hits / end
        index = end
    return total / positives


def precision_at_k(scores, labels, k=100):
    pairs = sorted(zip(scores, labels), key=lambda pair: -pair[0])[:k]
    return sum(label for _, label in pairs) / max(len(pairs), 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("decisions")
    parser.add_argument("truth")
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    frauds = {row["transaction_id"] for row in csv.DictReader(open(args.truth))}
    rows = []
    for line in open(args.decisions):
        decision = json.loads(line)
        event = datetime.fromisoformat(decision["event_time"].replace("Z", "+00:00")).timestamp()
        rules = min(100, max(0, sum(reason["points"] for reason in decision["reasons"])))
        model = decision.get("model_score")
        combined = decision["risk_score"] + (model or 0.0) * 0.999
        rows.append((event, decision["transaction_id"] in frauds, rules, model, combined))
    end = max(row[0] for row in rows)
    test = [row for row in rows if row[0] > end - args.days * 86400]
    labels = [int(row[1]) for row in test]
    print(f"{len(test)} decisions in the last {args.days} days, {sum(labels)} frauds")
    scorers = {"rules only": 2, "model only": 3, "combined (risk_score)": 4}
    for name, column in scorers.items():
        scores = [row[column] for row in test]
        if any(score is None for score in scores):
            print(f"{name:24} (no model scores in these decisions)")
            continue
        days = {}
        for row, score in zip(test, scores):
            days.setdefault(int((end - row[0]) // 86400), []).append((score, int(row[1])))
        p100 = [precision_at_k(*zip(*day)) for day in days.values()]
        print(
            f"{name:24} AUC {auc_roc(scores, labels):.3f}  AP {average_precision(scores, labels):.3f}"
            f"  precision@100/day {sum(p100) / len(p100):.3f}"
        )


if __name__ == "__main__":
    main()
