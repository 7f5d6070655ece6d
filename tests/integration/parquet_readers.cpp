// Parquet files written from a real PostgreSQL's binary COPY (format/pg_binary into format/parquet) for a
// table of every mapped type, read back by two independent readers, DuckDB and hyparquet
// (tests/parquet/check.mjs, on Node), which must both give exactly PostgreSQL's values: NULLs, extremes,
// NaN and infinities, numerics at 38 digits, dates and timestamps before 1970 and after 2038, infinite
// ones, empty and long strings, non-ASCII text. Written with each codec, with pages and dictionaries
// small enough to fall back, resumed from checkpoints (byte-identical), and joined from two slices.

#include "format/parquet/pg_columns.hpp"
#include "format/parquet/writer.hpp"
#include "format/pg_binary.hpp"
#include "test_support.hpp"

#include <pgexport/version.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <libpq-fe.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

using namespace pgexport;
using namespace pgexport::engine::detail;
using namespace pgexport::engine::detail::parquet;

namespace {

const std::filesystem::path checker =
    std::filesystem::path(__FILE__).parent_path().parent_path() / "parquet" / "check.mjs";

const char* table_sql = R"sql(
CREATE TYPE mood AS ENUM ('sad', 'happy', 'żółć');
CREATE TABLE every_type (
    id bigint PRIMARY KEY, i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision, b boolean,
    d38 numeric(38,10), d9 numeric(9,2), d18 numeric(18,4), d20 numeric(20,0), n numeric, t text,
    vc varchar(10), ch char(4), e mood, dt date, ts timestamp, tstz timestamptz, u uuid, j json, jb jsonb,
    by bytea, iv interval, arr integer[], req text NOT NULL);
INSERT INTO every_type VALUES
 (1, 0, 0, 0, 0, 0, false, 0, 0, 0, 0, 0, '', '', '', 'sad', '1970-01-01', '1970-01-01', '1970-01-01 00:00:00+00',
  '00000000-0000-0000-0000-000000000000', '{}', '{}', '', '0', '{}', 'x'),
 (2, -32768, -2147483648, -9223372036854775808, '-Infinity', '-Infinity', true,
  '-9999999999999999999999999999.9999999999', '-9999999.99', '-99999999999999.9999', '-99999999999999999999',
  '-1e-100', 'żółć 日本 🎉', 'ąęłńóśźż', 'ab', 'żółć', '4713-01-01 BC', '4713-01-01 00:00:00 BC',
  '4713-01-01 00:00:00+00 BC', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '{"a": [1, 2.50, "ü"],  "b": null}',
  '{"b": [1, 2.50], "a": "ü"}', '\x00ff', '-178000000 years', '{1,NULL,3}', 'y'),
 (3, 32767, 2147483647, 9223372036854775807, 'Infinity', 'Infinity', NULL,
  '9999999999999999999999999999.9999999999', '9999999.99', '99999999999999.9999', '99999999999999999999',
  '123456789012345678901234567890123456789012345678901234567890.5', NULL, NULL, NULL, NULL, '5874897-12-31',
  '294247-01-10 04:00:54.775806', '294247-01-10 04:00:54.775806+00', NULL, NULL, NULL, NULL, NULL, NULL, 'z'),
 (4, NULL, NULL, NULL, 'NaN', 'NaN', NULL, NULL, NULL, NULL, NULL, 'NaN', NULL, NULL, NULL, NULL, 'infinity',
  'infinity', 'infinity', NULL, 'null', 'null', NULL, NULL, NULL, ''),
 (5, NULL, NULL, NULL, '-0', '-0', NULL, '0.0000000001', '0.01', '0.0001', '1', 'Infinity', NULL, NULL, NULL,
  NULL, '-infinity', '-infinity', '-infinity', NULL, NULL, NULL, NULL, NULL, NULL, ''),
 (6, 1, 1, 1, '3.4028235e38', '1.7976931348623157e308', true, '1234567890123456789012345678.0123456789',
  '1234567.89', '12345678901234.5678', '12345678901234567890', '-Infinity', repeat('long é ', 20000),
  'abcdefghij', 'abcd', 'happy', '1969-12-31', '1969-12-31 23:59:59.999999', '1969-12-31 23:59:59.999999+00',
  '00112233-4455-6677-8899-aabbccddeeff', '"text"', '"text"', '\xdeadbeef', '1 day 02:03:04.5', '{}', 'long'),
 (7, -1, -1, -1, '1e-45', '5e-324', false, '-0.0000000001', '-0.01', '-0.0001', '-1', '0.1', 'tab	and
newline', 'ä', 'ä', 'sad', '2038-01-20', '2038-01-19 03:14:08', '2038-01-19 03:14:08+00',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '[1, 2, 3]', '[1, 2, 3]', '\x00', '-1 mons', '{-1}', 'q'),
 (8, 7, 7, 7, '0.1', '0.1', true, '1.5', '1.5', '1.5', '15', '1.50', 'x', 'x', 'x', 'happy', '2262-04-12',
  '2262-04-12 00:00:00', '2024-06-01 12:00:00+02', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', '1', '1', '\x01',
  '00:00:00.000001', '{7}', 'seven');
-- Many more rows: categories for dictionaries, distinct values for plain pages, several row groups.
INSERT INTO every_type (id, i2, i4, i8, f4, f8, b, d38, d9, d18, d20, n, t, vc, ch, e, dt, ts, tstz, u, j, jb, by,
                        iv, arr, req)
SELECT 100 + g, (g % 100)::smallint, g * 3, g::bigint * 1000003, g / 7.0, g / 3.0, g % 3 = 0,
       (g * 1.25)::numeric(38,10), (g % 1000) / 100.0, g / 10000.0, g * 11, g / 3.0,
       (ARRAY['books', 'music', 'games', 'garden'])[1 + g % 4], 'v' || (g % 10), 'c' || (g % 7),
       (ARRAY['sad', 'happy']::mood[])[1 + g % 2], DATE '1900-01-01' + g * 17,
       TIMESTAMP '1960-01-01' + g * INTERVAL '1 day 1 second', TIMESTAMPTZ '2030-01-01 00:00:00+00' + g * INTERVAL '1 hour',
       md5(g::text)::uuid, json_build_object('g', g), jsonb_build_object('g', g % 5), decode(md5(g::text), 'hex'),
       g * INTERVAL '1 minute', ARRAY[g, g + 1], 'r' || g
FROM generate_series(1, 3000) g;
)sql";

struct pg_connection {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn{nullptr, &PQfinish};
    explicit pg_connection(const std::string& url) : conn(PQconnectdb(url.c_str()), &PQfinish) {
        BOOST_REQUIRE_MESSAGE(PQstatus(conn.get()) == CONNECTION_OK, PQerrorMessage(conn.get()));
    }
};

// COPY (select) TO STDOUT (FORMAT binary), each piece libpq returns handed to `piece`.
void copy_binary(PGconn* conn, const std::string& select, const std::function<void(std::string_view)>& piece) {
    std::unique_ptr<PGresult, decltype(&PQclear)> start(
        PQexec(conn, ("COPY (" + select + ") TO STDOUT (FORMAT binary)").c_str()), &PQclear);
    BOOST_REQUIRE_MESSAGE(PQresultStatus(start.get()) == PGRES_COPY_OUT, PQerrorMessage(conn));
    for (;;) {
        char* buffer = nullptr;
        const int n = PQgetCopyData(conn, &buffer, 0);
        if (n == -1)
            break;
        BOOST_REQUIRE_MESSAGE(n > 0, PQerrorMessage(conn));
        piece({buffer, static_cast<std::size_t>(n)});
        PQfreemem(buffer);
    }
    std::unique_ptr<PGresult, decltype(&PQclear)> end(PQgetResult(conn), &PQclear);
    BOOST_REQUIRE(PQresultStatus(end.get()) == PGRES_COMMAND_OK);
    while (PGresult* extra = PQgetResult(conn))
        PQclear(extra);
}

struct table {
    std::vector<pg_column_plan> plans;
    std::string select;                         // every column, ::text where the plan says, by id
    std::vector<std::pair<std::string, int>> kinds; // the checker's kind and scale of each column
};

table plan_table(const test::scratch_database& db) {
    table t;
    const auto rows = db.query(
        "SELECT attname || '|' || format_type(atttypid, atttypmod) || '|' || (typtype = 'e') || '|' || NOT attnotnull"
        " FROM pg_attribute JOIN pg_type ON pg_type.oid = atttypid"
        " WHERE attrelid = 'every_type'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum");
    std::string columns;
    for (const auto& row : rows) {
        std::vector<std::string> parts;
        std::size_t from = 0;
        for (std::size_t bar; (bar = row.find('|', from)) != std::string::npos; from = bar + 1)
            parts.push_back(row.substr(from, bar - from));
        parts.push_back(row.substr(from));
        auto plan = plan_pg_column(parts[0], parts[1], parts[2] == "true", parts[3] == "true");
        columns += (columns.empty() ? "" : ", ") + ("\"" + parts[0] + "\"") + (plan.as_text ? "::text" : "");
        const column_spec& c = plan.parquet;
        std::string kind = "text";
        switch (c.logical) {
        case logical_type::integer:
            kind = "int";
            break;
        case logical_type::decimal:
            kind = "decimal";
            break;
        case logical_type::date:
            kind = "date";
            break;
        case logical_type::timestamp:
            kind = "timestamp";
            break;
        case logical_type::uuid:
            kind = "uuid";
            break;
        case logical_type::json:
            kind = "json";
            break;
        case logical_type::none:
            kind = c.type == physical_type::float32   ? "float4"
                   : c.type == physical_type::float64 ? "float8"
                   : c.type == physical_type::boolean ? "bool"
                                                      : "bytea";
            break;
        case logical_type::string:
            break;
        }
        t.kinds.emplace_back(kind, c.scale);
        t.plans.push_back(std::move(plan));
    }
    t.select = "SELECT " + columns + " FROM every_type";
    return t;
}

// PostgreSQL's canonical text of every value (check.mjs says which form for which kind), by id.
boost::json::value expected_rows(const test::scratch_database& db, const table& t) {
    std::string items;
    for (std::size_t i = 0; i < t.plans.size(); ++i) {
        const std::string c = "\"" + t.plans[i].parquet.name + "\"";
        const std::string& kind = t.kinds[i].first;
        std::string e;
        if (t.plans[i].as_text)
            e = c + "::text";
        else if (kind == "float4")
            e = "encode(float4send(" + c + "), 'hex')";
        else if (kind == "float8")
            e = "encode(float8send(" + c + "), 'hex')";
        else if (kind == "bool")
            e = "CASE WHEN " + c + " IS NULL THEN NULL WHEN " + c + " THEN 't' ELSE 'f' END";
        else if (kind == "date")
            e = "CASE WHEN isfinite(" + c + ") THEN (" + c + " - DATE '1970-01-01')::text ELSE " + c + "::text END";
        else if (kind == "timestamp")
            e = "CASE WHEN isfinite(" + c + ") THEN (extract(epoch FROM " + c + ") * 1000000)::numeric(30,0)::text ELSE " +
                c + "::text END";
        else if (kind == "bytea")
            e = "encode(" + c + ", 'hex')";
        else // the type's output function (a char(n) keeps its padding, as its binary form does)
            e = "CASE WHEN " + c + " IS NULL THEN NULL ELSE concat(" + c + ") END";
        items += (items.empty() ? "" : ", ") + e;
    }
    const auto json = db.query("SELECT json_agg(json_build_array(" + items + ") ORDER BY id) FROM every_type");
    return boost::json::parse(json.at(0));
}

// Decodes `select`'s binary COPY into `out`, flushing a row group every `group_rows` rows into `file`.
void export_rows(PGconn* conn, const table& t, const std::string& select, writer& out, std::string& file,
                 std::int64_t group_rows, std::int64_t stop_after = -1) {
    std::vector<pg_binary_column> binary;
    for (const auto& p : t.plans)
        binary.push_back(p.binary);
    pg_binary_decoder decoder(binary);
    std::int64_t rows = 0;
    copy_binary(conn, select, [&](std::string_view piece) {
        decoder.feed(piece);
        for (;;) {
            const auto status = decoder.next();
            if (status == pg_binary_status::row) {
                if (stop_after >= 0 && rows == stop_after)
                    continue; // a crash: the rest of this COPY is lost
                append_row(out, decoder.fields());
                ++rows;
                if (out.open_rows() == group_rows)
                    file += out.flush_row_group();
                continue;
            }
            BOOST_REQUIRE_MESSAGE(status != pg_binary_status::error, decoder.error().message);
            break;
        }
    });
}

std::vector<column_spec> schema_of(const table& t) {
    std::vector<column_spec> schema;
    for (const auto& p : t.plans)
        schema.push_back(p.parquet);
    return schema;
}

void save(const std::filesystem::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

} // namespace

BOOST_AUTO_TEST_SUITE(parquet_readers)

BOOST_AUTO_TEST_CASE(duckdb_and_hyparquet_read_back_what_postgresql_has) {
    BOOST_REQUIRE_MESSAGE(std::filesystem::exists(checker.parent_path() / "node_modules" / "@duckdb" / "node-api"),
                          "the readers are not installed: npm ci in tests/parquet (tools/test does it)");
    test::scratch_database db;
    db.query(table_sql);
    const table t = plan_table(db);
    const auto schema = schema_of(t);
    const std::string by_id = t.select + " ORDER BY id";
    pg_connection pg(db.url());
    test::temp_dir dir("pgexport-parquet");
    std::vector<std::string> files;

    auto write = [&](const std::string& name, writer_options options, std::int64_t group_rows) {
        writer w(schema, options);
        std::string file(writer::magic);
        export_rows(pg.conn.get(), t, by_id, w, file, group_rows);
        file += w.flush_row_group();
        file += w.footer();
        save(dir.path / name, file);
        files.push_back((dir.path / name).string());
        return file;
    };
    // Defaults (zstd), 1000 rows a row group.
    const std::string plain = write("zstd.parquet", writer_options{}, 1000);
    // Snappy; pages of 7 values or 200 bytes, dictionaries of 300 bytes: many pages, every fallback.
    writer_options small;
    small.compression = codec::snappy;
    small.pages.page_values = 7;
    small.pages.page_bytes = 200;
    small.pages.dictionary_bytes = 300;
    write("snappy-small-pages.parquet", small, 333);
    // Uncompressed, no dictionary, one row group.
    writer_options bare;
    bare.compression = codec::uncompressed;
    bare.pages.dictionary_bytes = 0;
    write("uncompressed.parquet", bare, 1'000'000);

    // Resumed twice from checkpoints (the row groups' JSON), each time after losing the open row group's
    // rows: the same bytes as the uninterrupted file.
    {
        std::string file(writer::magic);
        std::vector<row_group_info> flushed;
        std::int64_t last_id = 0;
        for (const std::int64_t crash_after : {1500, 2300, -1}) {
            std::vector<row_group_info> restored;
            for (const auto& g : flushed)
                restored.push_back(*row_group_from_json(boost::json::parse(boost::json::serialize(to_json(g))),
                                                        schema.size()));
            writer w(schema, writer_options{}, restored);
            file.resize(static_cast<std::size_t>(w.file_length())); // truncated to the checkpoint
            const std::string rest = t.select + " WHERE id > " + std::to_string(last_id) + " ORDER BY id";
            export_rows(pg.conn.get(), t, rest, w, file, 1000, crash_after);
            if (crash_after < 0) {
                file += w.flush_row_group();
                file += w.footer();
            }
            flushed.assign(w.row_groups().begin(), w.row_groups().end());
            std::int64_t rows = 0;
            for (const auto& g : flushed)
                rows += g.rows;
            // The checkpoint's last key: the id of the last row flushed.
            last_id = std::stoll(db.query("SELECT id FROM every_type ORDER BY id OFFSET " + std::to_string(rows - 1) +
                                          " LIMIT 1")
                                     .at(0));
        }
        BOOST_TEST(file.size() == plain.size());
        BOOST_TEST((file == plain));
    }

    // Two slices (ids up to 1000, the rest), each its own file, joined with one footer.
    {
        std::vector<std::string> slice_files;
        std::vector<std::vector<row_group_info>> slice_groups;
        for (const char* where : {" WHERE id <= 1000", " WHERE id > 1000"}) {
            writer w(schema, writer_options{});
            std::string file(writer::magic);
            export_rows(pg.conn.get(), t, t.select + where + " ORDER BY id", w, file, 1000);
            file += w.flush_row_group();
            slice_files.push_back(file);
            slice_groups.emplace_back(w.row_groups().begin(), w.row_groups().end());
        }
        std::string joined(writer::magic);
        for (const auto& f : slice_files)
            joined += f.substr(writer::magic.size());
        joined += footer(schema, joined_row_groups(slice_groups), codec::zstd,
                         "pgexport version " + std::string(pgexport::version()));
        save(dir.path / "joined.parquet", joined);
        files.push_back((dir.path / "joined.parquet").string());
    }

    boost::json::object spec;
    boost::json::array columns;
    for (std::size_t i = 0; i < t.plans.size(); ++i)
        columns.push_back({{"name", t.plans[i].parquet.name}, {"kind", t.kinds[i].first}, {"scale", t.kinds[i].second}});
    spec["columns"] = std::move(columns);
    spec["expected"] = expected_rows(db, t);
    boost::json::array paths;
    for (const auto& f : files)
        paths.push_back(boost::json::string(f));
    spec["files"] = std::move(paths);
    save(dir.path / "spec.json", boost::json::serialize(spec));
    BOOST_TEST_MESSAGE("checking " << files.size() << " files of " << spec["expected"].as_array().size() << " rows");
    const std::string command = "node '" + checker.string() + "' '" + (dir.path / "spec.json").string() + "'";
    BOOST_TEST(std::system(command.c_str()) == 0);
}

BOOST_AUTO_TEST_SUITE_END()
