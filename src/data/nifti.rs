//! NIfTI-1 volumes (`.nii`, `.nii.gz`) from bytes, so the trainer and the browser read scans
//! the same way. The `nifti` crate parses the header and converts voxels; this module adds what
//! real files need around it: limits checked before anything is allocated, one volume of a 4D
//! file, `scl_slope`/`scl_inter`, non-finite voxels refused, and the header's affine used to
//! reorder the voxels into one canonical orientation (see [`Volume`]).

use std::io::Read;

use flate2::read::GzDecoder;
use nifti::{InMemNiftiVolume, NiftiHeader, NiftiType};

use crate::data::volume::{Volume, orientation_of};
use crate::error::{LranError, Result};

/// The largest 3D volume read: 2²⁶ voxels (a 256 MB f32 array; a 0.7 mm HCP scan has 21 M).
pub const MAX_VOXELS: usize = 1 << 26;
/// The longest side accepted, in voxels.
pub const MAX_SIDE: usize = 4096;
/// Plausible voxel sizes in mm (scanners use about 0.1–10); beyond them the header is corrupt.
pub const MIN_VOXEL_MM: f64 = 1e-3;
pub const MAX_VOXEL_MM: f64 = 1e3;
/// The NIfTI-1 header is 348 bytes; voxels start at `vox_offset` (≥ 352, after the extension flag).
const HEADER_BYTES: usize = 348;

/// Which volume of a 4D file to read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum VolumeChoice {
    /// 3D files, and 4D files holding a single volume; other 4D files are refused with a message.
    #[default]
    OnlyVolume,
    /// The volume at this index (0-based) along the fourth dimension.
    Index(usize),
}

