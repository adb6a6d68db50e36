//! Any bytes through the IDX reader, alone and as an images/labels pair.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lran::data::idx::{LabelledImages, parse_idx};

fuzz_target!(|data: &[u8]| {
    if let Ok(array) = parse_idx("fuzz-idx", data) {
        assert_eq!(array.values.len(), array.dims.iter().product::<usize>());
    }
    let cut = data.first().map_or(0, |&b| b as usize).min(data.len());
    let (images, labels) = data.split_at(cut);
    if let Ok(set) = LabelledImages::from_idx("images", images, "labels", labels) {
        for i in 0..set.len() {
            assert_eq!(set.image(i).len(), set.width * set.height);
        }
    }
});
