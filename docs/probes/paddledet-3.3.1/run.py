"""python run.py MODEL train|export [--size 320] [--iters 4]"""
import os, sys, time, json, traceback, argparse
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument('model'); ap.add_argument('stage')
ap.add_argument('--size', type=int, default=320); ap.add_argument('--iters', type=int, default=4)
ap.add_argument('--bs', type=int, default=2); ap.add_argument('--tag', default='')
ap.add_argument('--epoch_id', type=int, default=0)
a = ap.parse_args()
import numpy as np
import paddle
import shims
applied = shims.apply()
import common, builders

RES = '/tmp/det_probe/results'
name = a.model + (('_' + a.tag) if a.tag else '')
res = dict(model=a.model, stage=a.stage, shims=applied, size=a.size, bs=a.bs, paddle=paddle.__version__,
           pir=os.environ.get('FLAGS_enable_pir_api', 'default'), fallback=os.environ.get('ENABLE_FALL_BACK', 'default'))
paddle.seed(0); np.random.seed(0)
NC = 3


def summarize(out):
    d = {}
    for k, v in out.items():
        if isinstance(v, paddle.Tensor):
            d[k] = dict(shape=list(v.shape), dtype=str(v.dtype).replace('paddle.', ''))
    if 'bbox' in out:
        d['bbox_head'] = out['bbox'].numpy()[:3].round(3).tolist()
    if 'bbox_num' in out:
        d['bbox_num_val'] = out['bbox_num'].numpy().tolist()
    return d


def eval_inputs(samples):
    b = common.batch_common(samples)
    return {k: b[k] for k in ('image', 'im_shape', 'scale_factor')}


