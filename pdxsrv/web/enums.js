// The API's status integers (pdxsrv.domain.enums, the original's) with their names and what they mean.
const tone = { ok: "ok", run: "run", bad: "bad", idle: "idle" };

export const DATASET_STATUS = {
  0: ["XEMPTY", "empty", tone.idle],
  1: ["XCHECKING", "checking", tone.run],
  2: ["XCHECKFAIL", "check failed", tone.bad],
  3: ["XCOPYING", "importing", tone.run],
  4: ["XCOPYDONE", "imported", tone.ok],
  5: ["XCOPYFAIL", "import failed", tone.bad],
  6: ["XSPLITED", "split", tone.ok],
};

export const TASK_STATUS = {
  0: ["XUNINIT", "not initialised", tone.idle],
  1: ["XINIT", "ready", tone.idle],
  2: ["XDOWNLOADING", "downloading weights", tone.run],
  3: ["XTRAINING", "training", tone.run],
  4: ["XTRAINDONE", "trained", tone.ok],
  5: ["XEVALUATED", "evaluated", tone.ok],
  6: ["XEXPORTING", "exporting", tone.run],
  7: ["XEXPORTED", "exported", tone.ok],
  8: ["XTRAINEXIT", "stopped", tone.idle],
  9: ["XDOWNLOADFAIL", "download failed", tone.bad],
  10: ["XTRAINFAIL", "training failed", tone.bad],
  11: ["XEVALUATING", "evaluating", tone.run],
  12: ["XEVALUATEFAIL", "evaluation failed", tone.bad],
  13: ["XEXPORTFAIL", "export failed", tone.bad],
  14: ["XPRUNEING", "analysing sensitivities", tone.run],
  15: ["XPRUNETRAIN", "pruned training", tone.run],
};

export const PREDICT_STATUS = { 0: ["XPRESTART", "predicting", tone.run], 1: ["XPREDONE", "done", tone.ok], 2: ["XPREFAIL", "failed", tone.bad] };
export const PRUNE_STATUS = {
  0: ["XSPRUNESTART", "starting", tone.run], 1: ["XSPRUNEING", "analysing", tone.run], 2: ["XSPRUNEDONE", "done", tone.ok],
  3: ["XSPRUNEFAIL", "failed", tone.bad], 4: ["XSPRUNEEXIT", "stopped", tone.idle],
};
export const EXPORTED_TYPE = { 0: "inference", 1: "lite", 2: "onnx" };
export const PROJECT_TYPES = ["classification", "detection", "segmentation", "instance_segmentation", "remote_segmentation"];
export const TRAINING = new Set([3, 15]);
export const ACTIVE_TASK = new Set([2, 3, 6, 11, 14, 15]);
export const ACTIVE_DATASET = new Set([1, 3]);
export const TRAINED = new Set([4, 5, 6, 7, 11, 12, 13, 14]);  // has a trained model

import { h } from "./dom.js";

// A status badge: the human name, with the enum name and integer in its tooltip and data-status.
export function badge(table, value) {
  const [name, label, kind] = table[value] || [`#${value}`, `status ${value}`, tone.idle];
  return h("span", { class: `badge ${kind}`, title: `${name} = ${value}`, data: { status: name } }, label);
}
