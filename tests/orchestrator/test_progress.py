"""Progress display: plain periodic lines when stderr is not a terminal (log files,
pipes), a tqdm bar on a terminal; every long command shows it."""

from __future__ import annotations

import io
import re

from cosim.cli.main import main
from cosim.orchestrator.progress import Progress
from cosim.store.runs import RunFile

TIME = r"\d\d:\d\d"


def test_plain_lines_every_tenth_and_at_the_end_with_fields_and_eta():
    out = io.StringIO()                       # not a terminal
    p = Progress(100, stream=out, label="job: ", unit="step", interval_s=1e9)
    for k in range(1, 101):
        p.step(k, epoch=1 + (k - 1) // 50, loss=1.0 / k, acc=0.5)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    # the first update, then each further 10 % (11, 21, ..., 91), then the end (100)
    assert [int(re.search(r"step (\d+)/100", s).group(1)) for s in lines] == \
        [1, 11, 21, 31, 41, 51, 61, 71, 81, 91, 100]
    pat = (rf"^job: step 21/100 \(21%\) epoch 1 loss 0\.0476 acc 0\.5000 elapsed {TIME} "
           rf"ETA {TIME}$")
    assert re.match(pat, lines[2]), lines[2]
    assert lines[-1].endswith("ETA 00:00")


def test_plain_lines_also_every_interval_and_quiet_writes_nothing():
    out = io.StringIO()
    p = Progress(1000, stream=out, interval_s=0.0)
    for k in range(1, 6):
        p.update(k)
    assert len(out.getvalue().splitlines()) == 5      # interval 0: a line per update
    quiet = io.StringIO()
    q = Progress(10, stream=quiet, quiet=True)
    q.step(1, 1, 0.5, 0.5)
    q.epoch(1, 1, 0.5, 0.5, 0.5, 10, 1.0)
    q.message("x")
    assert quiet.getvalue() == ""


def test_terminal_mode_draws_a_tqdm_bar_with_eta_and_loss():
    out = io.StringIO()
    p = Progress(4, stream=out, label="run.h5: ", tty=True)
    for k in range(1, 5):
        p.step(k, 1, 0.25 * k, 0.5)
    p.epoch(1, 1, 0.6, 0.5, 0.4, 4, 1.0)
    text = out.getvalue()
    assert "\r" in text and "ETA" in text and "loss 1.0000" in text and "4/4" in text
    assert "epoch 1/1  step 4/4" in text


def test_train_cli_without_a_terminal_prints_step_loss_eta_lines(tmp_path, capsys):
    out = tmp_path / "r.h5"
    assert main(["train", "--set=model.width=0.34", "--set=data.train_limit=64",
                 "--set=data.test_limit=32", "--set=training.batch_size=32",
                 "--epochs", "1", "--design", "ideal", "--out", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    losses = RunFile(out).step_metrics()["loss"]
    steps = [s for s in err if re.match(rf"r\.h5: step \d/2 \(\d+%\) epoch 1 loss "
                                        rf"\d\.\d{{4}} acc \d\.\d{{4}} elapsed {TIME} "
                                        rf"ETA {TIME}$", s)]
    assert len(steps) == 2, err
    for k, line in enumerate(steps):       # the loss shown is the step's stored loss
        assert f"step {k + 1}/2" in line and f"loss {losses[k]:.4f}" in line
    assert any(s.startswith("r.h5: epoch 1/1  step 2/2") for s in err)
    assert main(["eval", str(out)]) == 0           # eval: images done, ETA
    err = capsys.readouterr().err.splitlines()
    assert any(re.match(rf"r\.h5: image 32/32 \(100%\) elapsed {TIME} ETA 00:00$", s)
               for s in err), err


def test_sweep_run_shows_points_done_and_eta(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text('[sweep]\ntask = "memristor_variability"\nout = "s.h5"\n'
                    '[sweep.base]\ndevices = 20\n[sweep.grid]\npulses = [2, 3]\n')
    assert main(["sweep", "run", str(spec), "--workers", "1",
                 "--out", str(tmp_path / "s.h5")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert any(re.match(r"sweep: point 0 \[pulses=2\] [\d.]+ s ok$", s) for s in err), err
    assert any(re.match(rf"sweep: point 2/2 \(100%\) ok 2 failed 0 elapsed {TIME} "
                        rf"ETA 00:00$", s) for s in err), err
