//! The browser page: `web` builds the WebAssembly package and `dist` the whole site, `serve`
//! serves it locally, `samples` cuts the gallery of real brain slices.

pub mod listings;
pub mod samples;
pub mod serve;
pub mod web;
