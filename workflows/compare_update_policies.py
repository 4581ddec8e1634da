#!/usr/bin/env python3
"""Train LeNet-5 on the digits with a real weight device under each update policy.

For each seed, the run config (default workflows/configs/lenet_digits.toml) is prepared
as ``cosim train`` would (data, network, initial weights, hardware, SGD schedule); then
the weight store is replaced by ``cosim.hw.policies.make_weight_store(device, policy)``
programmed with the same initial weights, and the network is trained for the config's
epochs and evaluated on the test split.  ``float`` is the same config on
the ``ideal`` design (float weights, exact products).  (To train on a design's own tiles
with a device and policy, set them in the design: ``cosim train --set
design.weight_device=weight_rram_realdevice --set design.update_policy=mixed-precision``.)

``--compute ideal`` (default) computes the products exactly, so the only non-ideality is
the weight device and its update policy; ``--compute hardware`` keeps the config's
hardware (photonic tiles, converters, readout noise) as well (slower).

Example::

    python workflows/compare_update_policies.py --device weight_rram_realdevice \\
        --seeds 0 1 2 --policies float pulse mixed-precision tiki-taka
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_CONFIG = HERE / "configs" / "lenet_digits.toml"


def run_one(config, device: str, policy: str, policy_params: dict, compute: str) -> float:
    """Test accuracy of one training run (see the module docstring)."""
    from cosim.config import override_config
    from cosim.hw.policies import make_weight_store, policy_params_from_design
    from cosim.orchestrator.run import prepare

    if policy == "float" or compute == "ideal":
        config = override_config(config, ["design.name=ideal"])
    prep = prepare(config)
    if policy != "float":
        old = prep.model.store
        params = {**policy_params_from_design(policy, config.design.resolve()),
                  **policy_params}
        store = make_weight_store(device, policy, params,
                                  np.random.default_rng([config.seed, 17]), headroom=2.0)
        for name in old.names():
            store.set_weight(name, np.array(old.weight(name)))
        prep.model.store = store
        if hasattr(prep.backend, "store"):
            prep.backend.store = store
    for _ in range(config.training.epochs):
        prep.trainer.train_epoch(prep.x_train, prep.y_train)
    return prep.model.accuracy(prep.x_test, prep.y_test, config.training.eval_batch_size)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="KEY=VALUE")
    p.add_argument("--device", default="weight_rram_realdevice",
                   help="weight device card (name or .toml)")
    p.add_argument("--policies", nargs="+",
                   default=["float", "pulse", "mixed-precision", "tiki-taka"])
    p.add_argument("--policy-params", type=json.loads, default={},
                   help='JSON: {"tiki-taka": {"transfer_lr": 0.5}} (default: the '
                        "settings the config's design gives, e.g. mixed_precision_verify)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--compute", choices=("ideal", "hardware"), default="ideal")
    args = p.parse_args(argv)

    from cosim.cli.main import tune_malloc
    from cosim.config import load_config

    tune_malloc()
    results: dict[str, list[float]] = {}
    for policy in args.policies:
        for seed in args.seeds:
            config = load_config(args.config, [*args.overrides, f"seed={seed}"])
            t = time.perf_counter()
            acc = run_one(config, args.device, policy, args.policy_params.get(policy, {}),
                          args.compute)
            results.setdefault(policy, []).append(acc)
            print(f"{policy:16s} seed {seed}: test accuracy {acc:.4f} "
                  f"({time.perf_counter() - t:.0f} s)", flush=True)
    print(f"device {args.device}, compute {args.compute}, config {args.config.name} "
          f"{' '.join(args.overrides)}")
    for policy, accs in results.items():
        print(f"{policy:16s} mean {np.mean(accs):.4f}  "
              f"({', '.join(f'{a:.4f}' for a in accs)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
