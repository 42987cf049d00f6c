//! Reader for the upstream wilayah_boundaries SQL dumps (github.com/cahyadsn/
//! wilayah_boundaries): MySQL-style `INSERT INTO wilayah_boundaries(kode,nama,lat,lng,
//! path) VALUES (...),(...);` where `path` is a JSON string of **[lat, lng]** pairs,
//! nested three deep for a polygon and four deep for a multipolygon.
//!
//! Only INSERT statements into `wilayah_boundaries` are read; comments, DELETE and other
//! statements are skipped. Names may contain doubled quotes (`'Ma''U'`) and the
//! whitespace between tokens is irregular.

use std::path::Path;

use serde_json::Value;

use super::geometry::{Position, RawBoundary, Ring};
use super::{check_record, ImportError, RawRegion, RecordOrigin, Rejection};

/// A value in a VALUES tuple.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Text(String),
    Number(String),
    Null,
}

struct Lexer<'a> {
    text: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str) -> Self {
        Lexer { text: text.as_bytes(), pos: 0, line: 1 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
        }
        Some(b)
    }

    /// Skips whitespace and comments (`/* */`, `-- `, `#`).
    fn skip_trivia(&mut self) -> Result<(), String> {
        loop {
            match (self.peek(), self.text.get(self.pos + 1).copied()) {
                (Some(b), _) if b.is_ascii_whitespace() => {
                    self.bump();
                }
                (Some(b'/'), Some(b'*')) => {
                    let start = self.line;
                    self.pos += 2;
                    loop {
                        match self.bump() {
                            Some(b'*') if self.peek() == Some(b'/') => {
                                self.pos += 1;
                                break;
                            }
                            Some(_) => {}
                            None => return Err(format!("comment opened at line {start} is never closed")),
                        }
                    }
                }
                (Some(b'-'), Some(b'-')) | (Some(b'#'), _) => while !matches!(self.bump(), Some(b'\n') | None) {},
                _ => return Ok(()),
            }
        }
    }

    /// Reads an identifier or keyword (letters, digits, `_`, backquotes stripped).
    fn word(&mut self) -> String {
        let start = self.pos;
        while matches!(self.peek(), Some(b) if b.is_ascii_alphanumeric() || b == b'_' || b == b'`') {
            self.bump();
        }
        String::from_utf8_lossy(&self.text[start..self.pos]).replace('`', "")
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        self.skip_trivia()?;
        match self.peek() {
            Some(b) if b == byte => {
                self.bump();
                Ok(())
            }
            Some(b) => Err(format!("expected '{}' at line {}, found '{}'", byte as char, self.line, b as char)),
            None => Err(format!("file ends where '{}' was expected (truncated?)", byte as char)),
        }
    }

    fn expect_word(&mut self, word: &str) -> Result<(), String> {
        self.skip_trivia()?;
        let found = self.word();
        if found.eq_ignore_ascii_case(word) {
            Ok(())
        } else if found.is_empty() && self.peek().is_none() {
            Err(format!("file ends where {word} was expected (truncated?)"))
        } else {
            Err(format!("expected {word} at line {}, found {found:?}", self.line))
        }
    }

    /// Skips to just after the next `;` outside quotes.
    fn skip_statement(&mut self) -> Result<(), String> {
        loop {
            match self.bump() {
                Some(b';') | None => return Ok(()),
                Some(b'\'') => {
                    self.pos -= 1;
                    self.string()?;
                }
                Some(_) => {}
            }
        }
    }

    /// Reads a single-quoted string with `''` and MySQL backslash escapes.
    fn string(&mut self) -> Result<String, String> {
        let start = self.line;
        self.bump();
        let mut out = Vec::new();
        loop {
            match self.bump() {
                Some(b'\'') if self.peek() == Some(b'\'') => {
                    self.bump();
                    out.push(b'\'');
                }
                Some(b'\'') => break,
                Some(b'\\') => match self.bump() {
                    Some(b'n') => out.push(b'\n'),
                    Some(b't') => out.push(b'\t'),
                    Some(b'0') => out.push(0),
                    Some(b) => out.push(b),
                    None => break,
                },
                Some(b) => out.push(b),
                None => return Err(format!("string opened at line {start} is never closed (truncated?)")),
            }
        }
        String::from_utf8(out).map_err(|_| format!("string at line {start} is not valid UTF-8"))
    }

    fn literal(&mut self) -> Result<Literal, String> {
        self.skip_trivia()?;
        match self.peek() {
            Some(b'\'') => self.string().map(Literal::Text),
            Some(b) if b == b'-' || b == b'+' || b == b'.' || b.is_ascii_digit() => {
                let start = self.pos;
                while matches!(self.peek(), Some(b) if b.is_ascii_digit() || b"+-.eE".contains(&b)) {
                    self.bump();
                }
                Ok(Literal::Number(String::from_utf8_lossy(&self.text[start..self.pos]).into_owned()))
            }
            Some(_) => {
                let word = self.word();
                if word.eq_ignore_ascii_case("null") {
                    Ok(Literal::Null)
                } else {
                    Err(format!("unexpected {word:?} in VALUES at line {}", self.line))
                }
            }
            None => Err("file ends inside a VALUES tuple (truncated?)".to_owned()),
        }
    }
}

