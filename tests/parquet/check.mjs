// Reads Parquet files with two independent readers, DuckDB (@duckdb/node-api, its own C++ reader) and
// hyparquet (pure JavaScript), and checks that both give exactly the values PostgreSQL gave, compared
// through one canonical text form per kind of column, which PostgreSQL's SQL produced for the expected
// rows (tests/integration/parquet_readers.cpp):
//   int       the integer in decimal
//   float4/8  the IEEE bits in hex, big-endian (PostgreSQL's float4send/float8send)
//   bool      t or f
//   decimal   the decimal text with exactly `scale` digits after the point (PostgreSQL's numeric text)
//   date      days since 1970-01-01, or infinity / -infinity
//   timestamp microseconds since 1970-01-01 00:00:00 (UTC), or infinity / -infinity
//   uuid, text, json   the text
//   bytea     the bytes in lower-case hex
// DuckDB also checks every row group's statistics: null count, and min and max against the values' own
// (every row group must have them, but where a value is longer than the writer's 4096-byte limit).
//
// Usage: node check.mjs SPEC.json, SPEC = {"columns": [{"name", "kind", "scale"}], "expected": [[text or
// null, ...], ...], "files": [path, ...]}. Exit status 0 when every file matches; mismatches are printed.

import { DuckDBInstance } from '@duckdb/node-api'
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
import { readFileSync } from 'node:fs'

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const INT32_MAX = 2147483647
const INT64_MAX = 9223372036854775807n
let failures = 0

function fail(message) {
  failures++
  if (failures <= 40) console.log('FAIL ' + message)
}

function floatHex(value, bytes) {
  const view = new DataView(new ArrayBuffer(bytes))
  if (bytes === 4) view.setFloat32(0, value)
  else view.setFloat64(0, value)
  return Array.from(new Uint8Array(view.buffer), b => b.toString(16).padStart(2, '0')).join('')
}

function decimalText(unscaled, scale) {
  const negative = unscaled < 0n
  let digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0')
  if (scale > 0) digits = digits.slice(0, -scale) + '.' + digits.slice(-scale)
  return (negative ? '-' : '') + digits
}

function bytesHex(bytes) {
  return Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('')
}

// Big-endian two's complement bytes to a BigInt.
function signedBigEndian(bytes) {
  let value = 0n
  for (const b of bytes) value = value * 256n + BigInt(b)
  if (bytes.length && bytes[0] & 0x80) value -= 1n << BigInt(8 * bytes.length)
  return value
}

function compare(reader, file, rows) {
  if (rows.length !== spec.expected.length) {
    fail(`${reader} ${file}: ${rows.length} rows, PostgreSQL has ${spec.expected.length}`)
    return
  }
  for (let r = 0; r < rows.length; r++) {
    for (let c = 0; c < spec.columns.length; c++) {
      const want = spec.expected[r][c]
      const got = rows[r][c]
      if (want !== got) {
        fail(`${reader} ${file} row ${r} column ${spec.columns[c].name}: ${JSON.stringify(got)}, PostgreSQL: ${JSON.stringify(want)}`)
      }
    }
  }
}

// DuckDB: the canonical form computed by DuckDB's own SQL where it has the means, so its reading of
// infinities, decimals and time is what is checked.
function duckdbExpression(column) {
  const c = `"${column.name}"`
  switch (column.kind) {
  case 'int': case 'decimal': case 'uuid': case 'text': case 'json':
    return `CAST(${c} AS VARCHAR)`
  case 'bool':
    return `CASE WHEN ${c} IS NULL THEN NULL WHEN ${c} THEN 't' ELSE 'f' END`
  case 'date':
    return `CASE WHEN isinf(${c}) THEN CAST(${c} AS VARCHAR) ELSE CAST(${c} - DATE '1970-01-01' AS VARCHAR) END`
  case 'timestamp':
    return `CASE WHEN isinf(${c}) THEN CAST(${c} AS VARCHAR) ELSE CAST(epoch_us(${c}) AS VARCHAR) END`
  case 'bytea':
    return `lower(hex(${c}))`
  case 'float4': case 'float8':
    return c // the number itself, its bits taken below
  }
  throw new Error('unknown kind ' + column.kind)
}