/// Reads a NIfTI-1 file from its bytes (gzip or not). `name` labels every error.
pub fn read_nifti(name: &str, bytes: &[u8], choice: VolumeChoice) -> Result<Volume> {
    if bytes.is_empty() {
        return Err(LranError::data(name, "the file is empty"));
    }
    let gzipped = bytes.starts_with(&[0x1f, 0x8b]);
    let mut reader: Box<dyn Read + '_> = if gzipped {
        Box::new(GzDecoder::new(bytes))
    } else {
        Box::new(bytes)
    };
    let io_problem = |what: &str, error: std::io::Error| -> LranError {
        let problem = match (gzipped, error.kind()) {
            (true, std::io::ErrorKind::UnexpectedEof) => {
                format!("the gzip stream ends early (truncated file?) while reading {what}")
            }
            (true, _) => format!("corrupt gzip data while reading {what}: {error}"),
            (false, std::io::ErrorKind::UnexpectedEof) => {
                format!("the file ends early (truncated?) while reading {what}")
            }
            (false, _) => format!("unreadable {what}: {error}"),
        };
        LranError::data(name, problem)
    };

    let mut raw_header = [0u8; HEADER_BYTES];
    reader
        .read_exact(&mut raw_header)
        .map_err(|e| io_problem("the 348-byte header", e))?;
    check_header_size(name, &raw_header)?;
    match &raw_header[344..348] {
        b"n+1\0" => {}
        b"ni1\0" => {
            return Err(LranError::data(
                name,
                "a header-only .hdr file (its voxels live in a separate .img): convert the pair to a single .nii or .nii.gz",
            ));
        }
        other => {
            return Err(LranError::data(
                name,
                format!("wrong magic {other:?}: not a single-file NIfTI-1 (.nii)"),
            ));
        }
    }
    let mut header = NiftiHeader::from_reader(&raw_header[..])
        .map_err(|e| LranError::data(name, format!("invalid NIfTI-1 header: {e}")))?;
    header.fix();
    let layout = VoxelLayout::from_header(name, &header, choice)?;
    let vox_offset = header.vox_offset;
    if !vox_offset.is_finite()
        || vox_offset < HEADER_BYTES as f32
        || vox_offset > 64.0 * 1024.0 * 1024.0
    {
        return Err(LranError::data(
            name,
            format!("vox_offset {vox_offset} is not a valid voxel data offset"),
        ));
    }
    let skip = vox_offset as u64 - HEADER_BYTES as u64 + layout.skip_bytes;
    if !gzipped
        && (bytes.len() as u64) < vox_offset as u64 + layout.skip_bytes + layout.read_bytes as u64
    {
        return Err(truncated(name, &layout, vox_offset, bytes.len() as u64));
    }
    let skipped = std::io::copy(&mut (&mut reader).take(skip), &mut std::io::sink())
        .map_err(|e| io_problem("the header extensions", e))?;
    // No reservation up front: the buffer grows with the data actually there, so a small file
    // whose header claims a huge volume never allocates that volume.
    let mut raw = Vec::new();
    (&mut reader)
        .take(layout.read_bytes as u64)
        .read_to_end(&mut raw)
        .map_err(|e| io_problem("the voxel data", e))?;
    if skipped < skip || raw.len() < layout.read_bytes {
        return Err(truncated(
            name,
            &layout,
            vox_offset,
            HEADER_BYTES as u64 + skipped + raw.len() as u64,
        ));
    }

    let mut dims = [1u16; 8];
    dims[0] = 3;
    dims[1..4].copy_from_slice(&layout.dims.map(|d| d as u16));
    let volume =
        InMemNiftiVolume::from_raw_fields(dims, layout.datatype, 1.0, 0.0, raw, header.endianness)
            .map_err(|e| LranError::data(name, format!("voxel data do not fit the header: {e}")))?;
    let mut values = typed_to_f32(name, volume, layout.datatype)?;
    let (slope, inter) = scaling(&header);
    if (slope, inter) != (1.0, 0.0) {
        for v in &mut values {
            *v = (*v as f64 * slope + inter) as f32;
        }
    }
    let bad = values.iter().filter(|v| !v.is_finite()).count();
    if bad > 0 {
        return Err(LranError::data(
            name,
            format!(
                "{bad} of {} voxels are NaN or infinite; clean the scan (e.g. set them to 0) first",
                values.len()
            ),
        ));
    }

    let affine = affine_of(name, &header)?;
    let orientation = orientation_of(&affine).map_err(|problem| LranError::data(name, problem))?;
    for axis in 0..3 {
        let size = (0..3).map(|r| affine[r][axis].powi(2)).sum::<f64>().sqrt();
        if !(MIN_VOXEL_MM..=MAX_VOXEL_MM).contains(&size) {
            return Err(LranError::data(
                name,
                format!(
                    "the affine gives voxel axis {axis} a size of {size:.3e} mm: not a scan (accepted {MIN_VOXEL_MM}–{MAX_VOXEL_MM} mm)"
                ),
            ));
        }
    }
    Ok(Volume::from_file_order(
        name,
        layout.dims,
        values,
        affine,
        orientation,
        datatype_name(layout.datatype).to_string(),
        layout.source_dims.clone(),
        layout.chosen_volume,
    ))
}

fn truncated(name: &str, layout: &VoxelLayout, vox_offset: f32, available: u64) -> LranError {
    LranError::data(
        name,
        format!(
            "truncated: the header promises {} bytes of voxels ({}) from byte {}, but the data ends at byte {available}",
            layout.read_bytes,
            layout.describe(),
            vox_offset as u64 + layout.skip_bytes,
        ),
    )
}

/// The NIfTI-2 header is 540 bytes; anything else but 348 is not NIfTI at all.
fn check_header_size(name: &str, raw: &[u8; HEADER_BYTES]) -> Result<()> {
    let little = i32::from_le_bytes(raw[0..4].try_into().unwrap());
    let big = i32::from_be_bytes(raw[0..4].try_into().unwrap());
    if little == 348 || big == 348 {
        Ok(())
    } else if little == 540 || big == 540 {
        Err(LranError::data(
            name,
            "a NIfTI-2 file: only NIfTI-1 is supported (convert it, e.g. with nibabel)",
        ))
    } else {
        Err(LranError::data(
            name,
            "not a NIfTI-1 file (the header does not start with the size 348)",
        ))
    }
}

/// What to read from the voxel data: the dimensions of the chosen 3D volume, its type, and
/// where its bytes start.
struct VoxelLayout {
    dims: [usize; 3],
    source_dims: Vec<usize>,
    chosen_volume: Option<usize>,
    datatype: NiftiType,
    /// Bytes of earlier volumes (4D) before the chosen one (u64: wasm32's usize is 32-bit).
    skip_bytes: u64,
    read_bytes: usize,
}

