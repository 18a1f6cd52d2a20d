"""metrics.json and report.md: the results, laid out like the paper's tables 1 and 2."""

import json
import math

from hib_tf.evaluation import references

_NA = "–"


def json_ready(value):
    """``value`` with NaN and infinities as None (JSON has neither) and tuples as lists."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path, metrics):
    """Writes ``metrics`` (nested dicts of numbers, strings, lists) as indented JSON."""
    with open(path, "w", encoding="utf-8") as file:
        json.dump(json_ready(metrics), file, indent=2, allow_nan=False)
        file.write("\n")


def _number(value, digits=3):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return _NA
    return f"{value:.{digits}f}"


def _rows(name, ours, paper, digits=3):
    """Two table rows (clean, corrupt) of a metric: ours beside the paper's."""
    return [
        f"| {name if twin == 'clean' else ''} | {twin} | {_number(ours[index], digits)} "
        f"| {_number(paper[index], digits) if paper else _NA} |"
        for index, twin in enumerate(("clean", "corrupt"))
    ]


def _split_section(split, results, model, figures):
    """The Markdown section of one split."""
    paper = references.paper_numbers(model["digits"], model["dim"], model["kind"])
    setting = f"N = {model['digits']}, D = {model['dim']}, {model['kind']}"

    def pair(*keys):
        values = []
        for twin in ("clean", "corrupt"):
            value = results[twin]
            for key in keys:
                value = value[key]
            values.append(value)
        return values

    lines = [
        f"## {split}: {results['num_images']} images, {results['num_classes']} classes",
        "",
        f"Task performance (paper table 1), {setting}:",
        "",
        "| metric | test set | ours | paper |",
        "|---|---|---|---|",
        *_rows("Verification AP", pair("verification_ap"), paper.get("verification_ap")),
        *_rows("KNN accuracy", pair("knn_accuracy"), paper.get("knn_accuracy")),
        *_rows("KNN accuracy, mean embedding", pair("knn_accuracy_mean_embedding"), None),
        "",
        "Kendall's tau between uncertainty and performance, sign flipped so that positive "
        f"means performance falls as eta rises (paper table 2), {setting}:",
        "",
        "| metric | test set | ours | paper |",
        "|---|---|---|---|",
        *_rows("AP correlation", pair("kendall_tau", "ap"), paper.get("tau_ap"), 2),
        *_rows("KNN correlation", pair("kendall_tau", "knn"), paper.get("tau_knn"), 2),
        "",
        "Beyond the paper:",
        "",
        "| metric | clean | corrupt |",
        "|---|---|---|",
        "| mean eta (uncertainty) | {} | {} |".format(*map(_number, pair("uncertainty", "mean"))),
        "| kNN AURC (reject most uncertain first) | {} | {} |".format(
            *map(_number, pair("risk_coverage", "aurc"))
        ),
        "| kNN E-AURC (minus the oracle's) | {} | {} |".format(
            *map(_number, pair("risk_coverage", "e_aurc"))
        ),
        "| match probability ECE on the pairs | {} | {} |".format(
            *map(_number, pair("calibration", "ece"))
        ),
        "",
        f"AUROC of eta for telling corrupt from clean images: "
        f"{_number(results['corrupt_detection_auroc'])}.",
    ]
    if "number_line" in results:
        line = results["number_line"]
        lines += [
            "",
            f"Number line (appendix D): {line['sharing_pairs']} of {line['adjacent_pairs']} "
            "adjacent class centroids share a digit in the same position; mean run "
            f"{_number(line['mean_run_length'], 1)} classes (paper, 100 classes: HIB "
            f"{references.NUMBER_LINE['MoG-1']}, point {references.NUMBER_LINE['point']}; "
            "runs 4.6 vs 3.0).",
        ]
    lines += ["", *(f"![{name}](figures/{name})" for name in figures), ""]
    return lines


def markdown(metrics, figures):
    """The report: settings, then one section per split.

    Args:
      metrics: the dict written to metrics.json.
      figures: dict split -> list of figure file names (in ``figures/``).

    Returns:
      str, Markdown.
    """
    model, config = metrics["model"], metrics["config"]
    lines = [
        f"# Evaluation of {config['saved_model']}",
        "",
        f"Model: {model['kind']}, D = {model['dim']}, a = {model['a']:.4g}, "
        f"b = {model['b']:.4g}. Data: {metrics['dataset']}. Samples per image K = "
        f"{config['samples']}, seed {config['seed']}, {config['pairs']} verification pairs "
        f"(half matching), {config['neighbors']}-NN leave-one-out, {config['bins']} "
        "equal-size uncertainty bins."
        + (
            f" Subsample of {config['max_images']} images per split."
            if config["max_images"]
            else ""
        ),
        "",
        "The paper does not say which test split fills its tables; both are reported. "
        "Verification scores are p(m | x1, x2); kNN ranks neighbours by the same match "
        "probability (for point embeddings: by Euclidean distance) and, separately, by the "
        "Euclidean distance between mixture means. eta = 1 - p(m | x, x) from two independent "
        "sample sets; it is constant for point embeddings, which therefore have no tau. "
        "The pairs are half matching, which is not the prior the match probability was "
        "trained under, so its calibration is indicative only.",
        "",
    ]
    for split, results in metrics["splits"].items():
        lines += _split_section(split, results, model, figures[split])
    return "\n".join(lines)
