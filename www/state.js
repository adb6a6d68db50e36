// What the page holds: the site's lists (build, models, samples), the loaded model as the model
// thread described it (its card parsed once, by the Rust code) and what was scored. Scored items
// are kept for the slice views and the latent explorer, at most MAX_ITEMS of them and
// MAX_VOLUMES volumes, the oldest dropped first, so a visit that drops volume after volume holds bounded memory.

/** Scored files kept (images or volumes); older ones leave the views and the latent scatter. */
export const MAX_ITEMS = 8;
/** Of those, volumes kept (each holds its slices' pictures and residual maps: megabytes). */
export const MAX_VOLUMES = 2;

export const state = {
  build: null,
  models: [],
  samples: [],
  /** model.json of the loaded model, as the model thread parsed it. */
  card: null,
  /** What the model thread said when the model loaded (backend, colour maps, …). */
  engine: null,
  /** Scored items, newest last: { name, kind: 'image'|'volume', reports, axial, ms, … }. */
  items: [],
  /** The shown report: { item, index }. */
  current: null,
};

/** Keeps `item`, dropping the oldest beyond MAX_ITEMS. */
export function remember(item) {
  state.items.push(item);
  const volumes = () => state.items.filter((i) => i.kind === 'volume').length;
  while (state.items.length > MAX_ITEMS || volumes() > MAX_VOLUMES) {
    const at = state.items.length > MAX_ITEMS ? 0 : state.items.findIndex((i) => i.kind === 'volume');
    const [dropped] = state.items.splice(at, 1);
    if (state.current?.item === dropped) state.current = null;
  }
}

/** Forgets everything scored (a new model scores differently). */
export function forgetScored() {
  state.items.length = 0;
  state.current = null;
}