impl VoxelLayout {
    fn from_header(name: &str, header: &NiftiHeader, choice: VolumeChoice) -> Result<Self> {
        let rank = header.dim[0] as usize;
        if !(2..=7).contains(&rank) {
            return Err(LranError::data(
                name,
                format!(
                    "dim[0] = {} is not a number of dimensions from 2 to 7",
                    header.dim[0]
                ),
            ));
        }
        let source_dims: Vec<usize> = header.dim[1..=rank]
            .iter()
            .map(|&d| d as i16 as isize)
            .map(|d| d.max(0) as usize)
            .collect();
        if source_dims.contains(&0) {
            return Err(LranError::data(
                name,
                format!("dimensions {source_dims:?} include zero or negative sizes"),
            ));
        }
        if source_dims.iter().skip(4).any(|&d| d != 1) {
            return Err(LranError::data(
                name,
                format!("a {rank}D volume {source_dims:?}: only 3D and 4D files are supported"),
            ));
        }
        let dims = [
            source_dims[0],
            source_dims[1],
            source_dims.get(2).copied().unwrap_or(1),
        ];
        let volumes = source_dims.get(3).copied().unwrap_or(1);
        if dims.iter().any(|&d| d > MAX_SIDE)
            || dims.iter().map(|&d| d as u64).product::<u64>() > MAX_VOXELS as u64
        {
            return Err(LranError::data(
                name,
                format!(
                    "{}×{}×{} voxels is larger than accepted ({} voxels, sides up to {MAX_SIDE}); refused before reading",
                    dims[0], dims[1], dims[2], MAX_VOXELS
                ),
            ));
        }
        let chosen_volume = match (choice, volumes) {
            (VolumeChoice::OnlyVolume, 1) => None,
            (VolumeChoice::OnlyVolume, n) => {
                return Err(LranError::data(
                    name,
                    format!(
                        "a 4D file with {n} volumes of {}×{}×{} (a time series or diffusion scan?): choose one volume (index 0–{}) to read it",
                        dims[0],
                        dims[1],
                        dims[2],
                        n - 1
                    ),
                ));
            }
            (VolumeChoice::Index(i), n) if i < n => Some(i),
            (VolumeChoice::Index(i), n) => {
                return Err(LranError::data(
                    name,
                    format!(
                        "volume {i} was asked for, but the file holds {n} (0–{})",
                        n - 1
                    ),
                ));
            }
        };
        let datatype = header.data_type().map_err(|_| {
            LranError::data(
                name,
                format!("unknown NIfTI datatype code {}", header.datatype),
            )
        })?;
        let element = match datatype {
            NiftiType::Uint8 | NiftiType::Int8 => 1,
            NiftiType::Int16 | NiftiType::Uint16 => 2,
            NiftiType::Int32 | NiftiType::Uint32 | NiftiType::Float32 => 4,
            NiftiType::Float64 | NiftiType::Int64 | NiftiType::Uint64 => 8,
            other => {
                return Err(LranError::data(
                    name,
                    format!(
                        "datatype {} is not a scalar intensity scan (supported: u8, i8, i16, u16, i32, u32, i64, u64, f32, f64)",
                        datatype_name(other)
                    ),
                ));
            }
        };
        if header.bitpix as usize != element * 8 {
            return Err(LranError::data(
                name,
                format!(
                    "bitpix {} does not match datatype {} ({} bits)",
                    header.bitpix,
                    datatype_name(datatype),
                    element * 8
                ),
            ));
        }
        let read_bytes = dims.iter().product::<usize>() * element;
        let skip_bytes = read_bytes as u64 * chosen_volume.unwrap_or(0) as u64;
        Ok(Self {
            dims,
            source_dims,
            chosen_volume,
            datatype,
            skip_bytes,
            read_bytes,
        })
    }

    fn describe(&self) -> String {
        let volume = self
            .chosen_volume
            .map(|v| format!(", volume {v}"))
            .unwrap_or_default();
        format!(
            "{}×{}×{} {}{volume}",
            self.dims[0],
            self.dims[1],
            self.dims[2],
            datatype_name(self.datatype)
        )
    }
}

