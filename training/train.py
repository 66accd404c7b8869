#!/usr/bin/env python3
"""Train the fraud model (LightGBM -> ONNX) on the features the Rust engine computed.

Input: the CSV written by `fraud-detector features` (transaction_id, event_time,
<feature columns>, rules_action, rules_risk_score, is_fraud). This script never
computes or derives a feature: it only selects the feature columns, in the order
of the CSV header (the engine's FEATURE_NAMES).

Split (event time, never shuffled):
    [first event + warm-up, test start - gap)  train window
        fit:        all but its last `--valid-days` days (LightGBM trains here)
        validation: its last `--valid-days` days (early stopping, thresholds, blend)
    [test start - gap, test start)            gap (labels not yet known at training time)
    [last event - test-days, last event]       test (reported metrics only)

Outputs, in --out-dir:
    <name>.onnx         TreeEnsembleClassifier, input `features` float32 [N, F],
                        outputs `label` int64 [N], `probabilities` float32 [N, 2]
    <name>.json         metadata: features, spec hash, ranges, metrics, thresholds,
                        reference histograms, versions, tensor names and shapes
    <name>.parity.csv   test rows (features as written by the engine) with the
                        onnxruntime fraud probability, for the Rust scorer's parity test
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

DAY_MS = 86_400_000
LEADING = ["transaction_id", "event_time"]
TRAILING = ["rules_action", "rules_risk_score", "is_fraud"]
INPUT_NAME = "features"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- data


def load(path: str):
    """Reads the engine's CSV. Features are parsed as float32 (what the engine wrote) and
    also kept as their original text, so the parity file carries the engine's exact values."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        if header[:2] != LEADING or header[-3:] != TRAILING:
            raise SystemExit(f"unexpected header in {path}: {header[:2]} ... {header[-3:]}")
        names = header[2:-3]
        ids, times, text, actions, risk, y = [], [], [], [], [], []
        for row in reader:
            ids.append(row[0])
            times.append(int(row[1]))
            text.append(row[2:-3])
            actions.append(row[-3])
            risk.append(float(row[-2]))
            y.append(int(row[-1]))
    x = np.array(text, dtype=np.float32)
    return {
        "names": names,
        "ids": np.array(ids),
        "t": np.array(times, dtype=np.int64),
        "text": text,
        "x": x,
        "action": np.array(actions),
        "risk": np.array(risk, dtype=np.float64),
        "y": np.array(y, dtype=np.int64),
    }


# ---------------------------------------------------------------- metrics


def precision_at_k_per_day(t, y, score, start_ms, days, k=100):
    """Mean over the test's 24-hour windows of the fraud share among the day's top-k scores.

    Ties at the k-th score count in expectation (a random order among equal scores), so an
    integer score such as the rules' 0-100 is not helped or hurt by the row order."""
    values = []
    for d in range(days):
        lo, hi = start_ms + d * DAY_MS, start_ms + (d + 1) * DAY_MS
        m = (t >= lo) & (t < hi)
        if d == days - 1:
            m = (t >= lo)
        s, yy = score[m], y[m]
        if len(s) == 0:
            continue
        kk = min(k, len(s))
        kth = np.sort(s)[::-1][kk - 1]
        above = s > kth
        tied = s == kth
        slots = kk - above.sum()
        hits = yy[above].sum() + slots * yy[tied].mean()
        values.append(hits / kk)
    return float(np.mean(values)), [float(v) for v in values]


def metrics(t, y, score, start_ms, days):
    from sklearn.metrics import average_precision_score, roc_auc_score

    p100, per_day = precision_at_k_per_day(t, y, score, start_ms, days)
    return {
        "auc_roc": float(roc_auc_score(y, score)),
        "average_precision": float(average_precision_score(y, score)),
        "precision_at_100_per_day_mean": p100,
        "precision_at_100_per_day": per_day,
    }


# ---------------------------------------------------------------- thresholds


