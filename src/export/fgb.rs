//! FlatGeobuf with its packed Hilbert R-tree (the `flatgeobuf` crate's writer).
//!
//! The index precedes the features in the file and is built from every feature's
//! bounding box, so the writer keeps features in a temporary file and, per feature, its
//! box and offset in memory (about 100 bytes each while the index is built); the file
//! is written out in Hilbert order once the last feature is in.

use std::io::Write;

use axum::body::Bytes;
use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
use geo::orient::{Direction, Orient};
use geo::{Geometry, MapCoords};
use geozero::{ColumnValue, PropertyProcessor};
use serde_json::Value as Json;
use tokio::sync::mpsc;

use super::layer::GeometryKind;
use super::{ExportError, Feature, FeatureSink, Kind, Layer, Value, ATTRIBUTION, CHUNK};

fn fgb_error(e: impl std::fmt::Display) -> ExportError {
    ExportError::FlatGeobuf(e.to_string())
}

/// Collects features into a FlatGeobuf writer.
pub(super) struct FgbSink {
    writer: FgbWriter<'static>,
    layer: Layer,
    count: u64,
}

impl FgbSink {
    /// A writer with the layer's columns, EPSG:4326 and the export's metadata.
    pub(super) fn new(layer: Layer, metadata: &Json) -> Result<FgbSink, ExportError> {
        let geometry_type = match layer.geometry_kind() {
            GeometryKind::MultiPolygon => GeometryType::MultiPolygon,
            GeometryKind::Polygon => GeometryType::Polygon,
            GeometryKind::Mixed => GeometryType::Unknown,
        };
        let metadata = metadata.to_string();
        let options = FgbWriterOptions {
            write_index: true,
            detect_type: false,
            promote_to_multi: geometry_type == GeometryType::MultiPolygon,
            crs: FgbCrs { code: 4326, ..Default::default() },
            title: Some(layer.title()),
            description: Some(ATTRIBUTION),
            metadata: Some(&metadata),
            ..Default::default()
        };
        let mut writer = FgbWriter::create_with_options(layer.name(), geometry_type, options).map_err(fgb_error)?;
        for column in layer.columns() {
            let kind = match column.kind {
                Kind::Int => ColumnType::Long,
                Kind::Float => ColumnType::Double,
                Kind::Text => ColumnType::String,
                Kind::Bool => ColumnType::Bool,
                Kind::Time => ColumnType::DateTime,
            };
            writer.add_column(&column.name, kind, |_, c| c.nullable = true);
        }
        Ok(FgbSink { writer, layer, count: 0 })
    }

    /// Writes the file (header, index, features in Hilbert order) into `chunks`, off the
    /// async threads; returns the number of features.
    pub(super) async fn finish(self, chunks: mpsc::Sender<Bytes>) -> Result<u64, ExportError> {
        let FgbSink { writer, count, .. } = self;
        tokio::task::spawn_blocking(move || {
            let mut out = ChunkWriter { chunks, buffer: Vec::with_capacity(CHUNK) };
            writer.write(&mut out).map_err(fgb_error)?;
            out.flush().map_err(|_| ExportError::ReaderGone)?;
            Ok(count)
        })
        .await
        .map_err(fgb_error)?
    }
}

impl FeatureSink for FgbSink {
    async fn feature(&mut self, feature: Feature) -> Result<(), ExportError> {
        let columns = self.layer.columns();
        let geometry = rounded(&feature.geometry);
        let mut failed = None;
        self.writer
            .add_feature_geom(geometry, |out| {
                for (i, (column, value)) in columns.iter().zip(&feature.values).enumerate() {
                    let time;
                    let value = match value {
                        Value::Null => continue,
                        Value::Int(n) => ColumnValue::Long(*n),
                        Value::Float(v) => ColumnValue::Double(*v),
                        Value::Text(s) => ColumnValue::String(s),
                        Value::Name(s) => ColumnValue::String(s),
                        Value::Bool(b) => ColumnValue::Bool(*b),
                        Value::Time(t) => {
                            time = t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
                            ColumnValue::DateTime(&time)
                        }
                    };
                    if let Err(e) = out.property(i, &column.name, &value) {
                        failed = Some(e);
                    }
                }
            })
            .map_err(fgb_error)?;
        self.count += 1;
        failed.map_or(Ok(()), |e| Err(fgb_error(e)))
    }
}

/// The geometry as the text formats write it: on the 7-decimal grid, exterior rings
/// counter-clockwise.
pub(super) fn rounded(geometry: &Geometry<f64>) -> Geometry<f64> {
    let round = |v: f64| (v * 1e7).round() / 1e7;
    let g = super::encode::on_grid(geometry).map_coords(|c| geo::coord! { x: round(c.x), y: round(c.y) });
    match g {
        Geometry::Polygon(p) => Geometry::Polygon(p.orient(Direction::Default)),
        Geometry::MultiPolygon(m) => Geometry::MultiPolygon(m.orient(Direction::Default)),
        other => other,
    }
}

/// Hands what is written to a channel in chunks of [`CHUNK`] bytes, waiting for the
/// reader (on a blocking thread).
struct ChunkWriter {
    chunks: mpsc::Sender<Bytes>,
    buffer: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        let full = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
        self.chunks.blocking_send(Bytes::from(full)).map_err(|_| std::io::ErrorKind::BrokenPipe.into())
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            Ok(())
        } else {
            self.send()
        }
    }
}
