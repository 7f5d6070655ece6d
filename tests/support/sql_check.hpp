#pragma once
// A small SQL lexer, and the check the SQL builder's tests build on it (tests/fuzz, tests/unit): does a
// statement the builder wrote hold every value of the request only inside string literals, and every
// column name only inside double quotes? Pure: no I/O, no database.

#include <pgexport/request.hpp>
#include <pgexport/table_schema.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::test {

enum class sql_token_kind {
    literal,    // '...' or E'...'; the text is the value it reads back as
    identifier, // "..."; the text is the name, inner "" undoubled
    word,       // a keyword or an unquoted name, as written
    number,     // digits with an optional fraction and exponent; a '-' right before the digits is its sign
    symbol,     // punctuation or an operator: ( ) , . ; :: = <> >= ...
};

struct sql_token {
    sql_token_kind kind;
    std::string text;

    friend bool operator==(const sql_token&, const sql_token&) = default;
};

struct lexed_sql {
    std::vector<sql_token> tokens;
    std::string error; // empty when the whole text lexed; else what stopped the lexer, and where
};

// Splits SQL into tokens where PostgreSQL would. Strict where the builder never writes something, so that
// a token boundary is never in doubt: comments, dollar quotes, parameters ($), B'', X'', N'' and U&
// literals are errors, and so are a backslash in a plain '...' literal (its meaning would depend on
// standard_conforming_strings) and an E'...' escape other than \\ and \'.
lexed_sql lex_sql(std::string_view sql);

// A statement the builder wrote, and what it was handed besides the request.
struct built_sql {
    std::string sql;
    std::vector<std::int64_t> numbers; // the numbers it may print outside literals: key bounds, LIMIT
    bool filtered = true;              // it holds the request's filters (a WHERE clause)
};

// Where `statement` lets text of `request` out of its quotes: a problem for a person, or nullopt when
//  - it lexes (see lex_sql);
//  - its string literals are, in order, exactly the request's non-null values in filter order (none when
//    not filtered), each followed by ::<its column's type>;
//  - every quoted identifier is a column of the table (or part of its name);
//  - every other token is a word of the builder's fixed text or of the table's name, one of the numbers
//    the builder was handed, or one of its symbols. A column name written without quotes is reported as
//    such. Throws std::logic_error for a schema whose column names could be taken for those words.
std::optional<std::string> find_unquoted_request_text(const built_sql& statement,
                                                      const engine::table_schema& schema,
                                                      const engine::export_request& request);

// find_unquoted_request_text for what `build` writes for `request`, and for two copies of it whose every
// non-null value is "0", then "1": all three must pass and agree outside literals, so no value's text
// shapes the statement, even one that reads like the builder's own words or numbers ("TRUE", "5").
std::optional<std::string>
check_sql_builder(const engine::table_schema& schema, const engine::export_request& request,
                  const std::function<built_sql(const engine::export_request&)>& build);

} // namespace pgexport::test
