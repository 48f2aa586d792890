// Writes a test_embeddings.parquet the way a user's notebook would, with
// DuckDB (not our Go writer): ROWS rows of dataset, key, label (null) and
// a DIM-dimensional random vector (list<float>), for the similarity-control
// bench (bench/near.sh).
//
//   node bench/duckdb_test_embeddings.mjs OUT.parquet ROWS DIM
//
// Run from .cache/node (where make deps installs @duckdb/node-api).
import { DuckDBInstance } from '@duckdb/node-api';
const [out, rows, dim] = process.argv.slice(2);
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
await con.run(`copy (
  select 'bench' as dataset, 'test/' || g.r as key, null::varchar as label,
         list_transform(range(${Number(dim)}), x -> (random() * 2 - 1)::float) as vector
  from range(${Number(rows)}) g(r)
) to '${out.replaceAll("'", "''")}' (format parquet, compression zstd)`);
