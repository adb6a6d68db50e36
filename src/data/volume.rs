//! A 3D scan in one canonical orientation, whatever order its file stored the voxels in.
//!
//! Voxels are reordered (never resampled) so that the array axes point to the patient's Right,
//! Anterior and Superior (RAS+, as nibabel's `as_closest_canonical`): x grows from the
//! patient's left to right, y from back to front, z from feet to head. Axial slices are the
//! planes of constant z and are shown in the **radiological convention**: the patient's right
//! on the image's left, anterior at the top, as seen from the feet (how BraTS viewers and
//! radiologists show them). So a slice of the MNI152 template and one of a BraTS case, stored
//! in different voxel orders, come out the same way up.

/// How the file's voxel axes map onto the canonical RAS axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Orientation {
    /// For each file axis, the canonical axis (0 = R, 1 = A, 2 = S) it runs along.
    pub world_axis: [usize; 3],
    /// For each file axis, whether it runs against that canonical axis (towards L, P or I).
    pub reversed: [bool; 3],
}

impl Orientation {
    /// The direction each file axis points to, e.g. "LPS" for DICOM order, "RAS" for MNI files.
    pub fn code(&self) -> String {
        (0..3)
            .map(|i| {
                let letters = if self.reversed[i] {
                    ['L', 'P', 'I']
                } else {
                    ['R', 'A', 'S']
                };
                letters[self.world_axis[i]]
            })
            .collect()
    }
}

/// Which canonical direction each column of the affine's rotation part runs along most.
pub fn orientation_of(affine: &[[f64; 4]; 4]) -> Result<Orientation, String> {
    let mut world_axis = [0; 3];
    let mut reversed = [false; 3];
    for file_axis in 0..3 {
        let column = [
            affine[0][file_axis],
            affine[1][file_axis],
            affine[2][file_axis],
        ];
        let norm = column.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm.is_nan() || norm <= 1e-12 {
            return Err(format!(
                "the affine gives voxel axis {file_axis} no direction (a zero column)"
            ));
        }
        let (axis, value) = column
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .map(|(i, v)| (i, *v))
            .expect("three components");
        world_axis[file_axis] = axis;
        reversed[file_axis] = value < 0.0;
    }
    let mut seen = [false; 3];
    for &axis in &world_axis {
        if std::mem::replace(&mut seen[axis], true) {
            return Err(format!(
                "the affine is too oblique to orient: two voxel axes run closest to the same direction ({world_axis:?})"
            ));
        }
    }
    Ok(Orientation {
        world_axis,
        reversed,
    })
}

/// A 3D scan with voxels in canonical RAS order (x fastest).
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// The file (or other source) it came from, for messages.
    pub name: String,
    /// Sizes along the canonical axes R, A, S.
    pub dims: [usize; 3],
    /// Voxel sizes in mm along the canonical axes.
    pub spacing: [f32; 3],
    /// Intensities after `scl_slope`/`scl_inter`.
    pub data: Vec<f32>,
    /// The file's voxel → world (mm) affine, as stored.
    pub affine: [[f64; 4]; 4],
    /// How the file stored its axes.
    pub orientation: Orientation,
    /// The file's datatype (u8, i16, f32, ...).
    pub datatype: String,
    /// The file's dimensions (with the fourth of a 4D file).
    pub source_dims: Vec<usize>,
    /// The volume read from a 4D file.
    pub chosen_volume: Option<usize>,
}

impl Volume {
    /// Reorders voxels given in file order (first file axis fastest) into canonical order.
    #[allow(clippy::too_many_arguments)]
    pub fn from_file_order(
        name: &str,
        file_dims: [usize; 3],
        values: Vec<f32>,
        affine: [[f64; 4]; 4],
        orientation: Orientation,
        datatype: String,
        source_dims: Vec<usize>,
        chosen_volume: Option<usize>,
    ) -> Self {
        assert_eq!(
            values.len(),
            file_dims.iter().product::<usize>(),
            "values do not fill the dimensions"
        );
        let mut dims = [0; 3];
        let mut spacing = [0.0; 3];
        for file_axis in 0..3 {
            let world = orientation.world_axis[file_axis];
            dims[world] = file_dims[file_axis];
            spacing[world] = (0..3)
                .map(|r| affine[r][file_axis].powi(2))
                .sum::<f64>()
                .sqrt() as f32;
        }
        let identity = orientation.world_axis == [0, 1, 2] && orientation.reversed == [false; 3];
        let data = if identity {
            values
        } else {
            let mut data = vec![0.0; values.len()];
            let stride = [1, dims[0], dims[0] * dims[1]];
            let mut source = 0;
            for k in 0..file_dims[2] {
                for j in 0..file_dims[1] {
                    for i in 0..file_dims[0] {
                        let mut target = 0;
                        for (file_axis, coordinate) in [i, j, k].into_iter().enumerate() {
                            let world = orientation.world_axis[file_axis];
                            let c = if orientation.reversed[file_axis] {
                                file_dims[file_axis] - 1 - coordinate
                            } else {
                                coordinate
                            };
                            target += c * stride[world];
                        }
                        data[target] = values[source];
                        source += 1;
                    }
                }
            }
            data
        };
        Self {
            name: name.to_string(),
            dims,
            spacing,
            data,
            affine,
            orientation,
            datatype,
            source_dims,
            chosen_volume,
        }
    }

    /// Sizes along the file's axes: the inverse of [`from_file_order`](Self::from_file_order)'s
    /// reordering.
    pub fn file_dims(&self) -> [usize; 3] {
        self.orientation.world_axis.map(|world| self.dims[world])
    }