fn typed_to_f32(name: &str, volume: InMemNiftiVolume, datatype: NiftiType) -> Result<Vec<f32>> {
    fn convert<T: nifti::DataElement + Copy>(
        volume: InMemNiftiVolume,
        to_f32: impl Fn(T) -> f32,
    ) -> nifti::Result<Vec<f32>> {
        Ok(volume
            .into_nifti_typed_data::<T>()?
            .into_iter()
            .map(to_f32)
            .collect())
    }
    let converted = match datatype {
        NiftiType::Uint8 => convert(volume, |v: u8| v as f32),
        NiftiType::Int8 => convert(volume, |v: i8| v as f32),
        NiftiType::Int16 => convert(volume, |v: i16| v as f32),
        NiftiType::Uint16 => convert(volume, |v: u16| v as f32),
        NiftiType::Int32 => convert(volume, |v: i32| v as f32),
        NiftiType::Uint32 => convert(volume, |v: u32| v as f32),
        NiftiType::Int64 => convert(volume, |v: i64| v as f32),
        NiftiType::Uint64 => convert(volume, |v: u64| v as f32),
        NiftiType::Float32 => convert(volume, |v: f32| v),
        NiftiType::Float64 => convert(volume, |v: f64| v as f32),
        other => {
            return Err(LranError::data(
                name,
                format!("datatype {} is not supported", datatype_name(other)),
            ));
        }
    };
    converted.map_err(|e| LranError::data(name, format!("cannot convert the voxels: {e}")))
}

/// `scl_slope`/`scl_inter` as the standard reads them: a slope of 0 (or a non-finite one)
/// means the values are stored unscaled.
fn scaling(header: &NiftiHeader) -> (f64, f64) {
    let slope = header.scl_slope as f64;
    if slope == 0.0 || !slope.is_finite() {
        return (1.0, 0.0);
    }
    let inter = header.scl_inter as f64;
    (slope, if inter.is_finite() { inter } else { 0.0 })
}

/// The voxel → world (mm, RAS+) affine by the NIfTI rules: sform if set, else qform, else the
/// voxel sizes alone. Values the `nifti` crate would panic on are refused here first.
fn affine_of(name: &str, header: &NiftiHeader) -> Result<[[f64; 4]; 4]> {
    let spacing = &header.pixdim[1..4];
    let spacing_ok = spacing
        .iter()
        .all(|s| s.is_finite() && *s > 0.0 && *s < 1e4);
    let quaternion_ok = [
        header.quatern_b,
        header.quatern_c,
        header.quatern_d,
        header.quatern_x,
        header.quatern_y,
        header.quatern_z,
    ]
    .iter()
    .all(|v| v.is_finite())
        && header.quatern_b.powi(2) + header.quatern_c.powi(2) + header.quatern_d.powi(2)
            <= 1.0 + 1e-4;
    let sform_ok = header.sform_code != 0
        && header
            .srow_x
            .iter()
            .chain(&header.srow_y)
            .chain(&header.srow_z)
            .all(|v| v.is_finite());
    let mut header = header.clone();
    if header.sform_code != 0 && !sform_ok {
        header.sform_code = 0;
    }
    if header.sform_code == 0 && header.qform_code != 0 && !(spacing_ok && quaternion_ok) {
        header.qform_code = 0;
    }
    if header.sform_code == 0 && header.qform_code == 0 {
        if !spacing_ok {
            return Err(LranError::data(
                name,
                format!("voxel sizes {spacing:?} are not positive, finite millimetres"),
            ));
        }
        // No orientation stored: NIfTI's "Analyze" default (voxel axes = RAS in scale).
        let mut affine = [[0.0; 4]; 4];
        for axis in 0..3 {
            affine[axis][axis] = spacing[axis] as f64;
        }
        affine[3][3] = 1.0;
        return Ok(affine);
    }
    let m = header.affine::<f64>();
    let mut affine = [[0.0; 4]; 4];
    for (r, row) in affine.iter_mut().enumerate() {
        for (c, value) in row.iter_mut().enumerate() {
            *value = m[(r, c)];
        }
    }
    if affine.iter().flatten().any(|v| !v.is_finite()) {
        return Err(LranError::data(
            name,
            "the header's affine holds non-finite values",
        ));
    }
    Ok(affine)
}

