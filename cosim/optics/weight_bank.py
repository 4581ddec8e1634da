"""Microring weight bank (broadcast-and-weight), N wavelengths x M outputs.

Layout.  Each of the M outputs has its own pair of bus waveguides and a row of N add-drop
rings (radius, couplings and loss from devices/optics.toml); ring ``k`` of a row is
biased to resonate at channel ``k`` and then detuned by a round-trip phase
``delta[m, k]`` (a heater or a memristor-set junction).  The N-channel WDM signal enters
bus 1 of every row; bus 1 ends on the *through* PD, bus 2 on the *drop* PD, and the
balanced pair gives ``I ~ P_drop - P_through`` (Tait et al.; the DEAP convention
``drop - through`` of REFERENCES 2.1).

Signed weight.  For one ring alone on its channel,
``raw(delta) = T_drop(delta) - T_through(delta)`` falls monotonically from ``raw(0)`` (on
resonance) to ``raw(delta_max)``; ``delta_max`` (``max_detuning_rad``) is by default half
the channel spacing expressed as round-trip phase, so a ring never crosses a neighbour's
channel.  The weight is ``w = raw / g`` with the *weight scale*
``g = min(raw(0), -raw(delta_max))``: the largest symmetric interval ``[-g, g]`` the
ring reaches is mapped onto ``[-1, 1]``.  ``g < 1`` is the bank's own loss at full scale
(ring propagation loss and imperfect extinction); the electrical side divides by
``g * P_channel`` to recover ``W x`` (see :func:`cosim.optics.link_budget.pd_power_to_matvec`).
The inverse map weight -> detuning is on the monotonic branch ``[0, delta_max]``.

Crosstalk.  With ``crosstalk=True`` every ring acts on every wavelength through its exact
add-drop response (the N x N ring-wavelength matrix, including the next resonance one FSR
away): for wavelength ``j`` on row ``m``

    P_through[j] = prod_k Tt[k, j]
    P_drop[j]    = sum_k  Td[k, j] * prod_{l<k} Tt[l, j] Ta[l, j]

where ``Tt``, ``Td`` are the through and drop power transmissions and ``Ta`` the
transmission along bus 2 past ring ``l`` (add -> drop port).  Light a ring couples from
bus 2 back into bus 1 is counted as lost, and contributions of one wavelength dropped by
different rings add in power (uncontrolled relative path length, as in DEAP); both are
second order in the off-resonance drop.  With ``crosstalk=False`` each ring sees only
its own channel.  Optional thermal crosstalk couples the detunings of the rings of a row:
``delta = command @ C.T``.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from dataclasses import dataclass

import numpy as np

from cosim.errors import ConfigError
from cosim.optics._validate import finite_array, in_range, positive, positive_int, shape_is
from cosim.optics.components import LOSS_DB_PER_M, NEFF, NG, WAVELENGTH0_M, directional_coupler
from cosim.optics.crosstalk import interchannel_phase_matrix, thermal_crosstalk_matrix
from cosim.optics.defaults import optics_value
from cosim.optics.mrr import RADIUS_M, SELF_COUPLING, free_spectral_range, round_trip_amplitude

CHANNEL_SPACING_M = optics_value("channel_spacing_m")
DETUNING_FRACTION_OF_SPACING = optics_value("detuning_fraction_of_spacing")


@dataclass(frozen=True)
class WeightBank:
    """Geometry and device parameters of an N x M microring weight bank (immutable).

    Build it with :func:`make_weight_bank`.  Arrays are read-only.

    Attributes
    ----------
    n_channels, n_outputs : N wavelengths, M outputs
    channel_wavelength_m : ``(N,)``, m
    r1, r2 : amplitude self-coupling of the bus-1 and bus-2 couplers
    a : ring round-trip amplitude transmission
    base_phase_rad : ``(N, N)``, round-trip phase of ring ``k`` at channel ``j`` at zero
        detuning (see :func:`cosim.optics.crosstalk.interchannel_phase_matrix`)
    max_detuning_rad : end of the monotonic branch used for weights, rad
    weight_scale : ``g`` (see module docstring)
    crosstalk : whether rings act on other channels
    thermal_coupling : ``(N, N)`` dimensionless phase coupling within a row (identity if
        no thermal crosstalk)
    """

    n_channels: int
    n_outputs: int
    channel_wavelength_m: np.ndarray
    r1: float
    r2: float
    a: float
    base_phase_rad: np.ndarray
    max_detuning_rad: float
    weight_scale: float
    crosstalk: bool
    thermal_coupling: np.ndarray


def _freeze(x: np.ndarray) -> np.ndarray:
    x = np.array(x, dtype=float)
    x.setflags(write=False)
    return x


def ring_powers(phase_rad, *, r1: float, r2: float, a: float):
    """Power transmissions of one add-drop ring from its transfer matrix.

    Parameters
    ----------
    phase_rad : array, round-trip phase, rad
    r1, r2, a : self-couplings and round-trip amplitude transmission

    Returns
    -------
    (through, drop, bus2) : arrays of the shape of ``phase_rad``; ``bus2`` is
        ``|S[drop, add]|^2``, the transmission along bus 2 past the ring.
    """
    phi = np.asarray(phase_rad, dtype=float)
    return _ring_powers_cs(np.cos(phi), np.sin(phi), r1=r1, r2=r2, a=a)


def _ring_powers_cs(cos_phi, sin_phi, *, r1, r2, a):
    """:func:`ring_powers` from ``cos(phi)`` and ``sin(phi)`` (the bank's hot path).

    Same loop closure as :func:`cosim.optics.mrr.add_drop_entries`, written with the
    round-trip factor ``g = h^2 = a e^{j phi}`` and ``|h|^2 = a`` so that no half-phase
    exponential is needed:  ``den = 1 - g C1_11 C2_00``, ``u_in = g C2_00 C1_10 / den``,
    ``S_t = C1_00 + C1_01 u_in``, ``|S_d|^2 = a |C2_10|^2 |C1_10 + C1_11 u_in|^2``,
    ``S_b = C2_11 + g C2_10 C1_11 C2_01 / den``.
    """
    c1 = directional_coupler(WAVELENGTH0_M, power_coupling=1.0 - r1 * r1)
    c2 = directional_coupler(WAVELENGTH0_M, power_coupling=1.0 - r2 * r2)
    g = np.empty(np.shape(cos_phi), dtype=complex)
    g.real = a * cos_phi
    g.imag = a * sin_phi
    inv = 1.0 / (1.0 - (c1[1, 1] * c2[0, 0]) * g)
    g *= inv                                            # g / den
    u_in = (c2[0, 0] * c1[1, 0]) * g
    s_t = c1[0, 0] + c1[0, 1] * u_in
    x = c1[1, 0] + c1[1, 1] * u_in
    s_b = c2[1, 1] + (c2[1, 0] * c1[1, 1] * c2[0, 1]) * g
    through = s_t.real ** 2 + s_t.imag ** 2
    drop = (a * abs(c2[1, 0]) ** 2) * (x.real ** 2 + x.imag ** 2)
    bus2 = s_b.real ** 2 + s_b.imag ** 2
    return through, drop, bus2


def _ring_power_derivatives(c, s, *, r1, r2, a):
    """d/dphi of (through, drop, bus2) power transmissions (Bogaerts 2012 Eq. 8-9).

    Each is ``(alpha - beta cos phi) / (E - F cos phi)``; its derivative is
    ``-sin(phi) (F alpha - beta E) / (E - F cos phi)^2``.  ``c``, ``s`` = cos, sin phi.
    """
    e = 1 + (r1 * r2 * a) ** 2
    f = 2 * r1 * r2 * a
    q = -s / (e - f * c) ** 2

    def d(alpha, beta):
        return q * (f * alpha - beta * e)

    return (d(r2 * r2 * a * a + r1 * r1, f), d((1 - r1 * r1) * (1 - r2 * r2) * a, 0.0),
            d(r1 * r1 * a * a + r2 * r2, f))


def _raw_single(delta, r1, r2, a):
    t, d, _ = ring_powers(delta, r1=r1, r2=r2, a=a)
    return d - t


def make_weight_bank(n_channels: int, n_outputs: int, *,
                     center_wavelength_m: float = WAVELENGTH0_M,
                     channel_spacing_m: float = CHANNEL_SPACING_M,
                     radius_m: float = RADIUS_M, r1: float = SELF_COUPLING,
                     r2: float = SELF_COUPLING, loss_db_per_m: float = LOSS_DB_PER_M,
                     neff: float = NEFF, ng: float = NG,
                     detuning_fraction_of_spacing: float = DETUNING_FRACTION_OF_SPACING,
                     crosstalk: bool = True,
                     thermal_neighbour_fraction: float = 0.0) -> WeightBank:
    """Build an N x M weight bank.

    Parameters
    ----------
    n_channels, n_outputs : N, M
    center_wavelength_m : centre of the channel grid, m
    channel_spacing_m : grid spacing, m (assumption, see card)
    radius_m : ring radius, m
    r1, r2 : amplitude self-couplings
    loss_db_per_m : ring waveguide loss, dB/m
    neff, ng : indices at ``center_wavelength_m``
    detuning_fraction_of_spacing : ``delta_max`` as a fraction of the channel spacing
        (in round-trip phase); 0.5 keeps a ring between its neighbours' channels
    crosstalk : include inter-channel crosstalk (full N x N response)
    thermal_neighbour_fraction : nearest-neighbour thermal coupling f (assumption); the
        row's detunings become ``command @ C.T`` with ``C[i, j] = f**|i-j|``

    Returns
    -------
    WeightBank
    """
    n = positive_int("n_channels", n_channels)
    m = positive_int("n_outputs", n_outputs)
    spacing = positive("channel_spacing_m", channel_spacing_m, unit="m")
    frac = in_range("detuning_fraction_of_spacing", detuning_fraction_of_spacing, 0.0, 1.0,
                    lo_open=True)
    lam = center_wavelength_m + (np.arange(n) - (n - 1) / 2) * spacing
    fsr = float(free_spectral_range(center_wavelength_m, radius_m=radius_m, ng=ng))
    if n > 1 and (n - 1) * spacing >= fsr:
        raise ConfigError(f"{n} channels at {spacing:g} m spacing span more than one FSR "
                          f"({fsr:g} m) of the rings; reduce channel_spacing_m below "
                          f"{fsr / n:g} m or use a smaller radius_m")
    a = float(round_trip_amplitude(radius_m=radius_m, loss_db_per_m=loss_db_per_m))
    r1 = float(in_range("r1", r1, 0.0, 1.0, hi_open=True))
    r2 = float(in_range("r2", r2, 0.0, 1.0, hi_open=True))
    max_det = float(min(np.pi, frac * 2 * np.pi * spacing / fsr))
    raw0 = float(_raw_single(0.0, r1, r2, a))
    raw_max = float(_raw_single(max_det, r1, r2, a))
    g = min(raw0, -raw_max)
    if g <= 0:
        raise ConfigError(
            f"the ring cannot reach both signs of weight (drop - through spans "
            f"[{raw_max:.3g}, {raw0:.3g}]); increase channel_spacing_m or "
            "detuning_fraction_of_spacing, or raise r1, r2 to narrow the resonance")
    base = interchannel_phase_matrix(lam, radius_m=radius_m, neff=neff, ng=ng,
                                     wavelength0_m=center_wavelength_m)
    if thermal_neighbour_fraction:
        c = thermal_crosstalk_matrix(n, efficiency_rad_per_w=1.0,
                                     neighbour_fraction=thermal_neighbour_fraction)
    else:
        c = np.eye(n)
    return WeightBank(n, m, _freeze(lam), r1, r2, a, _freeze(base), max_det, g,
                      bool(crosstalk), _freeze(c))


def detuning_to_weight(detuning_rad, bank: WeightBank) -> np.ndarray:
    """Weight of a ring alone on its channel: ``(T_drop - T_through)(delta) / g``."""
    d = finite_array("detuning_rad", detuning_rad)
    return _raw_single(d, bank.r1, bank.r2, bank.a) / bank.weight_scale


def weight_to_detuning(weight, bank: WeightBank) -> np.ndarray:
    """Inverse map, weight in [-1, 1] -> detuning on the monotonic branch [0, delta_max].

    With ``c = cos(delta)`` both transmissions are ratios of functions linear in ``c``
    (Bogaerts 2012 Eq. 8-9), so ``raw = g w`` inverts in closed form:
    ``c = (raw E - A + P) / (F (1 + raw))`` with ``E = 1 + (r1 r2 a)^2``,
    ``F = 2 r1 r2 a``, ``A = (1 - r1^2)(1 - r2^2) a`` and ``P = r2^2 a^2 + r1^2``.

    Parameters
    ----------
    weight : array, in [-1, 1]
    bank : WeightBank

    Returns
    -------
    array of the shape of ``weight``, rad
    """
    w = in_range("weight", weight, -1.0, 1.0,
                 fix="scale the weight matrix into [-1, 1] (e.g. divide by max |W|)")
    r1, r2, a = bank.r1, bank.r2, bank.a
    raw = bank.weight_scale * w
    e = 1 + (r1 * r2 * a) ** 2
    f = 2 * r1 * r2 * a
    big_a = (1 - r1 * r1) * (1 - r2 * r2) * a
    p = r2 * r2 * a * a + r1 * r1
    c = (raw * e - big_a + p) / (f * (1 + raw))
    return np.arccos(np.clip(c, -1.0, 1.0))


def program_bank(weights, bank: WeightBank) -> np.ndarray:
    """Detuning commands for W by the single-ring inverse map (no crosstalk correction).

    Parameters
    ----------
    weights : array ``(M, N)`` in [-1, 1]

    Returns
    -------
    array ``(M, N)``, rad
    """
    w = finite_array("weights", weights)
    shape_is("weights", w, (bank.n_outputs, bank.n_channels),
             fix="W is (outputs, channels) = (M, N)")
    return weight_to_detuning(w, bank)


@dataclass(frozen=True)
class BankTransfer:
    """Power transfer of a programmed bank, per output row and channel.

    ``drop[m, j]`` / ``through[m, j]``: fraction of channel ``j``'s power at the input of
    row ``m`` that reaches the drop / through PD of row ``m``.  Shapes ``(M, N)``.
    """

    drop: np.ndarray
    through: np.ndarray

    @property
    def weights(self) -> np.ndarray:
        """Unnormalised balanced response ``drop - through`` ``(M, N)``."""
        return self.drop - self.through


def _check_command(bank: WeightBank, detuning_rad) -> np.ndarray:
    d = finite_array("detuning_rad", detuning_rad)
    shape_is("detuning_rad", d, (bank.n_outputs, bank.n_channels),
             fix="one detuning per ring, (outputs, channels) = (M, N)")
    return d


def bank_transfer(bank: WeightBank, detuning_rad) -> BankTransfer:
    """Drop and through power transfer of a bank for given detuning commands.

    Parameters
    ----------
    bank : WeightBank
    detuning_rad : array ``(M, N)``, commanded round-trip detuning of each ring, rad

    Returns
    -------
    BankTransfer with ``(M, N)`` arrays

    With crosstalk the N x N response of every row is evaluated by
    :func:`cosim.optics.bank_kernels.transfer_rows` (compiled; rows are independent,
    so a stack of many tiles' rows is one call).
    """
    cmd = _check_command(bank, detuning_rad)
    delta = cmd @ bank.thermal_coupling.T
    if not bank.crosstalk:
        t, d, _ = ring_powers(delta, r1=bank.r1, r2=bank.r2, a=bank.a)
        return BankTransfer(drop=d, through=t)
    from cosim.optics import bank_kernels

    cb, sb, k = _kernel_args(bank)
    delta = np.ascontiguousarray(delta, dtype=float)
    drop, through = np.empty_like(delta), np.empty_like(delta)
    bank_kernels.transfer_rows(cb, sb, delta, k, drop, through)
    return BankTransfer(drop=drop, through=through)


def _kernel_args(bank: WeightBank) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """cos and sin of the bank's base phase and its ring constants, as
    :mod:`cosim.optics.bank_kernels` takes them."""
    from cosim.optics import bank_kernels

    return (np.ascontiguousarray(np.cos(bank.base_phase_rad)),
            np.ascontiguousarray(np.sin(bank.base_phase_rad)),
            bank_kernels.ring_constants(bank.r1, bank.r2, bank.a))


def effective_weights(bank: WeightBank, detuning_rad) -> np.ndarray:
    """Weights the bank actually applies, ``(drop - through) / g``, shape ``(M, N)``."""
    return bank_transfer(bank, detuning_rad).weights / bank.weight_scale


def weight_jacobian(bank: WeightBank, detuning_rad) -> np.ndarray:
    """Derivative of :func:`effective_weights` with respect to the commands.

    Rows are independent, so the Jacobian is block diagonal; this returns the blocks,
    :func:`detuning_jacobian` (the derivative with respect to the rings' detunings
    ``delta = command C^T``) times the thermal coupling ``C``.

    Returns
    -------
    array ``(M, N_j, N_q)``: ``J[m, j, q] = d w[m, j] / d command[m, q]``
    """
    cmd = _check_command(bank, detuning_rad)
    return detuning_jacobian(bank, cmd @ bank.thermal_coupling.T) @ bank.thermal_coupling


def detuning_jacobian(bank: WeightBank, delta_rad) -> np.ndarray:
    """Derivative of the applied weights with respect to the rings' detunings ``delta``
    (rad, ``(M, N)``: the commands after thermal crosstalk, ``command C^T``).

    Rows are independent, so the Jacobian is block diagonal; this returns the blocks
    (with crosstalk computed by :func:`cosim.optics.bank_kernels.jacobian_rows`; without,
    diagonal).  With ``S = Tt Ta``, ``Q_k = prod_{l<k} S_l`` and ``G_q = sum_{k>q} Td_k
    prod_{q<l<k} S_l`` (``G_{N-1} = 0``, ``G_q = Td_{q+1} + S_{q+1} G_{q+1}``):

        d P_drop[j] / d delta_q    = Q_q (Td'_q + S'_q G_q)
        d P_through[j] / d delta_q = Tt'_q prod_{k != q} Tt_k

    Returns
    -------
    array ``(M, N_j, N_q)``: ``J[m, j, q] = d w[m, j] / d delta[m, q]``
    """
    delta = np.ascontiguousarray(finite_array("delta_rad", delta_rad), dtype=float)
    shape_is("delta_rad", delta, (bank.n_outputs, bank.n_channels),
             fix="one detuning per ring, (outputs, channels) = (M, N)")
    n = bank.n_channels
    if not bank.crosstalk:
        dt, dd, _ = _ring_power_derivatives(np.cos(delta), np.sin(delta), r1=bank.r1,
                                            r2=bank.r2, a=bank.a)
        jac = np.zeros((bank.n_outputs, n, n))
        idx = np.arange(n)
        jac[:, idx, idx] = (dd - dt) / bank.weight_scale
        return jac
    from cosim.optics import bank_kernels

    cb, sb, k = _kernel_args(bank)
    jac = np.empty((bank.n_outputs, n, n))
    bank_kernels.jacobian_rows(cb, sb, delta, k, float(bank.weight_scale), jac)
    return jac


@dataclass(frozen=True)
class CalibrationResult:
    """Outcome of :func:`calibrate_bank`.

    Attributes
    ----------
    detuning_rad : ``(M, N)`` calibrated commands, rad
    rms_error_before, max_error_before : weight error of the uncorrected inverse map
    rms_error_after, max_error_after : weight error after calibration
    iterations : iterations used (Newton steps, damped where a step failed)
    converged : whether ``max_error_after <= tol``
    """

    detuning_rad: np.ndarray
    rms_error_before: float
    max_error_before: float
    rms_error_after: float
    max_error_after: float
    iterations: int
    converged: bool


def calibrate_bank(weights, bank: WeightBank, *, tol: float = 1e-10,
                   max_iter: int = 50, start=None) -> CalibrationResult:
    """Pre-distort the detunings so the bank applies W despite crosstalk.

    Solves ``effective_weights(bank, command) = W`` row by row (only the rows whose
    error still exceeds ``tol`` are iterated: rows do not couple), starting from
    ``start`` or else the single-ring inverse map :func:`program_bank`.  The square
    system is solved in the rings' detunings ``delta = command C^T`` (``C``: the
    thermal coupling, the same for every row), where the analytic
    :func:`detuning_jacobian` ``J`` needs no product with ``C``: a row takes the
    Newton step ``J d = -r`` (one LU solve) while it lowers the row's squared error;
    a row whose step does not is damped (Levenberg-Marquardt, ``(J^T J + mu s I) d =
    -J^T r``, ``s`` the largest diagonal of ``J^T J``) until it does, and returns to
    Newton steps as ``mu`` falls.  A step in ``delta`` is the command step ``d C^-T``.
    Targets that the crosstalk makes unreachable are approached in the least-squares
    sense; the residual is reported, never hidden.

    Parameters
    ----------
    weights : ``(M, N)`` in [-1, 1]
    bank : WeightBank
    tol : stop when every weight error is below this
    max_iter : iteration limit (0: only evaluate the start)
    start : ``(M, N)`` commands to start from, rad (a warm start: e.g. the calibrated
        commands of the previous weights, moved by the single-ring map's change);
        default ``program_bank(weights)``.  The ``*_before`` errors are the start's.

    Returns
    -------
    CalibrationResult
    """
    target = finite_array("weights", weights)
    if start is None:
        cmd = program_bank(target, bank)
    else:
        shape_is("weights", target, (bank.n_outputs, bank.n_channels),
                 fix="W is (outputs, channels) = (M, N)")
        cmd = _check_command(bank, start).copy()
    tol = float(positive("tol", tol))
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) \
            or max_iter < 0:
        raise ConfigError(f"max_iter={max_iter!r}: give a whole number of iterations >= 0")
    max_iter = int(max_iter)
    coupling = bank.thermal_coupling
    to_command = np.linalg.inv(coupling).T          # delta step -> command step
    resid = effective_weights(bank, cmd) - target
    before = resid.copy()
    cost = np.sum(resid ** 2, axis=1)
    mu = np.zeros(bank.n_outputs)                   # 0: Newton steps
    it = 0
    for it in range(1, max_iter + 1):
        # rows are independent: iterate only those not yet within tol (and not stuck)
        act = np.flatnonzero((np.max(np.abs(resid), axis=1) > tol) & (mu < _MU_STUCK))
        if act.size == 0:
            it -= 1
            break
        sub = dataclasses.replace(bank, n_outputs=int(act.size))
        c_a, r_a, mu_a = cmd[act], resid[act], mu[act]
        delta = c_a @ coupling.T
        step = np.empty_like(r_a)
        for r0 in range(0, act.size, _JACOBIAN_ROWS):   # N x N per row: a few MB at a time
            rows = slice(r0, r0 + _JACOBIAN_ROWS)
            jac = detuning_jacobian(dataclasses.replace(bank, n_outputs=delta[rows].shape[0]),
                                    delta[rows])
            step[rows] = _calibration_steps(jac, r_a[rows], mu_a[rows])
        trial = c_a + step @ to_command
        finite = np.isfinite(trial).all(axis=1)     # a singular J's step: never better
        trial[~finite] = c_a[~finite]
        trial_resid = effective_weights(sub, trial) - target[act]
        trial_cost = np.sum(trial_resid ** 2, axis=1)
        better = (trial_cost < cost[act]) & finite
        cmd[act] = np.where(better[:, None], trial, c_a)
        resid[act] = np.where(better[:, None], trial_resid, r_a)
        cost[act] = np.where(better, trial_cost, cost[act])
        mu[act] = np.where(better, np.where(mu_a / 5 < _MU_NEWTON, 0.0, mu_a / 5),
                           np.maximum(mu_a * 10, _MU_FIRST))
    return CalibrationResult(
        detuning_rad=cmd,
        rms_error_before=float(np.sqrt(np.mean(before ** 2))),
        max_error_before=float(np.max(np.abs(before))),
        rms_error_after=float(np.sqrt(np.mean(resid ** 2))),
        max_error_after=float(np.max(np.abs(resid))),
        iterations=it,
        converged=bool(np.max(np.abs(resid)) <= tol),
    )


#: Damping of the calibration (:func:`calibrate_bank`): the first damping of a row whose
#: Newton step failed (times the largest diagonal of ``J^T J``), the damping below which
#: a row returns to Newton steps, and the damping at which a row is given up.
_MU_FIRST = 1e-3
_MU_NEWTON = 1e-6
_MU_STUCK = 1e12
#: Rows whose Jacobians :func:`calibrate_bank` holds at a time (4 MB at 64 channels: the
#: Jacobians of a whole layer's tile grid, 150 MB for LeNet-5's first fully connected
#: layer, would be fresh pages, a page fault per 4 kB, at every iteration).
_JACOBIAN_ROWS = 128


def _calibration_steps(jac: np.ndarray, resid: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Detuning steps ``(rows, N)`` of :func:`calibrate_bank`: ``J d = -r`` for the rows
    with ``mu == 0`` (a singular ``J`` gives NaN: the step fails and the row is damped),
    ``(J^T J + mu s I) d = -J^T r`` for the others."""
    step = np.empty_like(resid)
    newton = mu == 0
    if newton.any():
        j_n, r_n = (jac, resid) if newton.all() else (jac[newton], resid[newton])
        step[newton] = -_solve_rows(j_n, r_n)
    damped = ~newton
    if damped.any():
        j_d, r_d = jac[damped], resid[damped]
        jt = np.swapaxes(j_d, 1, 2)
        jtj = jt @ j_d
        grad = (jt @ r_d[..., None])[..., 0]
        scale = np.einsum("mii->mi", jtj).max(axis=1)
        scale = np.where(scale > 0, scale, 1.0)
        idx = np.arange(jtj.shape[1])
        jtj[:, idx, idx] += (mu[damped] * scale)[:, None]
        step[damped] = -_solve_rows(jtj, grad)
    return step


_SOLVE_POOL: list = []
_SOLVE_POOL_LOCK = threading.Lock()
os.register_at_fork(after_in_child=_SOLVE_POOL.clear)   # a forked child makes its own


def _solve_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``x[i]`` with ``a[i] x[i] = b[i]`` for every row ((rows, N, N), (rows, N));
    NaN for a row whose ``a[i]`` is singular.  With two or more numba threads the rows
    are split in two halves solved on two threads (numpy's LAPACK releases the GIL;
    each system is solved by itself, so the result does not depend on the split)."""
    rows = a.shape[0]
    try:
        if rows < 32 or _threads() < 2:
            return np.linalg.solve(a, b[..., None])[..., 0]
        with _SOLVE_POOL_LOCK:
            if not _SOLVE_POOL:
                from concurrent.futures import ThreadPoolExecutor

                _SOLVE_POOL.append(ThreadPoolExecutor(1, thread_name_prefix="cosim-solve"))
            pool = _SOLVE_POOL[0]
        half = rows // 2
        other = pool.submit(np.linalg.solve, a[half:], b[half:, :, None])
        first = np.linalg.solve(a[:half], b[:half, :, None])
        return np.concatenate([first, other.result()])[..., 0]
    except np.linalg.LinAlgError:                   # a singular system: row by row
        out = np.empty_like(b)
        for i in range(rows):
            try:
                out[i] = np.linalg.solve(a[i], b[i])
            except np.linalg.LinAlgError:
                out[i] = np.nan
        return out


def _threads() -> int:
    """numba's thread count (the cores a process may use: cosim.sweep gives each
    worker its share)."""
    import numba

    return numba.get_num_threads()
