"""``cosim netlist plot``: runs the netlist in ngspice and writes a PNG."""

from __future__ import annotations

import numpy as np
import pytest

from cosim.cli.main import main
from cosim.hw.crossbar import build_crossbar_read
from cosim.netlist import Ac, Capacitor, Circuit, Resistor, Sine, Tran, VoltageSource

PNG = b"\x89PNG\r\n\x1a\n"


def _png_size(path):
    import struct

    data = path.read_bytes()
    assert data[:8] == PNG
    return struct.unpack(">II", data[16:24])


def test_crossbar_read_gives_a_cell_current_map(tmp_path, capsys):
    g = np.random.default_rng(0).uniform(5e-7, 5e-4, (4, 6))
    f = tmp_path / "xbar.cir"
    f.write_text(build_crossbar_read(g, np.full(4, 0.3), 1.48).render())
    assert main(["netlist", "plot", str(f)]) == 0
    out = capsys.readouterr().out
    assert "crossbar 4x6 cell-current map" in out
    w, h = _png_size(tmp_path / "xbar.png")
    assert w > 300 and h > 200


@pytest.mark.parametrize("kind", ["tran", "ac"])
def test_rc_waveforms_and_bode(tmp_path, capsys, kind):
    c = Circuit("rc plot")
    c.add(VoltageSource("V1", "in", "0", 0.0, 1.0, Sine(0, 1, 1e3)),
          Resistor("R1", "in", "out", 1e3), Capacitor("C1", "out", "0", 1e-7))
    c.analyses.append(Tran(1e-5, 2e-3) if kind == "tran" else Ac(10, 1e6, 10, "dec"))
    f = tmp_path / "rc.cir"
    f.write_text(c.render())
    png = tmp_path / "figs" / f"rc_{kind}.png"
    assert main(["netlist", "plot", str(f), "-o", str(png), "--nodes", "in", "out"]) == 0
    out = capsys.readouterr().out
    assert ("Bode" in out) if kind == "ac" else ("tran waveforms of 2 node(s)" in out)
    _png_size(png)


def test_unknown_node_is_refused(tmp_path, capsys):
    c = Circuit("r")
    c.add(VoltageSource("V1", "in", "0", 1.0), Resistor("R1", "in", "0", 1e3))
    f = tmp_path / "r.cir"
    f.write_text(c.render())
    assert main(["netlist", "plot", str(f), "--nodes", "nowhere"]) == 2
    assert "no node(s)" in capsys.readouterr().err