pub fn datatype_name(datatype: NiftiType) -> &'static str {
    match datatype {
        NiftiType::Uint8 => "u8",
        NiftiType::Int8 => "i8",
        NiftiType::Int16 => "i16",
        NiftiType::Uint16 => "u16",
        NiftiType::Int32 => "i32",
        NiftiType::Uint32 => "u32",
        NiftiType::Int64 => "i64",
        NiftiType::Uint64 => "u64",
        NiftiType::Float32 => "f32",
        NiftiType::Float64 => "f64",
        NiftiType::Float128 => "f128",
        NiftiType::Complex64 => "complex64",
        NiftiType::Complex128 => "complex128",
        NiftiType::Complex256 => "complex256",
        NiftiType::Rgb24 => "rgb24",
        NiftiType::Rgba32 => "rgba32",
    }
}

/// What [`encode_nifti`] writes: enough to produce the files real scanners and pipelines write
/// (tests write BraTS, HCP and plain-folder datasets with it; the fuzzers start from it).
#[derive(Debug, Clone)]
pub struct NiftiSpec {
    /// Sizes along the file's axes (3 or 4 entries).
    pub dims: Vec<usize>,
    /// NIfTI datatype code: 2 u8, 4 i16, 8 i32, 16 f32, 64 f64, 256 i8, 512 u16, 768 u32.
    pub datatype: i16,
    /// The sform rows (voxel → mm); the qform is left unset.
    pub affine: [[f32; 4]; 3],
    pub scl_slope: f32,
    pub scl_inter: f32,
    pub big_endian: bool,
}

impl NiftiSpec {
    /// 1 mm voxels whose axes are plain RAS (identity affine); change `affine` for others.
    pub fn ras(dims: [usize; 3], datatype: i16) -> Self {
        Self {
            dims: dims.to_vec(),
            datatype,
            affine: [
                [1.0, 0.0, 0.0, 0.0],
                [0.0, 1.0, 0.0, 0.0],
                [0.0, 0.0, 1.0, 0.0],
            ],
            scl_slope: 1.0,
            scl_inter: 0.0,
            big_endian: false,
        }
    }
}

/// Any number's bytes in the byte order `big_endian` says.
macro_rules! ordered {
    ($big_endian:expr, $value:expr) => {
        if $big_endian {
            ($value).to_be_bytes().to_vec()
        } else {
            ($value).to_le_bytes().to_vec()
        }
    };
}

/// Writes a single-file NIfTI-1 (`.nii`, uncompressed) holding `values` (in file order, first
/// axis fastest) converted to the spec's datatype.
pub fn encode_nifti(spec: &NiftiSpec, values: &[f64]) -> Vec<u8> {
    let element = element_bytes(spec.datatype)
        .unwrap_or_else(|| panic!("encode_nifti: datatype {} is not written", spec.datatype));
    let be = spec.big_endian;
    let mut out = nifti_header(spec, element, values.len());
    for &v in values {
        out.extend(match spec.datatype {
            2 => vec![v as u8],
            256 => vec![v as i8 as u8],
            4 => ordered!(be, v as i16),
            512 => ordered!(be, v as u16),
            8 => ordered!(be, v as i32),
            768 => ordered!(be, v as u32),
            16 => ordered!(be, v as f32),
            _ => ordered!(be, v),
        });
    }
    out
}

/// Bytes per voxel of the datatypes [`encode_nifti`] writes.
fn element_bytes(datatype: i16) -> Option<usize> {
    match datatype {
        2 | 256 => Some(1),
        4 | 512 => Some(2),
        8 | 16 | 768 => Some(4),
        64 => Some(8),
        _ => None,
    }
}

