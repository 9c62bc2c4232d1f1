"""Does the batch-norm pass before evaluation help a model? The same weights, evaluated both ways.

Trains the recommendation (`GET /project/task/params`, no pretrained weights) of one model on the
defaults bench's generated data (bench/defaults_bench.py, 64 px) with the pass switched off in the
loop, so the checkpoint keeps the running averages, then evaluates its best model on `--eval-images`
newly generated images (another seed) with those and with statistics recomputed by
`engine.bn_stats.recompute` over the training images, and prints both and the pass's seconds.
Training is deterministic and the pass does not change it, so these are the weights the loop with
the pass would train. The output is kept (`--work`): a second run only evaluates. Run by hand:
python bench/bn_pass_check.py --type detection --model YOLOv3 --images 50
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import defaults_bench as bench  # noqa: E402
from pdxsrv.engine import bn_stats, checkpoint, data, inference, loop  # noqa: E402
from pdxsrv.engine.kinds import kind_of  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--type", required=True)
    parser.add_argument("--model", default="default")
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--eval-images", type=int, default=200)
    parser.add_argument("--work", default="/tmp/pdxsrv-bn-pass")
    args = parser.parse_args()
    loop.use_device()
    work = os.path.join(args.work, f"{args.type}-{args.model}-{args.images}")
    train_set = bench.dataset(args.type, os.path.join(args.work, f"data-{args.type}-{args.images}"), args.images, 64)
    params = bench.recommendation(args.type, None if args.model == "default" else args.model, train_set, 64)["train"]
    best = os.path.join(work, checkpoint.BEST)
    if not os.path.isdir(best):
        kind_of(args.type).fresh_bn_stats = False  # this process only: keep the running averages
        began = time.time()
        loop.train(loop.Run(work, args.type, train_set, params), bench.Recorder())
        print(f"trained in {time.time() - began:.0f} s", flush=True)
    fresh = bench.dataset(args.type, os.path.join(args.work, f"eval-{args.type}-{args.eval_images}"),
                          args.eval_images, 64, seed=99, held_out=True)
    trained = inference.load_trained(best)
    print("running averages:", inference.summary_on(trained, fresh), flush=True)
    loader = data.Loader(trained.kind, train_set, trained.meta["params"])
    width, height = trained.meta["params"]["image_shape"]
    began = time.time()
    bn_stats.recompute(trained.kind, trained.model, loader, train_set.parts["train"],
                       trained.meta["params"]["batch_size"], width * height)
    took = time.time() - began
    loader.close()
    trained.model.eval()
    print(f"recomputed ({took:.1f} s):", inference.summary_on(trained, fresh), flush=True)


if __name__ == "__main__":
    main()