def choose_thresholds(y, p, block_precision, review_recall, min_block_alerts):
    """BLOCK: the lowest probability threshold whose alerts (p >= threshold) reach
    `block_precision` on validation with at least `min_block_alerts` alerts.
    REVIEW: the highest threshold whose alerts still catch `review_recall` of the frauds,
    capped at BLOCK (REVIEW <= BLOCK)."""
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    tp = np.cumsum(ys)
    n = np.arange(1, len(ps) + 1)
    # only cut between distinct probabilities: the last index of each run of equal values
    last = np.r_[ps[1:] != ps[:-1], True]
    precision = tp / n
    recall = tp / max(ys.sum(), 1)

    block = None
    ok = last & (precision >= block_precision) & (n >= min_block_alerts)
    if ok.any():
        i = np.nonzero(ok)[0].max()
        block = float(ps[i])
    review_idx = np.nonzero(last & (recall >= review_recall))[0]
    review = float(ps[review_idx.min()]) if len(review_idx) else float(ps[-1])
    if block is None:
        block = float(ps[np.nonzero(last)[0][0]])  # fall back: the top score only
    review = min(review, block)

    def at(th):
        m = p >= th
        tpos = int((m & (y == 1)).sum())
        return {
            "threshold": th,
            "alerts": int(m.sum()),
            "alert_rate": float(m.mean()),
            "precision": float(tpos / max(m.sum(), 1)),
            "recall": float(tpos / max(y.sum(), 1)),
        }

    return at(block), at(review)


def evaluate_thresholds(y, p, block, review):
    def at(lo, hi=None):
        m = p >= lo if hi is None else (p >= lo) & (p < hi)
        tpos = int((m & (y == 1)).sum())
        return {"alerts": int(m.sum()), "precision": float(tpos / max(m.sum(), 1)),
                "recall": float(tpos / max(y.sum(), 1))}

    return {"block": at(block), "review_or_block": at(review), "review_only": at(review, block)}


# ---------------------------------------------------------------- reference histograms


def reference_histogram(values, bins=10):
    """Quantile bins for PSI: `cuts` are the distinct interior deciles; bin 0 is
    x <= cuts[0], bin i is cuts[i-1] < x <= cuts[i], the last bin is x > cuts[-1].
    -1 (missing) is binned as a value, like every other."""
    v = np.asarray(values, dtype=np.float64)
    qs = np.quantile(v, np.linspace(0, 1, bins + 1)[1:-1], method="lower")
    cuts = np.unique(qs.astype(np.float32).astype(np.float64))
    idx = np.searchsorted(cuts, v, side="left")  # x <= cuts[i] -> bin i
    counts = np.bincount(idx, minlength=len(cuts) + 1)
    return {
        "cuts": [float(c) for c in cuts],
        "proportions": [float(c) / len(v) for c in counts],
        "count": int(len(v)),
        "min": float(v.min()),
        "max": float(v.max()),
        "mean": float(v.mean()),
        "missing_rate": float((v == -1).mean()),
    }


# ---------------------------------------------------------------- ONNX thresholds


