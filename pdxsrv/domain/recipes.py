"""What a new task should train with (GET /project/task/params {pid}), pure: the recipe, its parameters and time.

`recommend(project_type, model_type, facts, weights)` answers
`{"train": {...}, "recipe": "fine_tune" | "from_scratch", "estimate": {"seconds", "method", "basis"}}`:

* **fine_tune** when the model's pretrained weights (the original's `pretrain_weights` keyword for it)
  can be had (`weights(params)`: in the machine's weights cache, or downloadable because the server
  is not offline): the original's values (`pdxsrv.domain.fine_tune`), keyword included;
* **from_scratch** otherwise: `pdxsrv.domain.from_scratch`; without `model_type` the recipe's own
  default model. On a CPU, when the estimate exceeds CPU_BUDGET, the epochs are cut (to half at most),
  then the image side steps down (to LEAST_SIDE at most), then the epochs again (to the recipe's
  `least_epochs`: 10, 4 for the R-CNN family, which learns in few steps); a run that still does not
  fit says so in its estimate.

`estimate` comes from measured step costs (`pdxsrv.domain.step_costs`: this machine's where it measured the
model, `Facts.costs`, else the reference machine's); null seconds on a GPU. The CPU budget is fitted with the
same costs, so a slower machine gets fewer epochs or smaller images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from pdxsrv.domain import from_scratch, step_costs
from pdxsrv.domain.fine_tune import fine_tune_params
from pdxsrv.domain.params import choose_model

CPU_BUDGET = 30 * 60  # seconds a recommended CPU run should stay within
SIDE_STEP = 32
LEAST_SIDE = 64  # the budget shrinks images no further (nor beyond the recipe's least, nor below the data's own)


@dataclass(frozen=True)
class Facts:
    """What the recommendation depends on besides the model: the devices and the dataset."""

    gpu_list: list[int]
    gpu_free_mb: list[int]
    cpu: tuple[int, int]  # (cores, free MB of RAM)
    num_train: int
    num_eval: int  # images evaluated per evaluation (val, else test, else train)
    num_classes: int
    image_side: float | None = None  # the dataset's mean short image side, when the import measured it
    costs: step_costs.Table | None = None  # this machine's step costs (measured and learned from runs), if any


def _from_scratch(project_type: str, model: str, facts: Facts) -> tuple[dict[str, Any], dict[str, Any]]:
    """The from-scratch parameters fitted to the CPU budget, and their estimate."""
    recipe = from_scratch.recipe_for(project_type, model)
    on_gpu = bool(facts.gpu_list)
    gpu_batch = None
    if on_gpu:
        gpu_batch = fine_tune_params(project_type, model, facts.gpu_list, facts.gpu_free_mb, 10**6,
                                     facts.num_classes, facts.cpu)["batch_size"]
    side = from_scratch.image_side(recipe, facts.image_side, on_gpu)
    least_side = min(side, max(recipe.side[0], LEAST_SIDE))
    cut = 1.0  # the share of the recipe's epochs kept
    while True:
        batch = from_scratch.batch_for(recipe, side, facts.num_train, gpu_batch)
        steps = max(facts.num_train // batch, 1)
        epochs = max(min(recipe.least_epochs, from_scratch.epochs_for(recipe, steps)),
                     int(from_scratch.epochs_for(recipe, steps) * cut))
        params = from_scratch.params(project_type, model, side, batch, epochs, steps, facts.gpu_list)
        estimate = step_costs.estimate(project_type, params, facts.num_train, facts.num_eval, facts.cpu[0], on_gpu,
                                       facts.costs)
        seconds = estimate["seconds"]
        if on_gpu or seconds is None or seconds <= CPU_BUDGET:
            return params, estimate
        if cut > 0.5:  # first half the epochs, then smaller images, then fewer epochs still
            cut = max(0.5, cut * CPU_BUDGET / seconds)
        elif side - SIDE_STEP >= least_side:
            side -= SIDE_STEP
        elif epochs > recipe.least_epochs:
            cut *= CPU_BUDGET / seconds
        else:
            return params, estimate


def recommend(project_type: str, model_type: str | None, facts: Facts,
              weights: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The recommended `train` parameters, which recipe they are, and the estimated training time."""
    model = choose_model(project_type, model_type)
    tuned = fine_tune_params(project_type, model, facts.gpu_list, facts.gpu_free_mb, facts.num_train,
                             facts.num_classes, facts.cpu)
    if tuned.get("pretrain_weights") and weights(tuned):
        estimate = step_costs.estimate(project_type, tuned, facts.num_train, facts.num_eval, facts.cpu[0],
                                       bool(facts.gpu_list), facts.costs)
        return {"train": tuned, "recipe": "fine_tune", "estimate": estimate}
    if model_type is None:
        model = from_scratch.RECIPES[project_type].model
    params, estimate = _from_scratch(project_type, model, facts)
    return {"train": params, "recipe": "from_scratch", "estimate": estimate}