async function checkDuckdb(connection, file) {
  const select = spec.columns.map(duckdbExpression).join(', ')
  const reader = await connection.runAndReadAll(`SELECT ${select} FROM read_parquet('${file}', file_row_number = true) ORDER BY file_row_number`)
  const rows = reader.getRows().map(row => row.map((value, c) => {
    if (value === null) return null
    const kind = spec.columns[c].kind
    if (kind === 'float4') return floatHex(value, 4)
    if (kind === 'float8') return floatHex(value, 8)
    return String(value)
  }))
  compare('duckdb', file, rows)

  // Statistics: per row group, the null count, and min and max (read back as the column's type) equal
  // to those of the values DuckDB reads from the row group. Floats leave NaN out, as the writer must.
  const types = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`)).getRows()
  for (const [name, type] of types) {
    const column = spec.columns.find(c => c.name === name)
    const floating = column.kind === 'float4' || column.kind === 'float8'
    const bytewise = ['text', 'json', 'bytea'].includes(column.kind)
    const only = floating ? ` FILTER (WHERE NOT isnan("${name}"))` : ''
    const min = `min("${name}")${only}`
    const max = `max("${name}")${only}`
    const sql = `
      WITH m AS (SELECT row_group_id AS rg_id, row_group_num_rows AS rg_rows, stats_min_value AS rg_min,
                        stats_max_value AS rg_max, stats_null_count AS rg_nulls
                 FROM parquet_metadata('${file}') WHERE path_in_schema = '${name}'),
           g AS (SELECT *, sum(rg_rows) OVER (ORDER BY rg_id) - rg_rows AS rg_first FROM m),
           d AS (SELECT file_row_number AS rg_row, "${name}" FROM read_parquet('${file}', file_row_number = true))
      SELECT rg_id, rg_nulls = count(*) - count("${name}"),
             (rg_min IS NULL AND ${min} IS NULL) OR TRY_CAST(rg_min AS ${type}) = ${min},
             (rg_max IS NULL AND ${max} IS NULL) OR TRY_CAST(rg_max AS ${type}) = ${max},
             rg_min, rg_max, CAST(${min} AS VARCHAR), CAST(${max} AS VARCHAR),
             ${floating ? `count(*) FILTER (WHERE isnan("${name}"))` : '0'},
             ${bytewise ? `max(${column.kind === 'bytea' ? 'octet_length' : 'strlen'}("${name}"))` : '0'}
      FROM g JOIN d ON rg_row >= rg_first AND rg_row < rg_first + rg_rows
      GROUP BY rg_id, rg_nulls, rg_min, rg_max ORDER BY 1`
    for (const [group, nulls, min, max, smin, smax, dmin, dmax, nans, longest] of (await connection.runAndReadAll(sql)).getRows()) {
      if (!nulls) fail(`duckdb ${file} row group ${group} column ${name}: null count`)
      // No min and max is right in two cases: DuckDB shows none for a float row group that holds NaN
      // (its own order puts NaN last), and the writer keeps none when a value is over 4096 bytes.
      if (smin === null && smax === null && (Number(nans) > 0 || Number(longest) > 4096)) continue
      if (!min) fail(`duckdb ${file} row group ${group} column ${name}: min ${smin}, values' ${dmin}`)
      if (!max) fail(`duckdb ${file} row group ${group} column ${name}: max ${smax}, values' ${dmax}`)
    }
  }
}

// hyparquet: its own decoding of pages and encodings, its parsers replaced where its defaults lose
// information (JavaScript Dates, JSON.parse, decimals as doubles): decimals are read as the unscaled
// integers (their annotation removed from the metadata it was handed) and formatted here.
async function checkHyparquet(file) {
  const buffer = await asyncBufferFromFile(file)
  const metadata = await parquetMetadataAsync(buffer)
  for (const element of metadata.schema) {
    if (element.converted_type === 'DECIMAL') {
      delete element.converted_type
      delete element.logical_type
    }
  }
  const objects = await parquetReadObjects({
    file: buffer,
    metadata,
    compressors,
    utf8: false,
    parsers: {
      timestampFromMicroseconds: v => v === INT64_MAX ? 'infinity' : v === -INT64_MAX ? '-infinity' : String(v),
      dateFromDays: v => v === INT32_MAX ? 'infinity' : v === -INT32_MAX ? '-infinity' : String(v),
      jsonFromBytes: bytes => new TextDecoder().decode(bytes),
    },
  })
  const rows = objects.map(object => spec.columns.map(column => {
    const value = object[column.name]
    if (value === null || value === undefined) return null
    switch (column.kind) {
    case 'float4': return floatHex(value, 4)
    case 'float8': return floatHex(value, 8)
    case 'bool': return value ? 't' : 'f'
    case 'bytea': return bytesHex(value)
    case 'decimal': {
      const unscaled = value instanceof Uint8Array ? signedBigEndian(value) : BigInt(value)
      return decimalText(unscaled, column.scale)
    }
    default: return String(value)
    }
  }))
  compare('hyparquet', file, rows)
}

const instance = await DuckDBInstance.create(':memory:')
const connection = await instance.connect()
for (const file of spec.files) {
  await checkDuckdb(connection, file)
  await checkHyparquet(file)
}
console.log(`${spec.files.length} files, ${spec.expected.length} rows each, ${spec.columns.length} columns: ` +
            (failures ? `${failures} mismatches` : 'DuckDB and hyparquet read what PostgreSQL has'))
process.exit(failures ? 1 : 0)
