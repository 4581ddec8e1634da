"""The ablation bar plot: error bars within the 0 .. 100 % an accuracy can take, and a
legend that names every bar colour."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import to_rgba


def _row(name, mitigation, mean, lo, hi):
    return {"name": name, "mitigation": mitigation, "overrides": [],
            "accuracy": [mean], "stats": {"n": 2, "mean": mean, "std": 0.0,
                                          "ci_low": lo, "ci_high": hi}}


def test_ablation_bars_keep_the_interval_in_range_and_name_their_colours():
    from cosim.report.ablate import COLOURS, plot_ablation

    summary = {"seeds": [0, 1], "rows": [
        _row("float", "", 0.14, -0.06, 0.34),              # a t interval of 2 seeds
        _row("crosstalk", "", 0.09, -1.1, 1.29),
        _row("readout noise + 16 reads", "16 reads averaged", 0.125, 0.125, 0.125)]}
    ax = plot_ablation(summary)
    from matplotlib.container import BarContainer, ErrorbarContainer

    bars = next(c for c in ax.containers if isinstance(c, BarContainer))
    errors = next(c for c in ax.containers if isinstance(c, ErrorbarContainer))
    segments = errors.lines[2][0].get_segments()
    for seg in segments:                                 # one whisker per bar
        assert seg[:, 0].min() >= 0.0 and seg[:, 0].max() <= 100.0
    np.testing.assert_allclose(sorted(s[:, 0].max() for s in segments), [12.5, 34.0, 100.0])
    legend = {t.get_text(): h for t, h in zip(ax.get_legend().get_texts(),
                                              ax.get_legend().legend_handles)}
    for label, key in (("float", "float"), ("hardware, no mitigation", "non-ideality"),
                       ("with its mitigation", "mitigated")):
        assert to_rgba(legend[label].get_facecolor()) == to_rgba(COLOURS[key])
    assert [to_rgba(p.get_facecolor()) for p in bars.patches] == \
        [to_rgba(COLOURS[k]) for k in ("float", "non-ideality", "mitigated")]