/// Column positions of an INSERT's column list.
struct Columns {
    kode: usize,
    nama: usize,
    path: usize,
    count: usize,
}

impl Columns {
    fn from_names(names: &[String]) -> Result<Self, String> {
        let find = |name: &str| {
            names
                .iter()
                .position(|n| n.eq_ignore_ascii_case(name))
                .ok_or_else(|| format!("INSERT has no {name} column (columns: {})", names.join(",")))
        };
        Ok(Columns { kode: find("kode")?, nama: find("nama")?, path: find("path")?, count: names.len() })
    }
}

/// Reads one dump, appending good records to `regions` and bad ones to `rejections`.
///
/// A syntax error (truncated file, broken `path` JSON) fails the whole file, naming the
/// record being read.
pub(super) fn read(
    file: &Path,
    text: &str,
    regions: &mut Vec<RawRegion>,
    rejections: &mut Vec<Rejection>,
) -> Result<(), ImportError> {
    let mut lexer = Lexer::new(text);
    let mut record = 0;
    let malformed = |record: usize, line: usize, reason: String| ImportError::Malformed {
        origin: RecordOrigin { file: file.to_path_buf(), record: record.max(1), line: Some(line) },
        reason,
    };
    loop {
        lexer.skip_trivia().map_err(|e| malformed(record, lexer.line, e))?;
        if lexer.peek().is_none() {
            break;
        }
        let statement_line = lexer.line;
        let keyword = lexer.word();
        if !keyword.eq_ignore_ascii_case("insert") {
            if keyword.is_empty() && lexer.peek() != Some(b';') {
                let found = lexer.peek().map(char::from).unwrap_or(' ');
                return Err(malformed(record, statement_line, format!("unexpected '{found}'")));
            }
            lexer.skip_statement().map_err(|e| malformed(record, statement_line, e))?;
            continue;
        }
        let columns = insert_header(&mut lexer).map_err(|e| malformed(record + 1, statement_line, e))?;
        loop {
            lexer.skip_trivia().map_err(|e| malformed(record + 1, lexer.line, e))?;
            record += 1;
            let record_line = lexer.line;
            let values = tuple(&mut lexer, &columns).map_err(|e| malformed(record, record_line, e))?;
            let origin = RecordOrigin { file: file.to_path_buf(), record, line: Some(record_line) };
            match to_region(&values, &columns, origin) {
                Ok(region) => regions.push(region),
                Err(RecordError::Rejected(rejection)) => rejections.push(rejection),
                Err(RecordError::Malformed(reason)) => return Err(malformed(record, record_line, reason)),
            }
            lexer.skip_trivia().map_err(|e| malformed(record, lexer.line, e))?;
            match lexer.bump() {
                Some(b',') => continue,
                Some(b';') => break,
                None => break,
                Some(b) => {
                    return Err(malformed(
                        record,
                        lexer.line,
                        format!("expected ',' or ';' after the tuple, found '{}'", b as char),
                    ))
                }
            }
        }
    }
    Ok(())
}

