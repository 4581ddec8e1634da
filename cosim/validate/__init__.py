"""Device-level validation: a registry of checks, each comparing one model of the package
with an independent reference (ngspice, a closed form, a physical bound, a published
figure) against a stated threshold.  Computation only; see :mod:`cosim.report.validation`
for the HTML/PNG/JSON report and ``cosim validate`` for the command.

Published curves: no digitized points of a published figure are shipped.  The default
memristor parameter sets come from public simulator code (see the device cards), and no
figure of the original papers could be digitized without the papers; a check against
digitized data would need those points with their source, and none are invented here.
"""

from cosim.validate.core import (
    CHECKS,
    CheckContext,
    CheckResult,
    CheckSpec,
    list_checks,
    register,
    run_checks,
)

PUBLISHED_CURVES_NOTE = (
    "No published curve is compared: no digitized points of a published figure are "
    "shipped (the papers were not available to digitize), and none are invented. The "
    "readout checks compare with the published figures (2.5 GHz, 2 pA/sqrt(Hz)) that "
    "the TIA card cites.")

__all__ = ["CHECKS", "CheckContext", "CheckResult", "CheckSpec", "PUBLISHED_CURVES_NOTE",
           "list_checks", "register", "run_checks"]
