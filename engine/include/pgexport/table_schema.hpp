#pragma once
// What the engine knows of the exported table: read from the catalog at start-up, never from code.

#include <pgexport/request.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace pgexport::engine {

struct column_info {
    std::string name; // as in the catalog, unquoted
    std::string type; // format_type() without typmod, e.g. "numeric", "timestamp with time zone"
    bool nullable = true; // no NOT NULL constraint (a view's columns always are)
    // The operators a filter with a value may use on this column: those PostgreSQL resolves for the type
    // (json has no "=", so neither eq, ne nor in). eq and ne with null (IS [NOT] NULL) work on every column.
    std::vector<filter_op> operators{};
    // Every value the column held when the server started, sorted (an enum's in its declared order), for
    // text and enum columns with at most max_listed_values distinct values; empty when there are more,
    // when the column is of another type, or when they could not be known cheaply. A hint for a form:
    // a filter may still name any value.
    std::vector<std::string> values{};
    // The type as statements write it in casts: schema-qualified and quoted (pg_catalog."numeric"), found by
    // the type's OID when the server started, so that a type of the same name that someone creates earlier
    // on the search path never takes its place. Empty: `type`.
    std::string sql_type{};
    // format_type() with the column's typmod, e.g. "numeric(12,2)", "character varying(20)": what a Parquet
    // column is typed from (numeric(p,s) becomes DECIMAL(p,s)). Empty: `type`.
    std::string full_type{};
    bool is_enum = false; // an enum type (pg_type.typtype 'e')

    // sql_type, or type when it is empty.
    const std::string& cast_type() const { return sql_type.empty() ? type : sql_type; }
};

// The most values column_info::values lists.
inline constexpr std::size_t max_listed_values = 20;

struct table_schema {
    std::string table;                // the relation as PostgreSQL prints regclass: quoted where needed
    std::string key;                  // the key column, unquoted
    std::vector<column_info> columns; // in table order
    // The relation as statements write it: schema-qualified and quoted ("public"."records"), found by the
    // relation's OID when the server started, so that a table of the same name that someone creates earlier
    // on the search path never takes its place. Empty: `table`.
    std::string sql_name{};

    // sql_name, or table when it is empty.
    const std::string& relation() const { return sql_name.empty() ? table : sql_name; }

    // The column named `name`, or nullptr.
    const column_info* find(const std::string& name) const;
};

} // namespace pgexport::engine