/// Reads `INTO wilayah_boundaries (cols) VALUES` after the INSERT keyword.
fn insert_header(lexer: &mut Lexer<'_>) -> Result<Columns, String> {
    lexer.expect_word("into")?;
    lexer.skip_trivia()?;
    let table = lexer.word();
    if !table.eq_ignore_ascii_case("wilayah_boundaries") {
        return Err(format!("INSERT into {table:?}, expected wilayah_boundaries"));
    }
    lexer.expect(b'(')?;
    let mut names = Vec::new();
    loop {
        lexer.skip_trivia()?;
        names.push(lexer.word());
        lexer.skip_trivia()?;
        match lexer.bump() {
            Some(b',') => continue,
            Some(b')') => break,
            _ => return Err("malformed column list".to_owned()),
        }
    }
    lexer.expect_word("values")?;
    Columns::from_names(&names)
}

fn tuple(lexer: &mut Lexer<'_>, columns: &Columns) -> Result<Vec<Literal>, String> {
    lexer.expect(b'(')?;
    let mut values = Vec::with_capacity(columns.count);
    loop {
        values.push(lexer.literal()?);
        lexer.skip_trivia()?;
        match lexer.bump() {
            Some(b',') => continue,
            Some(b')') => break,
            Some(b) => {
                return Err(format!("expected ',' or ')' in the tuple at line {}, found '{}'", lexer.line, b as char))
            }
            None => return Err("file ends inside a VALUES tuple (truncated?)".to_owned()),
        }
    }
    if values.len() != columns.count {
        return Err(format!("tuple has {} values for {} columns", values.len(), columns.count));
    }
    Ok(values)
}

enum RecordError {
    Rejected(Rejection),
    Malformed(String),
}

fn to_region(values: &[Literal], columns: &Columns, origin: RecordOrigin) -> Result<RawRegion, RecordError> {
    let text = |i: usize, what: &str| match &values[i] {
        Literal::Text(s) => Ok(s.as_str()),
        other => Err(RecordError::Malformed(format!("{what} must be a quoted string, found {other:?}"))),
    };
    let code = text(columns.kode, "kode")?;
    let name = text(columns.nama, "nama")?;
    let path = text(columns.path, "path")?;
    let boundary = parse_path(path).map_err(|e| RecordError::Malformed(format!("[{code}] path: {e}")))?;
    check_record(code, name, None, None, boundary, origin).map_err(RecordError::Rejected)
}

/// Parses a `path` JSON string of [lat, lng] pairs (polygon or multipolygon nesting)
/// into (lon, lat) positions.
fn parse_path(path: &str) -> Result<RawBoundary, String> {
    let value: Value = serde_json::from_str(path).map_err(|e| format!("broken JSON: {e}"))?;
    let depth = nesting_depth(&value);
    let polygons = match depth {
        3 => vec![polygon(&value)?],
        4 => array(&value)?.iter().map(polygon).collect::<Result<_, _>>()?,
        _ => return Err(format!("expected polygon or multipolygon nesting, found depth {depth}")),
    };
    Ok(RawBoundary { polygons })
}

/// Depth of arrays down to the first number: 3 for a polygon, 4 for a multipolygon.
fn nesting_depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.first().map_or(0, nesting_depth),
        _ => 0,
    }
}

fn array(value: &Value) -> Result<&Vec<Value>, String> {
    value.as_array().ok_or_else(|| format!("expected an array, found {value}"))
}