    /// The voxels in the file's order (first file axis fastest), as the file stored them:
    /// written with this volume's affine, they land where it read them from.
    pub fn file_order(&self) -> Vec<f32> {
        let file_dims = self.file_dims();
        let stride = [1, self.dims[0], self.dims[0] * self.dims[1]];
        let mut values = Vec::with_capacity(self.data.len());
        for k in 0..file_dims[2] {
            for j in 0..file_dims[1] {
                for i in 0..file_dims[0] {
                    let mut source = 0;
                    for (file_axis, coordinate) in [i, j, k].into_iter().enumerate() {
                        let c = if self.orientation.reversed[file_axis] {
                            file_dims[file_axis] - 1 - coordinate
                        } else {
                            coordinate
                        };
                        source += c * stride[self.orientation.world_axis[file_axis]];
                    }
                    values.push(self.data[source]);
                }
            }
        }
        values
    }

    pub fn voxels(&self) -> usize {
        self.data.len()
    }

    pub fn at(&self, x: usize, y: usize, z: usize) -> f32 {
        self.data[x + self.dims[0] * (y + self.dims[1] * z)]
    }

    /// Number of axial slices (along inferior → superior).
    pub fn axial_count(&self) -> usize {
        self.dims[2]
    }

    /// Axial slice `z` as a row-major image of `dims[1]` rows × `dims[0]` columns, radiological
    /// convention: row 0 is the most anterior, column 0 the patient's rightmost voxel.
    pub fn axial_slice(&self, z: usize) -> Vec<f32> {
        let [nx, ny, _] = self.dims;
        let plane = &self.data[z * nx * ny..(z + 1) * nx * ny];
        let mut image = Vec::with_capacity(nx * ny);
        for row in 0..ny {
            let y = ny - 1 - row;
            image.extend((0..nx).map(|column| plane[(nx - 1 - column) + nx * y]));
        }
        image
    }

    /// Whether `other`'s affine agrees with this one's within `tolerance` (mm, per entry), so
    /// that on equal dimensions their voxels line up (modalities and masks of one case).
    pub fn placed_like(&self, other: &Volume, tolerance: f64) -> bool {
        self.affine
            .iter()
            .flatten()
            .zip(other.affine.iter().flatten())
            .all(|(a, b)| (a - b).abs() <= tolerance)
    }

    /// Smallest and largest intensity.
    pub fn range(&self) -> (f32, f32) {
        self.data
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn affine(columns: [[f64; 3]; 3]) -> [[f64; 4]; 4] {
        let mut a = [[0.0; 4]; 4];
        for (c, column) in columns.iter().enumerate() {
            for r in 0..3 {
                a[r][c] = column[r];
            }
        }
        a[3][3] = 1.0;
        a
    }

    #[test]
    fn orientation_codes_follow_the_affine() {
        let ras =
            orientation_of(&affine([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])).unwrap();
        assert_eq!(ras.code(), "RAS");
        // DICOM/ITK order: x towards the left, y towards the back.
        let lps = orientation_of(&affine([
            [-1.0, 0.0, 0.0],
            [0.0, -1.0, 0.0],
            [0.0, 0.0, 2.0],
        ]))
        .unwrap();
        assert_eq!(lps.code(), "LPS");
        // Sagittal acquisitions store the A axis first.
        let ail = orientation_of(&affine([
            [0.0, 1.0, 0.1],
            [0.0, 0.0, -1.0],
            [-1.0, 0.0, 0.0],
        ]))
        .unwrap();
        assert_eq!(ail.code(), "AIL");
        assert!(
            orientation_of(&affine([[1.0, 0.0, 0.0], [1.0, 0.1, 0.0], [0.0, 0.0, 1.0]])).is_err()
        );
        assert!(
            orientation_of(&affine([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])).is_err()
        );
    }

    /// The same physical object stored in LPS and in RAS order must give identical canonical
    /// volumes and slices.
    #[test]
    fn different_storage_orders_give_the_same_slices() {
        let (nx, ny, nz) = (4, 3, 2);
        // A value that names its RAS position.
        let value = |x: usize, y: usize, z: usize| (100 * z + 10 * y + x) as f32;
        let ras_values: Vec<f32> = (0..nz)
            .flat_map(|z| (0..ny).flat_map(move |y| (0..nx).map(move |x| value(x, y, z))))
            .collect();
        let ras_affine = affine([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
        let ras = Volume::from_file_order(
            "ras",
            [nx, ny, nz],
            ras_values,
            ras_affine,
            orientation_of(&ras_affine).unwrap(),
            "f32".into(),
            vec![],
            None,
        );
        // LPS order stored sagittal-first differently: file axes (P, L, S).
        let file_dims = [ny, nx, nz];
        let mut pls_values = Vec::new();
        for k in 0..nz {
            for j in 0..nx {
                for i in 0..ny {
                    pls_values.push(value(nx - 1 - j, ny - 1 - i, k));
                }
            }
        }
        let pls_affine = affine([[0.0, -1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]);
        let pls = Volume::from_file_order(
            "pls",
            file_dims,
            pls_values.clone(),
            pls_affine,
            orientation_of(&pls_affine).unwrap(),
            "f32".into(),
            vec![],
            None,
        );
        assert_eq!(pls.orientation.code(), "PLS");
        assert_eq!(pls.dims, ras.dims);
        assert_eq!(pls.data, ras.data);
        // Radiological: top-left pixel is anterior (max y) and the patient's right (max x).
        let slice = ras.axial_slice(1);
        assert_eq!(slice[0], value(nx - 1, ny - 1, 1));
        assert_eq!(slice[nx * ny - 1], value(0, 0, 1));
        assert_eq!(pls.axial_slice(1), slice);
        // And back: the file's order and dimensions, as it stored them.
        assert_eq!(pls.file_dims(), file_dims);
        assert_eq!(pls.file_order(), pls_values);
    }
}
