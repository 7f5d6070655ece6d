#pragma once
// The job tables' schema, versioned: SQL files from schema/ embedded at build time.

#include <span>
#include <string>
#include <string_view>

namespace pgexport::engine {

struct migration {
    int version;
    std::string_view name;
    std::string_view sql;
};

// Every migration embedded in this binary, in ascending version order.
std::span<const migration> embedded_migrations();

// Applies the migrations that the database at `database_url` lacks, in order, in one transaction that
// holds an advisory lock, so concurrent runners apply each migration exactly once. Records each in
// schema_migrations. Returns how many it applied. Throws std::runtime_error on any failure (nothing is
// applied then). Blocking: call it at start-up or from a thread of its own.
int apply_migrations(const std::string& database_url);

} // namespace pgexport::engine
