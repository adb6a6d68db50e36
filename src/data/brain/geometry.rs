//! Plane geometry of the slice pipeline: connected parts, erosion, bounding boxes and the
//! area-averaging resample that cuts a crop down to the model size.

/// The largest 4-connected part of `mask`.
pub(super) fn largest_component(mask: &[bool], width: usize, height: usize) -> Vec<bool> {
    let mut label = vec![0u32; mask.len()];
    let (mut best, mut best_size, mut next) = (0u32, 0usize, 0u32);
    for start in 0..mask.len() {
        if !mask[start] || label[start] != 0 {
            continue;
        }
        next += 1;
        let mut size = 0;
        let mut stack = vec![start];
        label[start] = next;
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y) = (i % width, i / width);
            let neighbours = [
                (x > 0).then(|| i - 1),
                (x + 1 < width).then(|| i + 1),
                (y > 0).then(|| i - width),
                (y + 1 < height).then(|| i + width),
            ];
            for j in neighbours.into_iter().flatten() {
                if mask[j] && label[j] == 0 {
                    label[j] = next;
                    stack.push(j);
                }
            }
        }
        if size > best_size {
            (best, best_size) = (next, size);
        }
    }
    label.iter().map(|&l| l == best && best != 0).collect()
}

/// `mask` shrunk by `steps` pixels (4-neighbour erosion; the image border counts as outside).
pub(super) fn erode(mask: &[bool], width: usize, height: usize, steps: usize) -> Vec<bool> {
    let mut current = mask.to_vec();
    for _ in 0..steps {
        let previous = current.clone();
        for (i, value) in current.iter_mut().enumerate() {
            if !*value {
                continue;
            }
            let (x, y) = (i % width, i / width);
            *value = x > 0
                && x + 1 < width
                && y > 0
                && y + 1 < height
                && previous[i - 1]
                && previous[i + 1]
                && previous[i - width]
                && previous[i + width];
        }
    }
    current
}

/// Top, left, bottom, right (inclusive) of the true pixels of a non-empty mask.
pub(super) fn bounding_box(
    mask: &[bool],
    width: usize,
    height: usize,
) -> (usize, usize, usize, usize) {
    let (mut top, mut left, mut bottom, mut right) = (height, width, 0, 0);
    for (i, _) in mask.iter().enumerate().filter(|(_, b)| **b) {
        let (x, y) = (i % width, i / width);
        top = top.min(y);
        bottom = bottom.max(y);
        left = left.min(x);
        right = right.max(x);
    }
    (top, left, bottom, right)
}

/// Resamples the window `crop` = [top, left, height, width] (pixels, may reach outside the
/// image, where `outside` is used) of a `width × height` image to `size × size`, averaging
/// `k × k` bilinear samples per output pixel (k = the shrink factor, rounded up) so that
/// shrinking does not alias.
pub(super) fn resample(
    image: &[f32],
    width: usize,
    height: usize,
    crop: [f32; 4],
    size: usize,
    outside: f32,
) -> Vec<f32> {
    let [top, left, crop_height, crop_width] = crop;
    let (step_row, step_column) = (crop_height / size as f32, crop_width / size as f32);
    let k = step_row.max(step_column).ceil().clamp(1.0, 8.0) as usize;
    let sample = |row: f32, column: f32| -> f32 {
        // Pixel centres sit at integer + 0.5.
        let (r, c) = (row - 0.5, column - 0.5);
        let (r0, c0) = (r.floor(), c.floor());
        let (fr, fc) = (r - r0, c - c0);
        let at = |rr: f32, cc: f32| -> f32 {
            if rr < 0.0 || cc < 0.0 || rr >= height as f32 || cc >= width as f32 {
                outside
            } else {
                image[rr as usize * width + cc as usize]
            }
        };
        let top_mix = at(r0, c0) * (1.0 - fc) + at(r0, c0 + 1.0) * fc;
        let bottom_mix = at(r0 + 1.0, c0) * (1.0 - fc) + at(r0 + 1.0, c0 + 1.0) * fc;
        top_mix * (1.0 - fr) + bottom_mix * fr
    };
    let mut out = Vec::with_capacity(size * size);
    for row in 0..size {
        for column in 0..size {
            let mut sum = 0.0;
            for i in 0..k {
                for j in 0..k {
                    let r = top + (row as f32 + (i as f32 + 0.5) / k as f32) * step_row;
                    let c = left + (column as f32 + (j as f32 + 0.5) / k as f32) * step_column;
                    sum += sample(r, c);
                }
            }
            out.push(sum / (k * k) as f32);
        }
    }
    out
}