fn polygon(value: &Value) -> Result<Vec<Ring>, String> {
    array(value)?.iter().map(ring).collect()
}

fn ring(value: &Value) -> Result<Ring, String> {
    array(value)?.iter().map(lat_lng).collect()
}

fn lat_lng(value: &Value) -> Result<Position, String> {
    match array(value)?.as_slice() {
        [lat, lng, ..] => match (lat.as_f64(), lng.as_f64()) {
            (Some(lat), Some(lng)) => Ok([lng, lat]),
            _ => Err(format!("coordinate {value} is not a pair of numbers")),
        },
        _ => Err(format!("coordinate {value} has fewer than two numbers")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(text: &str) -> Result<(Vec<RawRegion>, Vec<Rejection>), ImportError> {
        let mut regions = Vec::new();
        let mut rejections = Vec::new();
        read(Path::new("test.sql"), text, &mut regions, &mut rejections)?;
        Ok((regions, rejections))
    }

    const SQUARE: &str = "[[[0.0,100.0],[0.0,101.0],[1.0,101.0],[1.0,100.0],[0.0,100.0]]]";

    #[test]
    fn reads_upstream_quirks() {
        let sql = format!(
            "/* header\n with 'quotes' */\nDELETE FROM wilayah_boundaries WHERE kode BETWEEN '11' AND '15';\n\
             INSERT INTO wilayah_boundaries(kode,nama,lat,lng,path) VALUES\n\
             \t('72','O''O''U',0.5,100.5,'{SQUARE}'),\n ( '72.01' ,  'Ma''U',0.5,100.5,'[{SQUARE}]') ;"
        );
        let (regions, rejections) = read_str(&sql).expect("parses");
        assert!(rejections.is_empty(), "{rejections:?}");
        assert_eq!(regions.len(), 2);
        assert_eq!(regions[0].name, "O'O'U");
        assert_eq!(regions[1].name, "Ma'U");
        assert_eq!(regions[1].parent.as_ref().map(|p| p.as_str()), Some("72"));
        assert_eq!(regions[0].boundary.polygons[0][0][1], [101.0, 0.0], "lat,lng swapped to lon,lat");
        assert_eq!(regions[0].boundary, regions[1].boundary);
        assert_eq!(regions[1].origin.record, 2);
        assert_eq!(regions[1].origin.line, Some(6));
    }

    #[test]
    fn truncated_file_names_file_and_record() {
        let sql = format!(
            "INSERT INTO wilayah_boundaries(kode,nama,lat,lng,path) VALUES ('72','A',0,0,'{SQUARE}'),('72.01','B',0,0,'[[[0.0,1"
        );
        let err = read_str(&sql).expect_err("truncated");
        let message = err.to_string();
        assert!(message.starts_with("test.sql: record 2"), "{message}");
        assert!(message.contains("truncated"), "{message}");
    }

    #[test]
    fn broken_path_json_is_malformed() {
        let sql =
            "INSERT INTO wilayah_boundaries(kode,nama,lat,lng,path) VALUES ('72','A',0,0,'[[[0.0,100.0],[0.0,]]]');";
        let err = read_str(sql).expect_err("broken json");
        assert!(err.to_string().contains("record 1"), "{err}");
        assert!(err.to_string().contains("broken JSON"), "{err}");
    }

    #[test]
    fn latitude_out_of_range_is_rejected_with_its_record() {
        let sql = "INSERT INTO wilayah_boundaries(kode,nama,lat,lng,path) VALUES \
                   ('72','A',0,0,'[[[0.0,100.0],[0.0,101.0],[91.0,101.0],[0.0,100.0]]]');";
        let (regions, rejections) = read_str(sql).expect("parses");
        assert!(regions.is_empty());
        assert_eq!(rejections.len(), 1);
        assert!(rejections[0].reason.contains("latitude 91"), "{}", rejections[0].reason);
        assert_eq!(rejections[0].code.as_deref(), Some("72"));
    }
}
