"""Plots and HTML reports, kept apart from computation (matplotlib imported lazily).

* :mod:`cosim.report.training`: curves and the HTML report of training runs.
* :mod:`cosim.report.validation`: the device validation report (``cosim validate``).
"""

from cosim.report.training import (
                                   plot_curves,
                                   plot_product_errors,
                                   plot_saturation,
                                   plot_spot_checks,
                                   write_training_report,
)

__all__ = ["plot_curves", "plot_product_errors", "plot_saturation", "plot_spot_checks",
           "write_training_report"]
