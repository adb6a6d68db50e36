// The loaded model described for visitors: where it came from, what it takes and what its
// threshold means, all read from its model.json (as the model thread parsed it) and the
// site's build.json.

import { $, formatScore, megabytes } from './ui.js';

function fact(list, term, text) {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.textContent = text;
  list.append(dt, dd);
}

/** Fills the model panel with `card`'s facts; `entry` is its line of models.json. */
export function describeModel(card, entry) {
  const list = $('model-facts');
  list.replaceChildren();
  const p = card.provenance;
  const normal = p.normal_class === null || p.normal_class === undefined ? '' : `, normal class ${p.normal_class}`;
  const input = card.brain_input
    ? `axial ${card.brain_input.modalities.join('+').toUpperCase()} slices, ${card.model.image_size}×${card.model.image_size}, z-scored inside the brain`
    : `${card.model.image_size}×${card.model.image_size}×${card.model.channels} images`;
  fact(list, 'Trained on', `${p.dataset}${normal}: healthy/normal images only`);
  fact(list, 'Input', input);
  fact(list, 'Network', `latent ${card.model.latent_dim}, width ${card.model.base_width}; loss weights rec ${card.losses.reconstruction.weight}, adv ${card.losses.adversarial.weight}, lat ${card.losses.latent.weight}, low-rank ${card.losses.low_rank.weight}`);
  fact(list, 'Training', `${p.epochs} epochs (weights of epoch ${p.selected_epoch}, chosen on validation data), seed ${p.seed}, ${p.device}, commit ${p.commit}`);
  if (card.results) {
    const r = card.results;
    fact(list, 'Test AUC (ours)', `latent score ${r.latent_auc.toFixed(3)}, pixel score ${r.pixel_auc.toFixed(3)} on ${r.test_images} ${r.dataset} test images (${r.test_anomalous} anomalous), from its results file (commit ${r.commit})`);
  }
  const t = card.calibration.latent;
  fact(list, 'Threshold', `${formatScore(t.threshold)}: the ${t.threshold_percentile}th percentile of ${t.count} healthy validation scores`);
  fact(list, 'Download', `${megabytes(entry.bytes)} (model.json and ${card.weights_precision ?? 'f32'} weights)`);
  list.hidden = false;
  const note = $('model-note');
  note.textContent = card.brain_input
    ? 'Drop a skull-stripped brain MRI volume (NIfTI, T1) to score every axial slice, or try a sample slice below. A high score means unlike the healthy training brains, not disease.'
    : 'Drop PNG or JPEG images, or try a sample below. A high score means unlike the normal class.';
  note.hidden = false;
}

export function hideModel() {
  $('model-facts').hidden = true;
  $('model-note').hidden = true;
}

/** The footer's line about the WebAssembly module `name` (from build.json). */
export function showBuild(build, name) {
  const facts = build?.modules.find((m) => m.name === name);
  if (facts) {
    $('build-facts').textContent = `WebAssembly module ${name}: ${megabytes(facts.wasm_bytes)} (${megabytes(facts.wasm_gzip_bytes)} gzipped); commit ${build.commit}, wasm-bindgen ${build.wasm_bindgen}.`;
  }
}
