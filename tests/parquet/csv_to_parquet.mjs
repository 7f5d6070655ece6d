// bench/run's Parquet baseline, and its check of pgexport's file, with DuckDB (@duckdb/node-api):
//   node csv_to_parquet.mjs convert CSV OUT   DuckDB converts a CSV file with a header (psql's \copy) to
//                                             Parquet with zstd, as one would without pgexport; prints
//                                             {"seconds": the COPY statement's own time}
//   node csv_to_parquet.mjs rows FILE         prints {"rows": the rows DuckDB reads in the Parquet FILE}
import { DuckDBInstance } from '@duckdb/node-api'

const [mode, from, to] = process.argv.slice(2)
const quoted = path => `'${path.replaceAll("'", "''")}'`
const instance = await DuckDBInstance.create(':memory:')
const connection = await instance.connect()
if (mode === 'convert') {
  const t0 = performance.now()
  await connection.run(`COPY (SELECT * FROM read_csv(${quoted(from)}, header = true)) TO ${quoted(to)}` +
                       ' (FORMAT parquet, COMPRESSION zstd)')
  console.log(JSON.stringify({ seconds: (performance.now() - t0) / 1000 }))
} else if (mode === 'rows') {
  const reader = await connection.runAndReadAll(`SELECT count(*)::INTEGER FROM read_parquet(${quoted(from)})`)
  console.log(JSON.stringify({ rows: reader.getRows()[0][0] }))
} else {
  console.error('usage: node csv_to_parquet.mjs convert CSV OUT | rows FILE')
  process.exit(2)
}
