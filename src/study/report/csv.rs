//! `results.csv`: one row per configuration, rule and K.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};

/// Writes `results.csv`.
pub fn write_csv(path: &Path, rows: &[Vec<(String, Value)>]) -> Result<()> {
    let io = |e: csv::Error| Error::output(path, e);
    let mut w = csv::Writer::from_path(path).map_err(io)?;
    if let Some(first) = rows.first() {
        w.write_record(first.iter().map(|(k, _)| k.as_str()))
            .map_err(io)?;
    }
    for row in rows {
        w.write_record(row.iter().map(|(_, v)| match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }))
        .map_err(io)?;
    }
    w.flush().map_err(|e| Error::write(path, e))
}
