"""Link budget and the interface from the optical to the electrical domain.

Path of one channel from the laser to a photodetector (Al-Qadasi et al., APL Photonics
2022, Eq. 13 as coded in public scripts; REFERENCES 4):

    laser comb line -> edge coupler -> MRR modulator (insertion loss; out-of-band loss of
    the N-1 other modulator rings) -> waveguide -> 1-to-M fan-out (10 log10 M split +
    excess per Y-branch stage) -> weight-bank row (modelled physically, see
    :mod:`cosim.optics.weight_bank`) -> drop / through photodetector

The modulator is treated as a linearised intensity modulator: input ``x`` in [0, 1]
transmits ``x`` times the power after its insertion loss (the driver pre-distorts the
ring's nonlinear response; use :func:`cosim.optics.mrr.mrr_modulator` for the device
itself).  Inputs are therefore non-negative; signed inputs need two passes or an offset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cosim.errors import ConfigError
from cosim.optics._validate import check_rng, finite_array, in_range, non_negative, shape_is
from cosim.optics.components import LOSS_DB_PER_M, Y_EXCESS_LOSS_DB, db_to_power_ratio
from cosim.optics.defaults import optics_value
from cosim.optics.sources import POWER_PER_CHANNEL_W, RIN_DB_PER_HZ, rin_sigma
from cosim.optics.weight_bank import BankTransfer, WeightBank, bank_transfer, ring_powers

EDGE_COUPLER_LOSS_DB = optics_value("edge_coupler_loss_db")
MODULATOR_INSERTION_LOSS_DB = optics_value("modulator_insertion_loss_db")
MODULATOR_OUT_OF_BAND_LOSS_DB = optics_value("modulator_out_of_band_loss_db")
RING_PITCH_M = optics_value("ring_pitch_m")


@dataclass(frozen=True)
class LinkBudget:
    """Power budget of one channel from the laser to the photodetectors.

    Attributes
    ----------
    n_channels, n_outputs : N, M
    laser_power_per_channel_w : comb line power, W
    losses_db : ``((name, dB), ...)`` every loss between the laser and a weight-bank row,
        in the order the light meets them
    power_at_bank_per_channel_w : power of one channel at the input of one bank row at
        full modulation (x = 1), W
    weight_scale : ``g`` of the bank: ``sum_j x_j P_bank w_mj * g = P_drop - P_through``
    bank_full_scale_loss_db : ``-10 log10 g``, the bank's own loss at |w| = 1, dB
    power_at_pd_per_channel_w : one channel's power at the drop PD with its ring on
        resonance (the largest single-channel PD power), W
    rin_db_per_hz : laser RIN, dB/Hz
    """

    n_channels: int
    n_outputs: int
    laser_power_per_channel_w: float
    losses_db: tuple[tuple[str, float], ...]
    power_at_bank_per_channel_w: float
    weight_scale: float
    bank_full_scale_loss_db: float
    power_at_pd_per_channel_w: float
    rin_db_per_hz: float

    @property
    def total_loss_db(self) -> float:
        """Sum of ``losses_db`` (laser to bank input), dB."""
        return float(sum(v for _, v in self.losses_db))

    def loss_db(self, name: str) -> float:
        """One named loss, dB."""
        for key, value in self.losses_db:
            if key == name:
                return value
        raise ConfigError(f"no loss named {name!r} in the link budget; it has: "
                          f"{', '.join(k for k, _ in self.losses_db)}")

    @property
    def total_laser_power_w(self) -> float:
        """Optical power of the whole comb, W."""
        return self.laser_power_per_channel_w * self.n_channels

    def as_dict(self) -> dict:
        """Plain dictionary (for run files and energy models)."""
        return {"n_channels": self.n_channels, "n_outputs": self.n_outputs,
                "laser_power_per_channel_w": self.laser_power_per_channel_w,
                "losses_db": dict(self.losses_db), "total_loss_db": self.total_loss_db,
                "power_at_bank_per_channel_w": self.power_at_bank_per_channel_w,
                "weight_scale": self.weight_scale,
                "bank_full_scale_loss_db": self.bank_full_scale_loss_db,
                "power_at_pd_per_channel_w": self.power_at_pd_per_channel_w,
                "rin_db_per_hz": self.rin_db_per_hz}


def link_budget(bank: WeightBank, *,
                laser_power_per_channel_w: float = POWER_PER_CHANNEL_W,
                edge_coupler_loss_db: float = EDGE_COUPLER_LOSS_DB,
                modulator_insertion_loss_db: float = MODULATOR_INSERTION_LOSS_DB,
                modulator_out_of_band_loss_db: float = MODULATOR_OUT_OF_BAND_LOSS_DB,
                ring_pitch_m: float = RING_PITCH_M,
                loss_db_per_m: float = LOSS_DB_PER_M,
                splitter_excess_loss_db: float = Y_EXCESS_LOSS_DB,
                extra_losses_db: tuple[tuple[str, float], ...] = (),
                rin_db_per_hz: float = RIN_DB_PER_HZ) -> LinkBudget:
    """Link budget of a weight bank (defaults from devices/optics.toml and laser.toml).

    Parameters
    ----------
    bank : WeightBank
    laser_power_per_channel_w : W
    edge_coupler_loss_db : fibre-to-chip coupling, dB
    modulator_insertion_loss_db : on-channel loss of the MRR modulator, dB
    modulator_out_of_band_loss_db : loss per passed (other-channel) modulator ring, dB
    ring_pitch_m : centre-to-centre spacing of rings along a bus, m; the modulator bus
        has length ``N * ring_pitch_m`` (Al-Qadasi ``alpha_Si N d_MRR``)
    loss_db_per_m : waveguide propagation loss, dB/m
    splitter_excess_loss_db : excess loss per Y-branch stage, dB; ``ceil(log2 M)`` stages
    extra_losses_db : more ``(name, dB)`` losses (e.g. a network penalty)
    rin_db_per_hz : laser RIN, dB/Hz

    Returns
    -------
    LinkBudget
    """
    p_laser = float(non_negative("laser_power_per_channel_w", laser_power_per_channel_w,
                                 unit="W"))
    n, m = bank.n_channels, bank.n_outputs
    stages = math.ceil(math.log2(m)) if m > 1 else 0
    losses = [
        ("edge_coupler", float(non_negative("edge_coupler_loss_db", edge_coupler_loss_db))),
        ("modulator_insertion", float(non_negative("modulator_insertion_loss_db",
                                                   modulator_insertion_loss_db))),
        ("modulator_out_of_band", (n - 1) * float(non_negative(
            "modulator_out_of_band_loss_db", modulator_out_of_band_loss_db))),
        ("waveguide_propagation", float(non_negative("loss_db_per_m", loss_db_per_m))
         * n * float(non_negative("ring_pitch_m", ring_pitch_m))),
        ("fanout_split", 10 * math.log10(m)),
        ("fanout_excess", stages * float(non_negative("splitter_excess_loss_db",
                                                      splitter_excess_loss_db))),
    ]
    for name, value in extra_losses_db:
        losses.append((str(name), float(non_negative(f"extra_losses_db[{name!r}]", value))))
    total = sum(v for _, v in losses)
    p_bank = p_laser * float(db_to_power_ratio(total))
    _, drop0, _ = ring_powers(0.0, r1=bank.r1, r2=bank.r2, a=bank.a)
    return LinkBudget(n, m, p_laser, tuple(losses), p_bank, bank.weight_scale,
                      float(-10 * np.log10(bank.weight_scale)), p_bank * float(drop0),
                      float(finite_array("rin_db_per_hz", rin_db_per_hz)))


def pd_power(inputs, bank: WeightBank, detuning_rad, budget: LinkBudget, *,
             transfer: BankTransfer | None = None, rng: np.random.Generator | None = None,
             bandwidth_hz: float | None = None) -> np.ndarray:
    """Optical power reaching each photodetector of the balanced pairs.

    ``P[b, m, 0] = sum_j x[b, j] P_bank drop[m, j]`` (drop-port PD) and
    ``P[b, m, 1] = sum_j x[b, j] P_bank through[m, j]`` (through-port PD), with
    ``P_bank`` = ``budget.power_at_bank_per_channel_w``.  With ``rng``, every channel's
    power of every sample carries laser RIN (common to all outputs, since it is imposed
    before the fan-out).

    Parameters
    ----------
    inputs : ``(batch, N)`` modulation levels in [0, 1]
    bank : WeightBank
    detuning_rad : ``(M, N)`` detuning commands, rad (ignored if ``transfer`` is given)
    budget : LinkBudget of this bank
    transfer : precomputed :func:`bank_transfer` (reuse across batches)
    rng : numpy Generator for RIN; ``bandwidth_hz`` then required
    bandwidth_hz : detection bandwidth, Hz

    Returns
    -------
    array ``(batch, M, 2)``, W; ``[..., 0]`` drop PD, ``[..., 1]`` through PD
    """
    x = in_range("inputs", inputs, 0.0, 1.0,
                 fix="inputs are modulator intensity levels; scale them into [0, 1]")
    shape_is("inputs", x, (None, bank.n_channels), fix="inputs are (batch, N channels)")
    if budget.n_channels != bank.n_channels or budget.n_outputs != bank.n_outputs:
        raise ConfigError("budget was made for a different bank size; call link_budget(bank)")
    if transfer is None:
        transfer = bank_transfer(bank, detuning_rad)
    p = x * budget.power_at_bank_per_channel_w
    if rng is not None:
        check_rng(rng)
        if bandwidth_hz is None:
            raise ConfigError("RIN noise (rng given) needs bandwidth_hz, the detection "
                              "bandwidth in Hz")
        sigma = rin_sigma(rin_db_per_hz=budget.rin_db_per_hz, bandwidth_hz=bandwidth_hz)
        p = np.clip(p * (1.0 + sigma * rng.standard_normal(p.shape)), 0.0, None)
    out = np.empty((x.shape[0], bank.n_outputs, 2))
    out[..., 0] = p @ transfer.drop.T
    out[..., 1] = p @ transfer.through.T
    return out


def pd_power_to_matvec(pd_power_w, budget: LinkBudget) -> np.ndarray:
    """Recover ``W x`` from balanced PD powers: ``(P_drop - P_through) / (g P_bank)``.

    Parameters
    ----------
    pd_power_w : ``(batch, M, 2)``, W
    budget : LinkBudget

    Returns
    -------
    array ``(batch, M)``, dimensionless (units of ``w * x``)
    """
    p = finite_array("pd_power_w", pd_power_w)
    shape_is("pd_power_w", p, (None, budget.n_outputs, 2),
             fix="pass the (batch, M, 2) output of pd_power")
    if budget.power_at_bank_per_channel_w <= 0:
        raise ConfigError("the link budget delivers no power to the bank; raise "
                          "laser_power_per_channel_w")
    return (p[..., 0] - p[..., 1]) / (budget.weight_scale * budget.power_at_bank_per_channel_w)