def main():
    samples = common.load_samples(size=a.size)
    model, batch_fn = builders.BUILDERS[a.model](NC, a.size)
    res['params_M'] = round(sum(int(np.prod(p.shape)) for p in model.parameters()) / 1e6, 2)
    ev = samples[:int(os.environ.get('PROBE_EVAL_BS', '2'))]
    if a.stage == 'train':
        opt = paddle.optimizer.Momentum(learning_rate=1e-3, momentum=0.9, parameters=model.parameters(),
                                        weight_decay=paddle.regularizer.L2Decay(1e-4), grad_clip=paddle.nn.ClipGradByGlobalNorm(10.))
        model.train()
        times, losses = [], []
        for it in range(a.iters):
            bsamp = [samples[(it * a.bs + j) % len(samples)] for j in range(a.bs)]
            t0 = time.time()
            inputs = batch_fn(bsamp)
            if a.model.startswith('picodet'):
                inputs['epoch_id'] = a.epoch_id
            if it == 0:
                res['train_inputs'] = {k: (dict(shape=list(v.shape), dtype=str(v.dtype).replace('paddle.', ''))
                                           if isinstance(v, paddle.Tensor) else
                                           ('list[%d] of %s' % (len(v), (dict(shape=list(v[0].shape), dtype=str(v[0].dtype).replace('paddle.', '')) if isinstance(v[0], paddle.Tensor) else 'list of polygons np.float32')) if isinstance(v, list) else repr(v)))
                                       for k, v in inputs.items()}
            out = model(inputs)
            loss = out['loss']
            loss.backward(); opt.step(); opt.clear_grad()
            times.append(time.time() - t0)
            losses.append({k: round(float(v), 4) for k, v in out.items() if isinstance(v, paddle.Tensor) and v.size == 1})
            print('iter', it, round(times[-1], 2), losses[-1], flush=True)
        res['train'] = 'PASS'
        res['iter_s'] = [round(t, 2) for t in times]
        res['s_per_iter_after_first'] = round(float(np.mean(times[1:])) if len(times) > 1 else times[0], 2)
        res['losses'] = losses
        paddle.save(model.state_dict(), os.path.join(RES, name + '.pdparams'))
        model.eval()
        t0 = time.time()
        with paddle.no_grad():
            out = model(eval_inputs(ev))
        res['eval_s'] = round(time.time() - t0, 2)
        res['eval'] = 'PASS'
        res['eval_out'] = summarize(out)
        if 'mask' in out:
            m = out['mask'].numpy(); res['eval_out']['mask_unique'] = np.unique(m).tolist()[:5]
        if 'segm' in out:
            m = out['segm'].numpy(); res['eval_out']['segm_unique'] = np.unique(m).tolist()[:5]
    elif a.stage == 'export':
        model.set_state_dict(paddle.load(os.path.join(RES, a.model + '.pdparams')))
        model.eval()
        inp = eval_inputs(ev)
        with paddle.no_grad():
            dyn = model(dict(inp))
        from paddle.static import InputSpec
        spec = [{'image': InputSpec([None, 3, -1, -1], 'float32', 'image'),
                 'im_shape': InputSpec([None, 2], 'float32', 'im_shape'),
                 'scale_factor': InputSpec([None, 2], 'float32', 'scale_factor')}]
        keys = os.environ.get('PROBE_SPEC_KEYS', 'image,im_shape,scale_factor').split(',')
        spec = [{k: v for k, v in spec[0].items() if k in keys}]
        res['spec_keys'] = keys
        full = os.environ.get('PROBE_FULL_GRAPH', '1') == '1'
        res['full_graph'] = full
        t0 = time.time()
        static = paddle.jit.to_static(model, input_spec=spec, full_graph=full)
        prefix = os.path.join(RES, name + '_infer', 'model')
        paddle.jit.save(static, prefix)
        res['export_s'] = round(time.time() - t0, 2)
        res['export_files'] = sorted(os.listdir(os.path.dirname(prefix)))
        res['jit_save'] = 'PASS'
        from paddle import inference as pi
        pm = prefix + ('.json' if os.path.exists(prefix + '.json') else '.pdmodel')
        cfg = pi.Config(pm, prefix + '.pdiparams')
        cfg.disable_gpu()
        if os.environ.get('PROBE_MKLDNN', '0') != '1':
            cfg.disable_mkldnn()
        pred = pi.create_predictor(cfg)
        res['pred_inputs'] = pred.get_input_names(); res['pred_outputs'] = pred.get_output_names()
        for n in pred.get_input_names():
            pred.get_input_handle(n).copy_from_cpu(inp[n].numpy())
        pred.run()
        outs = [pred.get_output_handle(n).copy_to_cpu() for n in pred.get_output_names()]
        res['infer_out_shapes'] = [list(o.shape) for o in outs]
        dyn_np = {k: v.numpy() for k, v in dyn.items() if isinstance(v, paddle.Tensor)}
        res['dyn_out_shapes'] = {k: list(v.shape) for k, v in dyn_np.items()}
        cmp = {}
        for k, v in dyn_np.items():
            for i, o in enumerate(outs):
                if o.shape == v.shape and o.dtype == v.dtype and i not in cmp.values():
                    cmp[k] = i; break
        res['match'] = {k: float(np.abs(dyn_np[k].astype('float64') - outs[i].astype('float64')).max()) if dyn_np[k].size else 0.0
                        for k, i in cmp.items()}
        res['infer'] = 'PASS' if len(cmp) == len(dyn_np) and all(v < 1e-3 or k in ('mask', 'segm') for k, v in res['match'].items()) else 'MISMATCH'


try:
    main()
except BaseException as e:
    res['error'] = '%s: %s' % (type(e).__name__, str(e)[-1500:])
    res['traceback'] = traceback.format_exc()[-4000:]
    traceback.print_exc()
finally:
    res['wall_s'] = round(time.time() - float(os.environ.get('PROBE_T0', time.time())), 1)
    with open(os.path.join(RES, '%s.%s%s.json' % (name, a.stage, os.environ.get('PROBE_SUFFIX', ''))), 'w') as f:
        json.dump(res, f, indent=1, default=str)
    print(json.dumps({k: v for k, v in res.items() if k != 'traceback'}, default=str)[:3000])
