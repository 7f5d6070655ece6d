#pragma once
// The demo dataset of CONTRACT.md (`pgexport seed`): the `records` table and deterministic rows for it.
// Part of the command line, not of the engine's public API: an embedding program brings its own tables.

#include <cstdint>
#include <string>

namespace pgexport::cli {

struct seed_params {
    std::string database_url;
    std::int64_t rows = 0;
};

// The content of demo row number `ordinal` (0-based), as one line of COPY text format (tab-separated,
// escaped, newline-terminated) for the columns category, created_at, name, email, amount, status,
// description. Pure and deterministic: the same ordinal always gives the same line.
std::string seed_row(std::int64_t ordinal);

// Creates `records` and its indexes if missing and appends params.rows rows through COPY FROM STDIN.
// Row ordinals continue from the number of rows already there. Returns the number of rows added.
// Throws std::runtime_error on failure. Blocking.
std::int64_t seed_records(const seed_params& params);

} // namespace pgexport::cli