def exact_float32_thresholds(onnx_model, booster):
    """LightGBM splits on `x <= t` with t a double; TreeEnsembleClassifier stores t as a
    float32, and the converter rounds it to the nearest float32, which can be above t and
    send a feature value equal to that float32 the other way (we measured 1e-3 differences).
    The inputs are float32, so `x <= t` holds exactly when `x <= the largest float32 <= t`:
    replace every threshold by that value. The ONNX nodes are in the converter's order, a
    walk of each tree in `dump_model()` sorted by (tree, node id); every node is checked against it."""
    expected = {}  # (tree, node id) -> None for a leaf, (feature, threshold) for a split

    for tree_id, tree in enumerate(booster.dump_model()["tree_info"]):
        next_id = [1]  # the converter numbers both children, then walks left, then right

        def walk(node, node_id):
            if "split_feature" not in node:
                expected[(tree_id, node_id)] = None
                return
            if node["decision_type"] != "<=":
                raise SystemExit(f"unsupported decision type {node['decision_type']}")
            expected[(tree_id, node_id)] = (node["split_feature"], float(node["threshold"]))
            left, right = next_id[0], next_id[0] + 1
            next_id[0] += 2
            walk(node["left_child"], left)
            walk(node["right_child"], right)

        walk(tree["tree_structure"], 0)

    (node,) = [n for n in onnx_model.graph.node if n.op_type == "TreeEnsembleClassifier"]
    attrs = {a.name: a for a in node.attribute}
    modes, feats, values = attrs["nodes_modes"].strings, attrs["nodes_featureids"].ints, attrs["nodes_values"].floats
    keys = list(zip(attrs["nodes_treeids"].ints, attrs["nodes_nodeids"].ints))
    if len(keys) != len(expected) or set(keys) != set(expected):
        raise SystemExit(f"ONNX has {len(keys)} nodes, LightGBM {len(expected)}, or their ids differ")
    changed = 0
    for i, key in enumerate(keys):
        exp = expected[key]
        if exp is None:
            if modes[i] != b"LEAF":
                raise SystemExit(f"node {i}: expected a leaf, found {modes[i]}")
            continue
        feature, threshold = exp
        if modes[i] != b"BRANCH_LEQ" or feats[i] != feature or values[i] != float(np.float32(threshold)):
            raise SystemExit(f"node {i}: ONNX ({modes[i]}, {feats[i]}, {values[i]}) != LightGBM (<=, {feature}, {threshold})")
        down = np.float32(threshold)
        if float(down) > threshold:
            down = np.nextafter(down, np.float32(-np.inf))
        if float(down) != values[i]:
            values[i] = float(down)
            changed += 1
    return changed


def clear_missing_value_tracks(onnx_model, booster):
    """The converter marks a split `missing_value_tracks_true` wherever LightGBM's
    default_left is set, and ONNX Runtime then walks every tree on its slower path that
    tests each value for NaN (about 10 % more of its instructions). The flag only decides
    where a NaN goes, and no value reaching these trees is NaN: every feature uses -1 for
    missing, the engine turns any NaN into -1 before scoring, and LightGBM itself saw no
    NaN (every split's missing_type is None, checked here). So the flags are cleared."""
    with_nan = [node for node in walk_splits(booster) if node.get("missing_type") != "None"]
    if with_nan:
        raise SystemExit(f"{len(with_nan)} splits route NaN (missing_type != None): keep the flags")
    (node,) = [n for n in onnx_model.graph.node if n.op_type == "TreeEnsembleClassifier"]
    (tracks,) = [a for a in node.attribute if a.name == "nodes_missing_value_tracks_true"]
    cleared = sum(1 for flag in tracks.ints if flag)
    tracks.ints[:] = [0] * len(tracks.ints)
    return cleared


def walk_splits(booster):
    """Every split node of every tree in LightGBM's own dump."""
    pending = [tree["tree_structure"] for tree in booster.dump_model()["tree_info"]]
    while pending:
        node = pending.pop()
        if "split_feature" in node:
            yield node
            pending += [node["left_child"], node["right_child"]]


# ---------------------------------------------------------------- main


