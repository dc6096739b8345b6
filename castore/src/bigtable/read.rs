//! [RowAssembler]: puts the cells of a ReadRows response back together.
//!
//! Bigtable streams rows as chunks: a cell may be split over several chunks
//! (and several response messages), and a row is only valid once a chunk
//! commits it; a reset discards what was received of it. The backends read
//! one column with one version, so a committed row must hold exactly one
//! cell.

use bigtable_rs::google::bigtable::v2::read_rows_response::CellChunk;
use bigtable_rs::google::bigtable::v2::read_rows_response::cell_chunk::RowStatus;

/// A row key and the value of its one cell.
pub type Row = (Vec<u8>, Vec<u8>);

#[derive(Default)]
pub struct RowAssembler {
    /// The row being received, None between rows.
    key: Option<Vec<u8>>,
    value: Vec<u8>,
    /// Cells started in the current row.
    cells: usize,
    /// Whether the last chunk left its cell unfinished (`value_size > 0`).
    in_cell: bool,
}

impl RowAssembler {
    /// Takes the next chunk; returns the row it commits, if it does.
    pub fn push(&mut self, chunk: CellChunk) -> Result<Option<Row>, String> {
        match (&self.key, chunk.row_key.is_empty()) {
            (None, true) => return Err("a chunk continues a row that was never started".into()),
            (None, false) => self.key = Some(chunk.row_key),
            (Some(key), false) if *key != chunk.row_key => {
                return Err(format!(
                    "row {:?} started before row {:?} was committed",
                    String::from_utf8_lossy(&chunk.row_key),
                    String::from_utf8_lossy(key)
                ));
            }
            (Some(_), _) => {}
        }
        if !self.in_cell {
            self.cells += 1;
        }
        self.value.extend_from_slice(&chunk.value);
        self.in_cell = chunk.value_size > 0;

        match chunk.row_status {
            Some(RowStatus::ResetRow(true)) => {
                *self = Self::default();
                Ok(None)
            }
            Some(RowStatus::CommitRow(true)) => {
                let done = std::mem::take(self);
                if done.in_cell {
                    return Err("a row was committed inside a split cell".into());
                }
                let key = done.key.unwrap_or_default();
                if done.cells != 1 {
                    return Err(format!(
                        "row {:?} has {} cells in the column, expected 1",
                        String::from_utf8_lossy(&key),
                        done.cells
                    ));
                }
                Ok(Some((key, done.value)))
            }
            _ => Ok(None),
        }
    }

    /// Checks that the stream did not end inside a row.
    pub fn finish(&self) -> Result<(), String> {
        match &self.key {
            Some(key) => Err(format!(
                "the response ended inside row {:?}",
                String::from_utf8_lossy(key)
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(key: &str, value: &str, value_size: i32, status: Option<RowStatus>) -> CellChunk {
        CellChunk {
            row_key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            value_size,
            row_status: status,
            ..Default::default()
        }
    }

    /// Feeds `chunks`, collecting committed rows; the first error ends it.
    fn assemble(chunks: Vec<CellChunk>) -> Result<Vec<(String, String)>, String> {
        let mut assembler = RowAssembler::default();
        let mut rows = Vec::new();
        for c in chunks {
            if let Some((key, value)) = assembler.push(c)? {
                rows.push((
                    String::from_utf8(key).unwrap(),
                    String::from_utf8(value).unwrap(),
                ));
            }
        }
        assembler.finish()?;
        Ok(rows)
    }

    const COMMIT: Option<RowStatus> = Some(RowStatus::CommitRow(true));
    const RESET: Option<RowStatus> = Some(RowStatus::ResetRow(true));

    #[test]
    fn whole_and_split_cells() {
        assert_eq!(
            Ok(vec![("a".into(), "1".into()), ("b".into(), "234".into())]),
            assemble(vec![
                chunk("a", "1", 0, COMMIT),
                chunk("b", "2", 3, None),
                chunk("", "3", 3, None),
                chunk("", "4", 0, COMMIT),
            ])
        );
    }

    #[test]
    fn reset_discards_the_row() {
        assert_eq!(
            Ok(vec![("a".into(), "2".into())]),
            assemble(vec![chunk("a", "1", 0, RESET), chunk("a", "2", 0, COMMIT)])
        );
    }

    #[test]
    fn malformed() {
        assert!(assemble(vec![chunk("", "1", 0, COMMIT)]).is_err());
        assert!(assemble(vec![chunk("a", "1", 0, None), chunk("b", "2", 0, COMMIT)]).is_err());
        assert!(assemble(vec![chunk("a", "1", 5, COMMIT)]).is_err());
        assert!(assemble(vec![chunk("a", "1", 0, None), chunk("", "2", 0, COMMIT)]).is_err());
        assert!(assemble(vec![chunk("a", "1", 0, None)]).is_err());
    }
}
