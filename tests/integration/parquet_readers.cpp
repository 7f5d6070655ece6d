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

// The table of every mapped type, shared with tests/e2e/formats_parquet.py.
const std::filesystem::path table_sql_file = checker.parent_path() / "every_type.sql";

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
    db.query(test::read_file(table_sql_file.string()));
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