/// A float32 volume as a single-file NIfTI-1 (`.nii`, uncompressed) that lines up with the file
/// it was read from: the voxels in that file's order, its affine as the sform (what every viewer
/// and nibabel place a volume by). The page's viewer overlays this and its "Download anomaly
/// map" gzips it. Uncompressed because the viewer reads it at once: gzipping a 240×240×155 map
/// in the model thread and inflating it again in the page cost about 0.1 s of each volume's
/// time on the page's CPU path, 0.2 s of the first's (results/browser/viewer/).
pub fn encode_volume(volume: &Volume) -> Result<Vec<u8>> {
    let file_dims = volume.file_dims();
    if let Some(&too_large) = file_dims.iter().find(|&&d| d > i16::MAX as usize) {
        return Err(LranError::data(
            &volume.name,
            format!("a dimension of {too_large} voxels does not fit a NIfTI-1 header"),
        ));
    }
    let mut affine = [[0.0f32; 4]; 3];
    for (row, stored) in affine.iter_mut().zip(&volume.affine) {
        for (value, &v) in row.iter_mut().zip(stored) {
            *value = v as f32;
        }
    }
    let spec = NiftiSpec {
        affine,
        ..NiftiSpec::ras(file_dims, 16)
    };
    let values = volume.file_order();
    let mut out = nifti_header(&spec, 4, values.len());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// The 348-byte header, its 4-byte extension flag (none) and room for `voxels` voxels of
/// `element` bytes.
fn nifti_header(spec: &NiftiSpec, element: usize, voxels: usize) -> Vec<u8> {
    let mut out = vec![0u8; 352];
    let be = spec.big_endian;
    let put = |out: &mut Vec<u8>, at: usize, bytes: Vec<u8>| {
        out[at..at + bytes.len()].copy_from_slice(&bytes)
    };
    put(&mut out, 0, ordered!(be, 348i32));
    put(&mut out, 40, ordered!(be, spec.dims.len() as i16));
    for (i, &d) in spec.dims.iter().enumerate() {
        put(&mut out, 42 + 2 * i, ordered!(be, d as i16));
    }
    for i in spec.dims.len()..7 {
        put(&mut out, 42 + 2 * i, ordered!(be, 1i16));
    }
    put(&mut out, 70, ordered!(be, spec.datatype));
    put(&mut out, 72, ordered!(be, (element * 8) as i16));
    put(&mut out, 76, ordered!(be, 1.0f32));
    for axis in 0..3 {
        let column = (0..3)
            .map(|r| spec.affine[r][axis].powi(2))
            .sum::<f32>()
            .sqrt();
        put(&mut out, 80 + 4 * axis, ordered!(be, column));
    }
    put(&mut out, 108, ordered!(be, 352.0f32));
    put(&mut out, 112, ordered!(be, spec.scl_slope));
    put(&mut out, 116, ordered!(be, spec.scl_inter));
    out[123] = 2; // xyzt_units: millimetres
    put(&mut out, 254, ordered!(be, 2i16)); // sform_code: aligned to an anatomical space
    for (row, at) in spec.affine.iter().zip([280, 296, 312]) {
        for (i, &v) in row.iter().enumerate() {
            put(&mut out, at + 4 * i, ordered!(be, v));
        }
    }
    out[344..348].copy_from_slice(b"n+1\0");
    out.reserve(voxels * element);
    out
}

/// Gzips bytes (what `.nii.gz` files are).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize) -> Vec<f64> {
        (0..n).map(|i| (i % 200) as f64).collect()
    }

    #[test]
    fn every_scalar_datatype_reads_back_in_both_byte_orders_and_gzipped() {
        let dims = [4, 3, 2];
        let values = ramp(24);
        for datatype in [2, 256, 4, 512, 8, 768, 16, 64] {
            for big_endian in [false, true] {
                let spec = NiftiSpec {
                    big_endian,
                    ..NiftiSpec::ras(dims, datatype)
                };
                let bytes = encode_nifti(&spec, &values);
                for file in [bytes.clone(), gzip(&bytes)] {
                    let volume = read_nifti("v.nii", &file, VolumeChoice::OnlyVolume).unwrap();
                    assert_eq!(volume.dims, dims, "datatype {datatype}");
                    let expected: Vec<f32> = values
                        .iter()
                        .map(|&v| {
                            if datatype == 256 {
                                v as i8 as f32
                            } else {
                                v as f32
                            }
                        })
                        .collect();
                    assert_eq!(
                        volume.data, expected,
                        "datatype {datatype} big endian {big_endian}"
                    );
                }
            }
        }
    }

    #[test]
    fn scl_slope_and_inter_rescale_the_voxels() {
        let scaled = |scl_slope: f32, scl_inter: f32| {
            let spec = NiftiSpec {
                scl_slope,
                scl_inter,
                ..NiftiSpec::ras([2, 2, 2], 4)
            };
            read_nifti(
                "s.nii",
                &encode_nifti(&spec, &ramp(8)),
                VolumeChoice::OnlyVolume,
            )
            .unwrap()
        };
        assert_eq!(
            scaled(0.5, -3.0).data,
            (0..8).map(|i| i as f32 * 0.5 - 3.0).collect::<Vec<_>>()
        );
        // A zero slope means "unscaled" in the standard.
        let volume = scaled(0.0, 7.0);
        assert_eq!(volume.data[3], 3.0);
    }

    #[test]
    fn four_d_files_need_a_chosen_volume() {
        let spec = NiftiSpec {
            dims: vec![2, 2, 2, 3],
            ..NiftiSpec::ras([2, 2, 2], 2)
        };
        let bytes = encode_nifti(&spec, &(0..24).map(|i| i as f64).collect::<Vec<_>>());
        let message = read_nifti("fmri.nii", &bytes, VolumeChoice::OnlyVolume)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("fmri.nii") && message.contains("4D") && message.contains("3 volumes"),
            "{message}"
        );
        let second = read_nifti("fmri.nii", &bytes, VolumeChoice::Index(1)).unwrap();
        assert_eq!(second.data, (8..16).map(|i| i as f32).collect::<Vec<_>>());
        assert_eq!(second.chosen_volume, Some(1));
        assert!(
            read_nifti("fmri.nii", &bytes, VolumeChoice::Index(3))
                .unwrap_err()
                .to_string()
                .contains("holds 3")
        );
    }

    #[test]
    fn bad_files_get_errors_naming_the_problem() {
        let good = encode_nifti(&NiftiSpec::ras([8, 8, 8], 16), &ramp(512));
        let expect = |bytes: &[u8], needle: &str| {
            let message = read_nifti("bad.nii", bytes, VolumeChoice::OnlyVolume)
                .unwrap_err()
                .to_string();
            assert!(
                message.starts_with("bad.nii:") && message.contains(needle),
                "wanted {needle:?} in {message}"
            );
        };
        expect(&[], "empty");
        expect(&good[..100], "ends early");
        expect(&good[..good.len() - 10], "truncated");
        let gz = gzip(&good);
        expect(&gz[..gz.len() / 2], "gzip stream ends early");
        let mut corrupt = gz.clone();
        for b in &mut corrupt[20..60] {
            *b ^= 0x5a;
        }
        expect(&corrupt, "gzip");
        let mut magic = good.clone();
        magic[344..348].copy_from_slice(b"abcd");
        expect(&magic, "wrong magic");
        let mut size = good.clone();
        size[0..4].copy_from_slice(&540i32.to_le_bytes());
        expect(&size, "NIfTI-2");
        expect(
            b"hello, this is not a scan at all, but it is long enough to hold a header?",
            "ends early",
        );
        // Dimensions that do not match the data: twice the depth.
        let mut dims = good.clone();
        dims[46..48].copy_from_slice(&16i16.to_le_bytes());
        expect(&dims, "truncated");
        // 1000³ voxels: refused from the header, before any allocation.
        let mut huge = good.clone();
        for axis in 0..3 {
            huge[42 + 2 * axis..44 + 2 * axis].copy_from_slice(&1000i16.to_le_bytes());
        }
        expect(&huge, "larger than accepted");
        let mut negative = good.clone();
        negative[42..44].copy_from_slice(&(-5i16).to_le_bytes());
        expect(&negative, "zero or negative");
        let mut rgb = good.clone();
        rgb[70..72].copy_from_slice(&128i16.to_le_bytes());
        rgb[72..74].copy_from_slice(&24i16.to_le_bytes());
        expect(&rgb, "rgb24");
        let mut bitpix = good.clone();
        bitpix[72..74].copy_from_slice(&8i16.to_le_bytes());
        expect(&bitpix, "bitpix");
        let mut nan = ramp(512);
        nan[17] = f64::NAN;
        nan[18] = f64::INFINITY;
        expect(
            &encode_nifti(&NiftiSpec::ras([8, 8, 8], 16), &nan),
            "2 of 512 voxels are NaN",
        );
        let mut spacing = NiftiSpec::ras([8, 8, 8], 16);
        spacing.affine[1][1] = 8.5e37;
        expect(
            &encode_nifti(&spacing, &ramp(512)),
            "voxel axis 1 a size of 8.500e37 mm",
        );
        let mut hdr = good.clone();
        hdr[344..348].copy_from_slice(b"ni1\0");
        expect(&hdr, ".img");
    }
}
