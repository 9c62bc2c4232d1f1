"""Which parameter slices share a channel: the groups that filter pruning must cut together.

The network is traced once to paddle's old static program format (`paddle.pir_utils.OldIrGuard`), and
every variable's channel axis (axis 1 of activations, axis 0 of 1-D parameters) is followed op by op.
A convolution starts a new channel space (a *group*) for its output; batch norm, activations,
pooling and resizing pass channels through; a residual add or a broadcast multiply joins the groups
of its two inputs; a concat lines its inputs' groups up one after another; a depthwise convolution
carries its input's groups to its output. A group lists its *members*: `(parameter, axis, at)`,
meaning channel `c` of the group is index `at + c` of that parameter along `axis`. Parameters here
are named by their structured names (`layer1.0.conv1.weight`), so the groups apply to any instance
of the same network.

A group is *frozen* (never pruned) when an op this module does not understand touches it, when it
reaches the network's output or input, or when its two sides disagree (a grouped convolution, a
channel split). Frozen is always safe: it only means fewer channels can be cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import paddle

Member = tuple[str, int, int]  # (structured parameter name, axis, offset along that axis)
Segments = list[tuple[int, int]]  # a tensor's channel axis: (group id, offset) of each group in order

PASS_THROUGH = frozenset({
    "relu", "relu6", "leaky_relu", "sigmoid", "hard_sigmoid", "hard_swish", "swish", "silu", "tanh", "gelu",
    "elu", "mish", "scale", "dropout", "pool2d", "bilinear_interp_v2", "nearest_interp_v2", "bicubic_interp_v2",
    "linear_interp_v2", "pad3d", "cast", "clip", "assign", "softmax", "exp", "sqrt", "abs", "square",
})
NORMS = frozenset({"batch_norm", "sync_batch_norm"})
ELEMENTWISE = frozenset({"elementwise_add", "elementwise_sub", "elementwise_mul", "elementwise_div",
                         "elementwise_max", "elementwise_min"})
REDUCE = frozenset({"reduce_mean", "reduce_sum", "reduce_max", "reduce_min"})
IGNORED = frozenset({"feed", "fetch", "shape", "shape64", "fill_constant"})


@dataclass
class Group:
    """One channel space: its size, the parameter slices that follow it, and whether it may be cut."""

    size: int
    members: list[Member] = field(default_factory=list)
    producers: list[Member] = field(default_factory=list)  # filters whose output channels these are
    frozen: bool = False


class _Tracer:
    """Follows the channel axis through a static program's ops."""

    def __init__(self, block: Any, names: dict[str, str]) -> None:
        self.block, self.names = block, names
        self.groups: list[Group] = []
        self.parent: list[int] = []
        self.segs: dict[str, Segments] = {}
        self.views: dict[str, str] = {}  # a 1-D parameter reshaped to [1, C, 1, 1] (a convolution's bias)

    # -- union-find over groups -------------------------------------------------------------------
    def new(self, size: int, frozen: bool = False) -> int:
        self.groups.append(Group(size, frozen=frozen))
        self.parent.append(len(self.parent))
        return len(self.parent) - 1

    def find(self, g: int) -> int:
        while self.parent[g] != g:
            self.parent[g] = self.parent[self.parent[g]]
            g = self.parent[g]
        return g

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a == b:
            return
        ga, gb = self.groups[a], self.groups[b]
        if ga.size != gb.size:
            ga.frozen = gb.frozen = True
            return
        self.parent[b] = a
        ga.members += gb.members
        ga.producers += gb.producers
        ga.frozen = ga.frozen or gb.frozen

    def freeze(self, segs: Segments) -> None:
        for g, _ in segs:
            self.groups[self.find(g)].frozen = True

    # -- variables --------------------------------------------------------------------------------
    def shape(self, var: str) -> list[int]:
        return list(self.block.var(var).shape)

    def channels(self, var: str) -> Segments:
        """The segments of `var`'s channel axis; a variable first seen here gets a frozen group."""
        if var not in self.segs:
            shape = self.shape(var)
            self.segs[var] = [(self.new(shape[1] if len(shape) > 1 else 1, frozen=True), 0)]
        return self.segs[var]

    def attach(self, segs: Segments, param: str, axis: int, producer: bool = False) -> None:
        """`param`'s `axis` follows the channels `segs`."""
        for g, at in segs:
            root = self.groups[self.find(g)]
            (root.producers if producer else root.members).append((self.names[self.param(param)], axis, at))

    def unify(self, a: Segments, b: Segments) -> None:
        """Two channel axes that must stay equal."""
        sizes = [self.groups[self.find(g)].size for g, _ in a], [self.groups[self.find(g)].size for g, _ in b]
        if sizes[0] != sizes[1]:
            self.freeze(a + b)
            return
        for (ga, _), (gb, _) in zip(a, b):
            self.union(ga, gb)

    def is_param(self, var: str) -> bool:
        return var in self.names or var in self.views

    def param(self, var: str) -> str:
        """The parameter behind `var` (itself, or the one it is a view of)."""
        return self.views.get(var, var)

    # -- ops --------------------------------------------------------------------------------------
    def op(self, op: Any) -> None:
        t = op.type
        if t in IGNORED:
            return
        handler = getattr(self, "_" + t, None)
        if handler is not None:
            handler(op)
        elif t in PASS_THROUGH:
            self.segs[op.output("Out")[0]] = self.channels(op.input("X")[0])
        elif t in NORMS:
            self._norm(op)
        elif t in ELEMENTWISE:
            self._elementwise(op)
        elif t in REDUCE:
            self._reduce(op)
        else:
            self._unknown(op)

    def _unknown(self, op: Any) -> None:
        for slot in op.input_names:
            for var in op.input(slot):
                if var in self.segs:
                    self.freeze(self.segs[var])
        for slot in op.output_names:
            for var in op.output(slot):
                if self.block.has_var(var) and var not in self.segs and len(self.shape(var)) > 1:
                    self.segs[var] = [(self.new(self.shape(var)[1], frozen=True), 0)]

    def _conv2d(self, op: Any) -> None:
        x, w, out = op.input("Input")[0], op.input("Filter")[0], op.output("Output")[0]
        segs, groups = self.channels(x), int(op.attr("groups") or 1)
        c_out, c_in = self.shape(w)[0], self.shape(x)[1]
        if not self.is_param(w) or op.attr("data_format") not in ("NCHW", "AnyLayout"):
            return self._unknown(op)
        if groups == 1:
            self.attach(segs, w, 1)
            g = self.new(c_out)
            self.attach([(g, 0)], w, 0, producer=True)
            self.segs[out] = [(g, 0)]
        elif groups == c_in == c_out:  # depthwise: the input's channels go straight through
            self.attach(segs, w, 0)
            self.segs[out] = segs
        else:
            self.freeze(segs)
            self.segs[out] = [(self.new(c_out, frozen=True), 0)]

    _depthwise_conv2d = _conv2d

    def _conv2d_transpose(self, op: Any) -> None:
        x, w, out = op.input("Input")[0], op.input("Filter")[0], op.output("Output")[0]
        segs = self.channels(x)
        if not self.is_param(w) or int(op.attr("groups") or 1) != 1:
            return self._unknown(op)
        self.attach(segs, w, 0)
        g = self.new(self.shape(w)[1])
        self.attach([(g, 0)], w, 1, producer=True)
        self.segs[out] = [(g, 0)]

    def _norm(self, op: Any) -> None:
        segs = self.channels(op.input("X")[0])
        for slot in ("Scale", "Bias", "Mean", "Variance"):
            for var in op.input(slot):
                self.attach(segs, var, 0)
        self.segs[op.output("Y")[0]] = segs

    def _elementwise(self, op: Any) -> None:
        x, y, out = op.input("X")[0], op.input("Y")[0], op.output("Out")[0]
        xs, ys, axis = self.shape(x), self.shape(y), op.attr("axis")
        if y in self.views and len(xs) == len(ys) and ys[1] == xs[1]:
            segs = self.channels(x)
            self.attach(segs, y, 0)
            self.segs[out] = segs
        elif self.is_param(y) and len(ys) == 1 and len(xs) >= 2 and (axis == 1 or (len(xs) == 2 and axis == -1)):
            segs = self.channels(x)
            self.attach(segs, y, 0)
            self.segs[out] = segs
        elif self.is_param(y) or self.is_param(x):
            self._unknown(op)
        elif len(ys) <= 1 or (len(ys) == len(xs) and ys[1] == 1):  # a scalar, or one channel broadcast
            self.segs[out] = self.channels(x)
        elif len(xs) == len(ys) and xs[1] == 1:
            self.segs[out] = self.channels(y)
        elif len(xs) == len(ys) and xs[1] == ys[1]:
            self.unify(self.channels(x), self.channels(y))
            self.segs[out] = self.channels(x)
        else:
            self._unknown(op)

    def _reduce(self, op: Any) -> None:
        x, out = op.input("X")[0], op.output("Out")[0]
        rank = len(self.shape(x))
        dims = {d % rank for d in (op.attr("dim") or [])}
        if op.attr("reduce_all") or 1 in dims:
            self.channels(x)  # the channels are summed away: any count works
        elif op.attr("keep_dim"):
            self.segs[out] = self.channels(x)
        else:
            self._unknown(op)

    def _concat(self, op: Any) -> None:
        xs, out = op.input("X"), op.output("Out")[0]
        rank = len(self.shape(out))
        if (op.attr("axis") % rank if rank else 0) != 1 or op.input("AxisTensor"):
            return self._unknown(op)
        segs: Segments = []
        offset = 0
        for x in xs:
            for g, at in self.channels(x):
                segs.append((g, offset + at))
            offset += self.shape(x)[1]
        self.segs[out] = segs

    def _flatten_contiguous_range(self, op: Any) -> None:
        self._squeeze_like(op)

    def _reshape2(self, op: Any) -> None:
        self._squeeze_like(op)

    _squeeze2 = _unsqueeze2 = _reshape2

    def _squeeze_like(self, op: Any) -> None:
        """[N, C, 1, 1] <-> [N, C] keeps the channel axis; any other reshape is not followed."""
        x, out = op.input("X")[0], op.output("Out")[0]
        xs, os_ = self.shape(x), self.shape(out)
        if x in self.names and len(xs) == 1 and len(os_) > 1 and os_[1] == xs[0] and os_.count(1) == len(os_) - 1:
            self.views[out] = x
        elif len(xs) > 1 and len(os_) > 1 and xs[1] == os_[1] and all(d == 1 for d in xs[2:] + os_[2:]):
            self.segs[out] = self.channels(x)
        else:
            self._unknown(op)

    def _matmul_v2(self, op: Any) -> None:
        x, w, out = op.input("X")[0], op.input("Y")[0], op.output("Out")[0]
        if not self.is_param(w) or len(self.shape(x)) != 2 or op.attr("trans_x"):
            return self._unknown(op)
        c_in, c_out = (1, 0) if op.attr("trans_y") else (0, 1)
        self.attach(self.channels(x), w, c_in)
        g = self.new(self.shape(w)[c_out])
        self.attach([(g, 0)], w, c_out, producer=True)
        self.segs[out] = [(g, 0)]

    def _slice(self, op: Any) -> None:
        x, out = op.input("Input")[0], op.output("Out")[0]
        rank = len(self.shape(x))
        if x in self.segs and rank > 1 and 1 not in {a % rank for a in op.attr("axes")} \
                and not op.attr("decrease_axis"):
            self.segs[out] = self.segs[x]
        else:
            self._unknown(op)

    def _arg_max(self, op: Any) -> None:
        self.channels(op.input("X")[0])


