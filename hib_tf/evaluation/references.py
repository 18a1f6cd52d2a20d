"""The paper's numbers, to print beside ours (SPEC.md section 7; paper tables 1, 2 and 4).

``PAPER[(N, D)][kind][metric] = (clean, corrupt)``; kind is ``point``, ``MoG-1`` or ``MoG-2``;
metrics are ``verification_ap``, ``knn_accuracy`` (tables 1, 4a) and the flipped Kendall's taus
``tau_ap``, ``tau_knn`` (tables 2, 4b; HIB only). The paper does not say which test split its
numbers come from, nor its training length beyond 500k steps.
"""

_TABLE_1_AND_4A = {
    # (N, D): {kind: (AP clean, AP corrupt, kNN clean, kNN corrupt)}
    (2, 2): {
        "point": (0.987, 0.880, 0.871, 0.583),
        "MoG-1": (0.989, 0.907, 0.879, 0.760),
        "MoG-2": (0.990, 0.912, 0.888, 0.757),
    },
    (2, 3): {
        "point": (0.996, 0.913, 0.942, 0.874),
        "MoG-1": (0.996, 0.926, 0.953, 0.909),
        "MoG-2": (0.996, 0.932, 0.939, 0.885),
    },
    (3, 2): {
        "point": (0.978, 0.886, 0.554, 0.274),
        "MoG-1": (0.981, 0.899, 0.591, 0.350),
        "MoG-2": (0.976, 0.904, 0.540, 0.351),
    },
    (3, 3): {
        "point": (0.987, 0.901, 0.795, 0.522),
        "MoG-1": (0.989, 0.922, 0.770, 0.555),
        "MoG-2": (0.991, 0.925, 0.766, 0.598),
    },
    (3, 4): {
        "point": (0.996, 0.942, 0.914, 0.803),
        "MoG-1": (0.996, 0.944, 0.917, 0.816),
        "MoG-2": (0.995, 0.948, 0.922, 0.809),
    },
}

_TABLE_2_AND_4B = {
    # (N, D): {kind: (AP tau clean, AP tau corrupt, kNN tau clean, kNN tau corrupt)}
    (2, 2): {"MoG-1": (0.74, 0.81, 0.71, 0.47), "MoG-2": (0.43, 0.79, 0.57, 0.43)},
    (2, 3): {"MoG-1": (0.68, 0.86, 0.72, 0.55), "MoG-2": (0.48, 0.87, 0.47, 0.52)},
    (3, 2): {"MoG-1": (0.63, 0.82, 0.76, 0.49), "MoG-2": (0.28, 0.76, 0.29, 0.50)},
    (3, 3): {"MoG-1": (0.51, 0.85, 0.74, 0.67), "MoG-2": (0.39, 0.79, 0.54, 0.34)},
    (3, 4): {"MoG-1": (0.35, 0.79, 0.31, 0.42), "MoG-2": (0.33, 0.68, 0.32, 0.35)},
}

# Appendix D, N = 2, D = 1, 100 classes: adjacent centroid pairs sharing a digit, over 4 runs.
NUMBER_LINE = {"MoG-1": "76-80 of 99", "point": "42-74 of 99"}


def paper_numbers(digits, dim, kind):
    """The paper's metrics for a setting, ``{metric: (clean, corrupt)}``; empty if none."""
    numbers = {}
    if kind in _TABLE_1_AND_4A.get((digits, dim), {}):
        ap_clean, ap_corrupt, knn_clean, knn_corrupt = _TABLE_1_AND_4A[(digits, dim)][kind]
        numbers["verification_ap"] = (ap_clean, ap_corrupt)
        numbers["knn_accuracy"] = (knn_clean, knn_corrupt)
    if kind in _TABLE_2_AND_4B.get((digits, dim), {}):
        ap_clean, ap_corrupt, knn_clean, knn_corrupt = _TABLE_2_AND_4B[(digits, dim)][kind]
        numbers["tau_ap"] = (ap_clean, ap_corrupt)
        numbers["tau_knn"] = (knn_clean, knn_corrupt)
    return numbers
