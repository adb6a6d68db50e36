// The one message protocol between the page (www/model-thread.js) and the model thread
// (www/worker.js). Every message carries its request's `id`. Both sides check what they
// receive against the tables below, so a change on one side that the other does not know fails
// at once, naming the message and the field, instead of deep inside a drawing function.
//
//   page → model thread                            model thread → page
//   { id, type: 'load', backend, card, weights,    { id, type: 'loaded', module, backend, gpu,
//       volumeBatch }                                  warmMs, warmVolumePasses, colormaps,
//                                                      heatmapMax, scope, card }
//                                                      (warmVolumePasses: how often the warm-up
//                                                      read and scored its synthetic head; 0 for
//                                                      a model that takes no single volume)
//       backend: 'auto' | 'webgpu' | 'cpu'
//       card: model.json's text (parsed once, by the Rust code; the reply carries the result)
//       volumeBatch: the slices per 'volume' batch, which a brain model's warm-up scores by
//   { id, type: 'image', name, bytes }             { id, type: 'image', report, ms }
//   { id, type: 'volume', name, bytes, batch }     { id, type: 'volume-open', sliceCount,
//                                                      totalSlices, axial, ms }
//                                                  { id, type: 'volume-slices', start, reports }
//                                                      (repeated, in order)
//                                                  { id, type: 'volume-done', ms, anomalyMap,
//                                                      mapMs, memory }
//                                                      (anomalyMap: the scored slices' residuals
//                                                      in the volume's grid, .nii bytes;
//                                                      memory: { wasmBytes, heapBytes } of the
//                                                      model thread after the volume is freed)
//   any request that fails                         { id, type: 'error', message }
//
// A report (src/web.rs, PageReport) holds only what the page draws: the scores and verdict, the
// input and reconstruction as RGBA bytes, the residual map, z, ẑ, z's place in the latent
// explorer (latent_xyz, absent when the model has no latent views) and warnings.

export const REQUESTS = {
  load: ['backend', 'card', 'weights', 'volumeBatch'],
  image: ['name', 'bytes'],
  volume: ['name', 'bytes', 'batch'],
};

export const REPLIES = {
  loaded: ['module', 'backend', 'gpu', 'warmMs', 'warmVolumePasses', 'colormaps', 'heatmapMax', 'scope', 'card'],
  image: ['report', 'ms'],
  'volume-open': ['sliceCount', 'totalSlices', 'axial', 'ms'],
  'volume-slices': ['start', 'reports'],
  'volume-done': ['ms', 'anomalyMap', 'mapMs', 'memory'],
  error: ['message'],
};

export const REPORT_FIELDS = [
  'latent_score',
  'pixel_score',
  'normalised_score',
  'healthy_percentile',
  'threshold',
  'anomalous',
  'input_rgba',
  'reconstruction_rgba',
  'residual',
  'latent',
  'reconstructed_latent',
  'warnings',
];

/** What an error says, for an error reply or the page (anything thrown, not only Errors). */
export function message(error) {
  return error instanceof Error ? error.message : String(error);
}

/** Replies that report progress on a request and leave it open. */
export const PROGRESS_REPLIES = new Set(['volume-open', 'volume-slices']);

function check(kind, table, message) {
  const fields = table[message?.type];
  if (!fields) throw new Error(`model thread protocol: unknown ${kind} ${JSON.stringify(message?.type)}`);
  if (!Number.isInteger(message.id)) throw new Error(`model thread protocol: the ${message.type} ${kind} has no id`);
  const missing = fields.filter((field) => message[field] === undefined);
  if (missing.length > 0) {
    throw new Error(`model thread protocol: the ${message.type} ${kind} lacks ${missing.join(', ')}`);
  }
}

function checkReport(report, where) {
  const missing = REPORT_FIELDS.filter((field) => report?.[field] === undefined);
  if (missing.length > 0) throw new Error(`model thread protocol: ${where} lacks ${missing.join(', ')}`);
}

/** Throws, naming the problem, unless `message` is a request of the protocol. */
export function checkRequest(message) {
  check('request', REQUESTS, message);
}

/** Throws, naming the problem, unless `message` is a reply of the protocol. */
export function checkReply(message) {
  check('reply', REPLIES, message);
  if (message.type === 'image') checkReport(message.report, 'an image reply\'s report');
  if (message.type === 'volume-slices') {
    message.reports.forEach((report, k) => checkReport(report, `report ${message.start + k} of a volume`));
  }
}