def trace(model: paddle.nn.Layer, input_shape: Sequence[int]) -> list[Group]:
    """The channel groups of `model` (unchanged by this) for an input of `input_shape` ([1, C, H, W])."""
    from paddle.static import InputSpec

    names = {p.name: n for n, p in model.named_parameters()}
    names.update({b.name: n for n, b in model.named_buffers()})
    was_training = model.training
    model.eval()
    forward = model.forward
    try:
        with paddle.pir_utils.OldIrGuard():
            spec = InputSpec(list(input_shape), "float32", "x")
            static = paddle.jit.to_static(model, input_spec=[spec], full_graph=True)
            concrete = static.forward.get_concrete_program(spec)[0]
            program = concrete.main_program
            tracer = _Tracer(program.global_block(), names)
            tracer.segs[concrete.inputs[-1].name if concrete.inputs else "x"] = [(tracer.new(input_shape[1], True), 0)]
            for op in program.global_block().ops:
                tracer.op(op)
            for out in _flat(concrete.outputs):
                if out.name in tracer.segs:
                    tracer.freeze(tracer.segs[out.name])
    finally:
        model.forward = forward
        if "forward" in model.__dict__ and model.__dict__["forward"] is forward:
            del model.__dict__["forward"]
        model.train(was_training)
    roots = {tracer.find(g) for g in range(len(tracer.groups))}
    return [tracer.groups[r] for r in sorted(roots)]


def prunable(groups: list[Group]) -> list[Group]:
    """The groups that can be cut: not frozen, with a filter producing them, more than one channel."""
    return [g for g in groups if not g.frozen and g.producers and g.size > 1]


def _flat(outputs: Any) -> list[Any]:
    if isinstance(outputs, (list, tuple)):
        return [v for item in outputs for v in _flat(item)]
    return [outputs] if hasattr(outputs, "name") else []
