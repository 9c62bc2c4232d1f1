"""Do the table's whole-model weights fit our networks? Build the publisher's network from its config and compare.

For every entry of `pdxsrv.weights.ENTRIES` with a `config` (a PaddleSeg v2.8.0 or PaddleDetection release/2.6
training config), the network that config builds (19 classes for Cityscapes, 80 for COCO; backbone `pretrained`
URLs dropped, so nothing downloads) is compared with ours for the same class count: the names the published file
holds (its `state_dict`) that ours lacks, ours that it lacks, and those whose shapes differ (a loader skips those).
Needs checkouts of the two toolkits' `configs/` folders (no network). Each entry runs in its own process (paddledet's
config loader merges into one global). Run by hand (about two minutes on 2 cores; results in bench/RESULTS.md):

    python bench/weights_check.py --paddleseg-configs PaddleSeg/configs --paddledet-configs PaddleDetection/configs
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pdxsrv.weights import ENTRIES, Entry  # noqa: E402


def _shapes(net: object) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in net.state_dict().items()}  # type: ignore[attr-defined]


def _seg_reference(configs: str, entry: Entry) -> object:
    from paddleseg.cvlibs import Config
    from paddleseg.cvlibs.builder import SegBuilder

    cfg = Config(os.path.join(configs, entry.config or ""))
    model = cfg.model_cfg
    model.pop("pretrained", None)
    model.setdefault("num_classes", 19)
    if isinstance(model.get("backbone"), dict):
        model["backbone"].pop("pretrained", None)
    return SegBuilder(cfg).build_component(model)


def _det_reference(configs: str, entry: Entry) -> object:
    from ppdet.core.workspace import create, load_config

    importlib.import_module("ppdet.modeling")  # registers the modules the config names

    return create(load_config(os.path.join(configs, entry.config or "")).architecture)


def compare(entry: Entry, seg_configs: str, det_configs: str) -> dict[str, object]:
    """Missing, extra and shape-differing names of our network against the publisher's."""
    from pdxsrv.engine import det_models, seg_models

    if entry.model in seg_models.MODELS:
        published = _shapes(_seg_reference(seg_configs, entry))
        ours = _shapes(seg_models.build(entry.model, 19, 3, {"backbone": entry.backbone}))
    else:
        published = _shapes(_det_reference(det_configs, entry))
        ours = _shapes(det_models.build(entry.model, 80, entry.backbone, {"image_shape": [800, 1333]}))
    ours_names = {k[len(entry.prefix):] for k in ours}
    return {"file": entry.file, "config": entry.config, "names": len(published),
            "missing": sorted(set(published) - ours_names), "extra": sorted(ours_names - set(published)),
            "shape": sorted(k for k in set(published) & ours_names if published[k] != ours[entry.target(k)])}


def main() -> int:
    """Print one line per entry; exit 1 when any published name is missing from ours."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paddleseg-configs", required=True, metavar="DIR", help="PaddleSeg v2.8.0 configs/")
    parser.add_argument("--paddledet-configs", required=True, metavar="DIR", help="PaddleDetection 2.6 configs/")
    parser.add_argument("--one", default=None, metavar="FILE", help="check one entry and print JSON (internal)")
    args = parser.parse_args()
    if args.one:
        entry = next(e for e in ENTRIES if e.file == args.one and e.config)
        print(json.dumps(compare(entry, args.paddleseg_configs, args.paddledet_configs)))
        return 0
    failed = False
    for entry in (e for e in ENTRIES if e.config):
        run = subprocess.run([sys.executable, __file__, "--paddleseg-configs", args.paddleseg_configs,
                              "--paddledet-configs", args.paddledet_configs, "--one", entry.file],
                             capture_output=True, text=True)
        if run.returncode != 0:
            print(f"{entry.file}: the check failed: {run.stderr.strip().splitlines()[-1:]}")
            failed = True
            continue
        result = json.loads(run.stdout.strip().splitlines()[-1])
        failed |= bool(result["missing"])
        print(f"{entry.file:<44} {result['names']:>5} names, {len(result['missing'])} missing in ours, "
              f"{len(result['extra'])} only in ours, {len(result['shape'])} of other shapes "
              f"{result['shape'][:2]}{'...' if len(result['shape']) > 2 else ''}  ({entry.config})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
