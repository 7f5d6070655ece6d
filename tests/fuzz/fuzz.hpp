#pragma once
// Shared by the fuzz targets that reach the SQL builder (fuzz_request, fuzz_query) and the replay driver
// (replay_main.cpp): the table they build SQL for, and the count of inputs that got that far.

#include "format/sql.hpp"
#include "sql_check.hpp"

#include <pgexport/request.hpp>
#include <pgexport/table_schema.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <vector>

namespace pgexport::fuzz {

// CONTRACT.md's `records` table as the catalog describes it, and a column whose name needs its quote
// doubled.
inline const engine::table_schema schema{"public.records",
                                         "id",
                                         {{"id", "bigint"},
                                          {"category", "text"},
                                          {"created_at", "timestamp with time zone"},
                                          {"name", "text"},
                                          {"email", "text"},
                                          {"amount", "numeric"},
                                          {"status", "text"},
                                          {"description", "text"},
                                          {"we\"ird", "text"}}};

// Inputs that reached the SQL builder; the replay checks how many of its corpus files did.
inline std::size_t builder_inputs = 0;

// Every statement the builder writes for `request` (its columns checked) keeps the request's values in
// string literals and its column names in double quotes (test::check_sql_builder); else aborts, saying
// why, which is the fuzzer's failure.
inline void check_built_sql(const engine::export_request& request, std::optional<std::int64_t> after,
                            int limit) {
    using namespace engine::detail;
    using engine::export_request;
    using test::built_sql;
    ++builder_inputs;
    const std::int64_t upper = 100;
    std::vector<std::int64_t> page_numbers{limit};
    if (after)
        page_numbers.push_back(*after);
    std::vector<std::int64_t> chunk_numbers = page_numbers;
    chunk_numbers.push_back(upper);
    const std::function<built_sql(const export_request&)> statements[] = {
        [&](const export_request& r) {
            return built_sql{chunk_copy_sql(schema, r, after, upper, limit), chunk_numbers};
        },
        [&](const export_request& r) {
            return built_sql{records_page_sql(schema, r, after, limit), page_numbers};
        },
        [&](const export_request& r) {
            std::vector<std::int64_t> numbers{1, upper};
            if (after)
                numbers.push_back(*after);
            return built_sql{estimate_sql(schema, r, after, upper), numbers};
        },
        [&](const export_request& r) {
            return built_sql{header_copy_sql(schema, r).value_or(""), {0}, false};
        },
    };
    for (const auto& build : statements) {
        if (auto problem = test::check_sql_builder(schema, request, build)) {
            std::fprintf(stderr, "SQL builder: %s\n", problem->c_str());
            std::abort();
        }
    }
}

} // namespace pgexport::fuzz