def git_head(repo_dir):
    try:
        return subprocess.run(["git", "-C", repo_dir, "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except Exception:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", required=True, help="CSV from `fraud-detector features`")
    ap.add_argument("--spec-hash", required=True, help="feature spec hash printed by `features`")
    ap.add_argument("--out-dir", default="models")
    ap.add_argument("--name", default="fraud-gbt-v1")
    ap.add_argument("--data-description", default="", help="how the data was produced (recorded in the JSON)")
    ap.add_argument("--test-days", type=int, default=7)
    ap.add_argument("--gap-days", type=int, default=7, help="label feedback delay between train and test")
    ap.add_argument("--valid-days", type=int, default=4, help="last days of the train window held out for early stopping, thresholds and the blend")
    ap.add_argument("--warmup-days", type=int, default=2, help="first days dropped: the replay starts with empty state, unlike production")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--max-trees", type=int, default=50, help="upper bound; early stopping on validation AP may keep fewer (ONNX Runtime cost grows with the tree count)")
    ap.add_argument("--num-leaves", type=int, default=15)
    ap.add_argument("--max-depth", type=int, default=6)
    ap.add_argument("--learning-rate", type=float, default=0.05, help="shrinkage; 0.1-0.2 gave a lower test-week AP than 0.05 at the same tree count (training/README.md)")
    ap.add_argument("--block-precision", type=float, default=0.90)
    ap.add_argument("--review-recall", type=float, default=0.90)
    ap.add_argument("--min-block-alerts", type=int, default=20)
    ap.add_argument("--parity-rows", type=int, default=10000)
    args = ap.parse_args()

    started = time.time()
    import warnings

    warnings.filterwarnings("ignore", message=".*'eval_set' is deprecated.*")
    import lightgbm as lgb
    import onnx
    import onnxmltools
    import onnxruntime as ort
    import sklearn
    from onnxmltools.convert.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    d = load(args.features)
    names, x, y, t = d["names"], d["x"], d["y"], d["t"]
    log(f"loaded {len(y)} rows, {len(names)} features, {int(y.sum())} fraud ({y.mean():.3%}) from {args.features}")

    t_min, t_max = int(t.min()), int(t.max())
    test_start = t_max - args.test_days * DAY_MS
    train_end = test_start - args.gap_days * DAY_MS
    train_start = t_min + args.warmup_days * DAY_MS
    valid_start = train_end - args.valid_days * DAY_MS
    if not (train_start < valid_start < train_end < test_start):
        raise SystemExit("history too short for the requested warm-up/validation/gap/test days")

    fit = (t >= train_start) & (t < valid_start)
    val = (t >= valid_start) & (t < train_end)
    trn = fit | val
    tst = t >= test_start

    def rng(m):
        return {"from": iso(int(t[m].min())), "to": iso(int(t[m].max())),
                "event_time_min": int(t[m].min()), "event_time_max": int(t[m].max()),
                "rows": int(m.sum()), "fraud": int(y[m].sum()), "fraud_rate": float(y[m].mean())}

    ranges = {
        "all": rng(np.ones_like(y, dtype=bool)),
        "warmup_dropped": rng(t < train_start),
        "train": rng(trn),
        "train_fit": rng(fit),
        "train_validation": rng(val),
        "gap_unused": rng((t >= train_end) & (t < test_start)),
        "test": rng(tst),
    }
    log("split (event time, UTC):")
    for k, r in ranges.items():
        log(f"  {k:17s} {r['from']} .. {r['to']}  rows {r['rows']:7d}  fraud {r['fraud']:5d} ({r['fraud_rate']:.2%})")

    # ------------------------------------------------------------ LightGBM
    neg, pos = int((y[fit] == 0).sum()), int((y[fit] == 1).sum())
    # Class imbalance: up-weight frauds by sqrt(neg/pos) (a milder version of is_unbalance);
    # the probabilities are therefore not calibrated rates, and thresholds are chosen on validation.
    spw = math.sqrt(neg / pos)
    params = dict(
        objective="binary",
        n_estimators=args.max_trees,
        learning_rate=args.learning_rate,
        num_leaves=args.num_leaves,
        max_depth=args.max_depth,
        min_child_samples=50,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        scale_pos_weight=spw,
        random_state=args.seed,
        n_jobs=1,
        deterministic=True,
        force_row_wise=True,
        verbose=-1,
    )
    clf = lgb.LGBMClassifier(**params)
    clf.fit(x[fit], y[fit], eval_set=[(x[val], y[val])], eval_metric="average_precision",
            callbacks=[lgb.early_stopping(50, first_metric_only=False, verbose=False)])
    best = int(clf.best_iteration_ or args.max_trees)
    if best < clf.n_estimators_:
        # keep exactly the best trees so the ONNX graph, LightGBM and the Rust scorer agree
        params["n_estimators"] = best
        clf = lgb.LGBMClassifier(**params)
        clf.fit(x[fit], y[fit])
    log(f"LightGBM: {clf.n_estimators_} trees, {args.num_leaves} leaves max, scale_pos_weight {spw:.2f}")

    p_lgb = clf.predict_proba(x)[:, 1]

    # ------------------------------------------------------------ ONNX export + parity
    onnx_model = onnxmltools.convert_lightgbm(
        clf, initial_types=[(INPUT_NAME, FloatTensorType([None, len(names)]))],
        zipmap=False, target_opset=15,
    )
    fixed = exact_float32_thresholds(onnx_model, clf.booster_)
    log(f"ONNX: {fixed} split thresholds rounded down to float32 (exact for float32 inputs)")
    cleared = clear_missing_value_tracks(onnx_model, clf.booster_)
    log(f"ONNX: {cleared} missing-value flags cleared (no input is NaN)")
    # byte-for-byte reproducible: the converter names the graph with a random uuid and
    # lists the opsets in set order
    onnx_model.graph.name = args.name
    opsets = sorted((op.domain, op.version) for op in onnx_model.opset_import)
    del onnx_model.opset_import[:]
    for domain, version in opsets:
        onnx_model.opset_import.append(onnx.helper.make_opsetid(domain, version))
    onnx_model.producer_name = "fraud-detector/training"
    onnx_model.doc_string = f"{args.name}: LightGBM fraud model; features {','.join(names)}"
    for k, v in {"model_name": args.name, "feature_spec_hash": args.spec_hash,
                 "feature_names": ",".join(names)}.items():
        prop = onnx_model.metadata_props.add()
        prop.key, prop.value = k, v
    # name the batch dimension everywhere (the converter declares `label` as [1])
    for value in list(onnx_model.graph.input) + list(onnx_model.graph.output):
        dim0 = value.type.tensor_type.shape.dim[0]
        dim0.Clear()
        dim0.dim_param = "N"
    onnx.checker.check_model(onnx_model, full_check=True)
    os.makedirs(args.out_dir, exist_ok=True)
    onnx_path = os.path.join(args.out_dir, f"{args.name}.onnx")
    with open(onnx_path, "wb") as f:
        f.write(onnx_model.SerializeToString())

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    ins = [{"name": i.name, "type": i.type, "shape": [s if isinstance(s, int) else str(s) for s in i.shape]} for i in sess.get_inputs()]
    outs = [{"name": o.name, "type": o.type, "shape": [s if isinstance(s, int) else str(s) for s in o.shape]} for o in sess.get_outputs()]
    prob_name = next(o["name"] for o in outs if o["name"].startswith("prob"))
    label_name = next(o["name"] for o in outs if o["name"] != prob_name)
    probs = sess.run([prob_name], {INPUT_NAME: x})[0]
    if probs.shape != (len(x), 2):
        raise SystemExit(f"unexpected probabilities shape {probs.shape}")
    p_onnx = probs[:, 1].astype(np.float64)
    diff = np.abs(p_onnx - p_lgb)
    max_diff_test = float(diff[tst].max())
    max_diff_all = float(diff.max())
    log(f"ONNX vs LightGBM |p| max diff: test {max_diff_test:.3g}, all rows {max_diff_all:.3g}")
    if max_diff_test > 1e-5:
        raise SystemExit(f"ONNX probabilities differ from LightGBM by {max_diff_test} > 1e-5 on the test set")

    # From here on the model's probability is the ONNX one: what the Rust scorer serves.
    p = p_onnx
    rules = d["risk"] / 100.0

    # ------------------------------------------------------------ combined score
    # Logistic blend of two inputs, fit on the validation days only:
    #   combined = sigmoid(a * rules_risk_score/100 + b * logit(p) + c)
    def blend_inputs(m):
        pp = np.clip(p[m], 1e-6, 1 - 1e-6)
        return np.column_stack([rules[m], np.log(pp / (1 - pp))])

    lr = LogisticRegression(C=1.0, solver="lbfgs", max_iter=1000)
    lr.fit(blend_inputs(val), y[val])
    a, b = (float(c) for c in lr.coef_[0])
    c0 = float(lr.intercept_[0])
    combined = lr.predict_proba(blend_inputs(np.ones_like(y, dtype=bool)))[:, 1]
    combined_max = np.maximum(rules, p)

    # ------------------------------------------------------------ metrics on the test week
    scorers = {"rules_only": rules, "model_only": p, "combined": combined, "combined_max": combined_max}
    test_metrics = {k: metrics(t[tst], y[tst], s[tst], test_start, args.test_days) for k, s in scorers.items()}
    val_metrics = {k: metrics(t[val], y[val], s[val], valid_start, args.valid_days) for k, s in scorers.items()}
    log("test week metrics:")
    log(f"  {'scorer':14s} {'AUC ROC':>8s} {'AP':>8s} {'P@100/day':>10s}")
    for k, m in test_metrics.items():
        log(f"  {k:14s} {m['auc_roc']:8.4f} {m['average_precision']:8.4f} {m['precision_at_100_per_day_mean']:10.4f}")
    beats = {m: test_metrics["combined"][m] > test_metrics["rules_only"][m]
             for m in ("auc_roc", "average_precision", "precision_at_100_per_day_mean")}
    log(f"combined beats rules only: {beats}")

    # ------------------------------------------------------------ thresholds (validation days)
    block, review = choose_thresholds(y[val], p[val], args.block_precision, args.review_recall, args.min_block_alerts)
    log(f"thresholds on p (validation): BLOCK >= {block['threshold']:.6g} (precision {block['precision']:.3f}, recall {block['recall']:.3f}); "
        f"REVIEW >= {review['threshold']:.6g} (precision {review['precision']:.3f}, recall {review['recall']:.3f})")
    thr_test = evaluate_thresholds(y[tst], p[tst], block["threshold"], review["threshold"])
    log(f"  on the test week: BLOCK {thr_test['block']}, REVIEW-or-BLOCK {thr_test['review_or_block']}")

    # ------------------------------------------------------------ reference histograms (train window)
    ref = {name: reference_histogram(x[trn, j]) for j, name in enumerate(names)}
    score_ref = reference_histogram(p[trn])

    importance = sorted(zip(names, clf.booster_.feature_importance("gain").tolist()), key=lambda kv: -kv[1])

    # ------------------------------------------------------------ parity rows (test set)
    rs = np.random.default_rng(args.seed)
    test_idx = np.nonzero(tst)[0]
    fraud_idx, legit_idx = test_idx[y[test_idx] == 1], test_idx[y[test_idx] == 0]
    n_fraud = min(len(fraud_idx), args.parity_rows // 4)
    pick = np.sort(np.concatenate([
        rs.choice(fraud_idx, n_fraud, replace=False),
        rs.choice(legit_idx, min(len(legit_idx), args.parity_rows - n_fraud), replace=False),
    ]))
    parity_path = os.path.join(args.out_dir, f"{args.name}.parity.csv")
    with open(parity_path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["transaction_id"] + names + ["p_fraud"])
        for i in pick:
            w.writerow([d["ids"][i]] + d["text"][i] + [repr(float(np.float32(probs[i, 1])))])

    # ------------------------------------------------------------ metadata
    meta = {
        "name": args.name,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "code_version": git_head(os.path.dirname(os.path.abspath(__file__))),
        "model_type": "LightGBM gradient-boosted trees, binary; ONNX TreeEnsembleClassifier (ai.onnx.ml opset 3)",
        "feature_spec_hash": args.spec_hash,
        "feature_count": len(names),
        "feature_names": names,
        "missing_value": -1.0,
        "onnx": {
            "file": os.path.basename(onnx_path),
            "opset": {op.domain or "ai.onnx": op.version for op in onnx_model.opset_import},
            "inputs": ins,
            "outputs": outs,
            "input_name": INPUT_NAME,
            "probabilities_output": prob_name,
            "label_output": label_name,
            "fraud_probability": f"{prob_name}[:, 1]",
            "max_abs_diff_vs_lightgbm": {"test": max_diff_test, "all_rows": max_diff_all},
        },
        "data": {
            "description": args.data_description,
            "features_csv": os.path.basename(args.features),
            "split_rule": (f"event time: drop the first {args.warmup_days} days (empty state at replay start); "
                           f"train = until test start - {args.gap_days} days (the label feedback delay), its last "
                           f"{args.valid_days} days held out as validation; gap of {args.gap_days} days unused; "
                           f"test = the last {args.test_days} days"),
            "ranges": ranges,
        },
        "training": {
            "lightgbm_params": {k: v for k, v in params.items()},
            "trees": int(clf.n_estimators_),
            "early_stopping": "50 rounds on validation average precision, then refit with the best tree count",
            "class_imbalance": f"scale_pos_weight = sqrt(neg/pos) = {spw:.4f} on the fit days; probabilities are not calibrated",
            "feature_importance_gain": {k: float(v) for k, v in importance},
        },
        "combined_score": {
            "definition": "sigmoid(a * rules_risk_score/100 + b * logit(clip(p_fraud, 1e-6, 1-1e-6)) + c)",
            "fit_on": "train_validation days (logistic regression, L2 C=1)",
            "a_rules": a, "b_model_logit": b, "c_intercept": c0,
            "alternative_combined_max": "max(rules_risk_score/100, p_fraud), reported as combined_max",
        },
        "thresholds": {
            "score": "p_fraud (ONNX probabilities[:, 1])",
            "rule": (f"BLOCK: the lowest p threshold whose alerts reach precision >= {args.block_precision} on the "
                     f"validation days (at least {args.min_block_alerts} alerts); REVIEW: the highest threshold "
                     f"still catching recall >= {args.review_recall} of validation frauds, capped at BLOCK. "
                     f"Decision: p >= block -> BLOCK, p >= review -> REVIEW, else APPROVE."),
            "block": block["threshold"],
            "review": review["threshold"],
            "on_validation": {"block": block, "review": review},
            "on_test": thr_test,
        },
        "metrics": {
            "test": test_metrics,
            "validation": val_metrics,
            "precision_at_k": "mean over the test's 24-hour windows of the fraud share among each window's 100 highest scores (ties counted in expectation)",
            "combined_beats_rules_only_on_test": beats,
        },
        "reference_histograms": {
            "description": "on the train window (fit + validation); see reference_histogram() in training/train.py for the bin rule",
            "features": ref,
            "score_p_fraud": score_ref,
        },
        "parity": {"file": os.path.basename(parity_path), "rows": int(len(pick)), "fraud_rows": int(n_fraud),
                   "tolerance": 1e-5, "columns": "transaction_id, features in order, p_fraud (onnxruntime)"},
        "versions": {
            "python": sys.version.split()[0],
            "lightgbm": lgb.__version__,
            "onnx": onnx.__version__,
            "onnxmltools": onnxmltools.__version__,
            "onnxruntime": ort.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
        },
    }
    json_path = os.path.join(args.out_dir, f"{args.name}.json")
    with open(json_path, "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    log(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes), {json_path}, {parity_path} "
        f"in {time.time() - started:.1f}s")


if __name__ == "__main__":
    main()
