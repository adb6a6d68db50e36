//! The browser page: `web` builds the WebAssembly package and `dist` the whole site, `serve`
//! serves it locally, `samples` cuts the gallery of real brain slices, `results_page` writes
//! the data of the results page (`www/results.html`).

pub mod listings;
pub mod results_page;
pub mod samples;
pub mod serve;
pub mod web;
