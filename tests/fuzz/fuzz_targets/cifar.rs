//! Any bytes through the CIFAR-10 batch reader, and the images it accepts into model input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lran::ModelConfig;
use lran::data::cifar::parse_batch;
use lran::preprocess::planes_to_input;

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = parse_batch("fuzz.bin", data) {
        let config = ModelConfig { channels: 3, ..ModelConfig::tiny(3) };
        for i in 0..batch.len().min(4) {
            let input = planes_to_input(batch.image(i), 3, batch.width, batch.height, &config).unwrap();
            assert!(input.iter().all(|v| (-1.0..=1.0).contains(v)));
        }
    }
});
