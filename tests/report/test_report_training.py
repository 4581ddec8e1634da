"""The training report (``cosim demo``) names what each run computed on in words: the
engines of a hardware run, no converter bits for a float run."""

from __future__ import annotations

import re

from cosim.cli.main import main

SMALL = ["--set", "training.max_steps=2", "--set", "data.train_limit=32", "--set",
         "data.test_limit=16", "--set", "model.width=0.25", "--set", "training.batch_size=16",
         "--set", "training.epochs=1", "--quiet", "--overwrite"]


def test_report_rows_say_engines_in_words_and_float_has_no_converters(tmp_path):
    from cosim.report import write_training_report
    from cosim.store.runs import RunFile

    hw, fl = tmp_path / "hw.h5", tmp_path / "float.h5"
    assert main(["train", "--set", "design.name=electronic", "--out", str(hw), *SMALL]) == 0
    assert main(["train", "--set", "design.name=ideal", "--out", str(fl), *SMALL]) == 0
    html = write_training_report({"hw": hw, "float": fl}, tmp_path / "r.html").read_text()
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr><td>(hw|float)</td>.*?</tr>",
                                                         html)}
    design = RunFile(hw).read_design()
    cfg = RunFile(hw).read_config().hardware
    bits = f"{design['converters.dac_bits']}/{design['converters.adc_bits']}"
    assert f"<td>{bits}</td>" in rows["hw"]
    assert (f"<td>optical {cfg.optical_engine}, electrical {cfg.electrical_engine}</td>"
            in rows["hw"])
    assert "{" not in rows["hw"] and "None" not in rows["hw"]
    assert "<td>none (float)</td>" in rows["float"]
    assert "<td>none (float arithmetic)</td>" in rows["float"]
    assert bits not in rows["float"] and "None" not in rows["float"]
