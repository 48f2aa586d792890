// Writes caption Parquet files the way a user's notebook would, with DuckDB
// (not our Go writer): ROWS unique captions per file, from the real LAION
// captions (their TEXT column; each caption made unique by a trailing number, which is no
// word and changes no count), in img2dataset's caption/url/key columns.
//
//   node bench/duckdb_parquet.mjs CAPTIONS.parquet OUT.parquet ROWS [BIG_BYTES]
//
// BIG_BYTES > 0 writes hostile captions instead: each caption repeated to
// about BIG_BYTES bytes (zstd compresses them to almost nothing).
// Run from .cache/node (where make deps installs @duckdb/node-api).
import { DuckDBInstance } from '@duckdb/node-api';
const [src, out, rows, big] = process.argv.slice(2);
const n = Number(rows), bigBytes = Number(big || 0);
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const esc = (s) => s.replaceAll("'", "''");
await con.run(`create table c as select row_number() over () - 1 as i, "TEXT" as caption from read_parquet('${esc(src)}') where "TEXT" is not null`);
const m = Number((await con.runAndReadAll('select count(*) from c')).getRows()[0][0]);
const text = bigBytes > 0
  ? `repeat(c.caption || ' ', greatest(1, ${bigBytes} // (length(c.caption) + 1)))`
  : `c.caption || ' ' || g.r`;
await con.run(`copy (
  select ${text} as caption, 'https://example.com/' || g.r || '.jpg' as url, lpad(g.r::varchar, 9, '0') as key
  from range(${n}) g(r) join c on c.i = g.r % ${m}
  order by g.r
) to '${esc(out)}' (format parquet, compression zstd)`);
