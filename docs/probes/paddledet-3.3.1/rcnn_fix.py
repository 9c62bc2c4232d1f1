"""Narrow R-CNN shim: keep rois_num / bbox_num 1-D where paddledet 2.6.0 builds them.
paddledet appends 0-D scalars (paddle.shape(x)[0], bbox_num[i]; 0-D since paddle 2.5) to lists and
concatenates them: eager -> 'axis is expected to be in range of [0, 0)'; to_static -> a 0-D rois_num that
RCNNBox can't index. Each site below is rewritten to a 1-element slice ([0:1], [i:i + 1]) by recompiling
that one function/method from paddledet's own source (assert guards against a changed paddledet)."""
import inspect, sys, textwrap

SITES = [
    # (module, qualname, old, new)
    ('ppdet.modeling.proposal_generator.rpn_head', 'RPNHead._gen_proposal',
     'bs_rois_num_collect.append(paddle.shape(topk_rois)[0])',
     'bs_rois_num_collect.append(paddle.shape(topk_rois)[0:1])'),
    ('ppdet.modeling.proposal_generator.target', 'generate_proposal_target',
     'new_rois_num.append(paddle.shape(sampled_inds)[0])',
     'new_rois_num.append(paddle.shape(sampled_inds)[0:1])'),
    ('ppdet.modeling.proposal_generator.target', 'generate_mask_target',
     'mask_rois_num.append(paddle.shape(fg_rois)[0])',
     'mask_rois_num.append(paddle.shape(fg_rois)[0:1])'),
    ('ppdet.modeling.post_process', 'BBoxPostProcess.get_pred',
     'bbox_num_i = bbox_num[i]\n', 'bbox_num_i = bbox_num[i:i + 1]\n'),
    ('ppdet.modeling.post_process', 'BBoxPostProcess.get_pred',
     'scale_y, scale_x = scale_factor[i][0], scale_factor[i][1]',
     'scale_y, scale_x = scale_factor[i][0:1], scale_factor[i][1:2]'),
]
# modules that did `from .target import generate_proposal_target, ...` and so hold their own reference
ALIASES = {'ppdet.modeling.proposal_generator.target': ['ppdet.modeling.proposal_generator.target_layer']}


def _patch(modname, qualname, repls):
    import importlib
    mod = importlib.import_module(modname)
    parts = qualname.split('.')
    owner = mod if len(parts) == 1 else getattr(mod, parts[0])
    fn = getattr(owner, parts[-1])
    src = textwrap.dedent(inspect.getsource(fn))
    for old, new in repls:       # all edits of one function at once (getsource reads the original file)
        assert old in src, (qualname, old)
        src = src.replace(old, new)
    src = '\n'.join(l for l in src.splitlines() if not l.startswith('@'))  # drop decorators (none needed here)
    src = '\n' * (inspect.getsourcelines(fn)[1] - 1) + src    # keep paddledet's line numbers in tracebacks
    # own file name + linecache entry: dy2static (paddle.jit.to_static) re-reads a function's source with
    # inspect.getsource, so it must find the patched text, not paddledet's file
    import linecache
    fname = '<patched %s.%s>' % (modname, qualname)
    linecache.cache[fname] = (len(src), None, src.splitlines(True), fname)
    ns = {}
    exec(compile(src, fname, 'exec'), mod.__dict__, ns)
    new_fn = ns[parts[-1]]
    setattr(owner, parts[-1], new_fn)
    if len(parts) == 1:
        for alias in ALIASES.get(modname, []):
            am = importlib.import_module(alias)
            if getattr(am, parts[-1], None) is fn:
                setattr(am, parts[-1], new_fn)


_done = False


def apply():
    global _done
    if _done:
        return
    groups = {}
    for mod, qn, old, new in SITES:
        groups.setdefault((mod, qn), []).append((old, new))
    for (mod, qn), repls in groups.items():
        _patch(mod, qn, repls)
    _done = True
