// The SQL lexer and the check the fuzz targets run on the builder's statements (tests/support/
// sql_check.hpp): that they tokenize as PostgreSQL does, and that the check refuses request text outside
// quotes. No database.

#include "sql_check.hpp"

#include "format/sql.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <ostream>

namespace pgexport::test {

std::ostream& operator<<(std::ostream& out, const sql_token& t) {
    return out << static_cast<int>(t.kind) << ":" << t.text;
}

} // namespace pgexport::test

using namespace pgexport::engine;
using namespace pgexport::test;

namespace {

sql_token L(const char* text) {
    return {sql_token_kind::literal, text};
}
sql_token I(const char* text) {
    return {sql_token_kind::identifier, text};
}
sql_token W(const char* text) {
    return {sql_token_kind::word, text};
}
sql_token N(const char* text) {
    return {sql_token_kind::number, text};
}
sql_token S(const char* text) {
    return {sql_token_kind::symbol, text};
}

std::vector<sql_token> tokens(std::string_view sql) {
    const lexed_sql lexed = lex_sql(sql);
    BOOST_TEST(lexed.error == "");
    return lexed.tokens;
}

const table_schema schema{"public.\"My Table\"",
                          "id",
                          {{"id", "bigint"},
                           {"category", "text"},
                           {"amount", "numeric"},
                           {"created_at", "timestamp with time zone"},
                           {"we\"ird", "text"}}};

const export_request request =
    parse_export_request(
        boost::json::parse(R"({"filters": {"category": "books"}, "columns": ["id", "category"]})"))
        .value();

// A chunk statement for `request` with `where` as its filter, as the builder would write it around it.
built_sql chunk(const std::string& where) {
    return {"COPY (SELECT \"id\", \"category\" FROM public.\"My Table\" WHERE (" + where +
                ") AND \"id\" <= 100 ORDER BY \"id\" LIMIT 10) TO STDOUT (FORMAT csv)",
            {100, 10}};
}

// What find_unquoted_request_text says of `statement` ("" when it finds nothing).
std::string problem_in(const built_sql& statement, const export_request& r = request) {
    return find_unquoted_request_text(statement, schema, r).value_or("");
}

} // namespace

BOOST_AUTO_TEST_SUITE(sql_check)

BOOST_AUTO_TEST_CASE(lexes_what_the_builder_writes) {
    const std::vector<sql_token> expected = {W("COPY"),
                                             S("("),
                                             W("SELECT"),
                                             I("id"),
                                             S(","),
                                             I("we\"ird"),
                                             W("FROM"),
                                             W("public"),
                                             S("."),
                                             I("My Table"),
                                             W("WHERE"),
                                             S("("),
                                             I("amount"),
                                             S(">="),
                                             L("1.5"),
                                             S("::"),
                                             W("numeric"),
                                             W("AND"),
                                             I("created_at"),
                                             S("<>"),
                                             L("it's"),
                                             S("::"),
                                             W("timestamp"),
                                             W("with"),
                                             W("time"),
                                             W("zone"),
                                             W("AND"),
                                             I("name"),
                                             W("IN"),
                                             S("("),
                                             L("back\\slash'"),
                                             S("::"),
                                             W("text"),
                                             S(","),
                                             L(""),
                                             S("::"),
                                             W("text"),
                                             S(")"),
                                             S(")"),
                                             W("AND"),
                                             I("id"),
                                             S(">"),
                                             N("-7"),
                                             W("LIMIT"),
                                             N("10"),
                                             S(")"),
                                             W("TO"),
                                             W("STDOUT"),
                                             S("("),
                                             W("FORMAT"),
                                             W("csv"),
                                             S(")")};
    BOOST_TEST(
        tokens("COPY (SELECT \"id\", \"we\"\"ird\" FROM public.\"My Table\" WHERE (\"amount\" >= "
               "'1.5'::numeric AND \"created_at\" <> 'it''s'::timestamp with time zone AND \"name\" IN "
               "( E'back\\\\slash\\''::text, ''::text)) AND \"id\" > -7 LIMIT 10) TO STDOUT (FORMAT csv)") ==
            expected,
        boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(reads_boundaries_as_postgresql_does) {
    BOOST_TEST(tokens("e'x'") == std::vector<sql_token>{L("x")}, boost::test_tools::per_element());
    // Only a lone E makes an escape literal; a longer word before a quote is a name, then a literal.
    BOOST_TEST(tokens("xE'1'") == (std::vector<sql_token>{W("xE"), L("1")}),
               boost::test_tools::per_element());
    // A '-' after an operand subtracts; after an operator it is a sign.
    BOOST_TEST(tokens("1-2") == (std::vector<sql_token>{N("1"), S("-"), N("2")}),
               boost::test_tools::per_element());
    BOOST_TEST(tokens("\"id\">-7") == (std::vector<sql_token>{I("id"), S(">"), N("-7")}),
               boost::test_tools::per_element());
    BOOST_TEST(tokens("a<=.5e-3") == (std::vector<sql_token>{W("a"), S("<="), N(".5e-3")}),
               boost::test_tools::per_element());
    BOOST_TEST(tokens("t.\"a\"\"b\"::text") ==
                   (std::vector<sql_token>{W("t"), S("."), I("a\"b"), S("::"), W("text")}),
               boost::test_tools::per_element());
    // A quote inside an identifier, and a double quote inside a literal, are plain characters.
    BOOST_TEST(tokens("\"it's\" '\"'") == (std::vector<sql_token>{I("it's"), L("\"")}),
               boost::test_tools::per_element());
    BOOST_TEST(tokens("'a;b' ;") == (std::vector<sql_token>{L("a;b"), S(";")}),
               boost::test_tools::per_element());
    BOOST_TEST(tokens(" \t\n").empty());
}

BOOST_AUTO_TEST_CASE(refuses_what_would_leave_a_boundary_in_doubt) {
    const char* cases[] = {
        "'abc",         "\"abc",
        "'it''s",       "E'abc\\'",
        "a -- comment", "a /* comment */",
        "a+--b",        "'back\\slash'",
        "E'\\n'",       "$1",
        "$$x$$",        "B'01'",
        "X'ff'",        "N'x'",
        "U&'x'",        "u&\"x\"",
        "\"\"",         "'a'\n'b'",
        "5x",           "1e",
        "a { b",        "a \\ b",
    };
    for (const char* sql : cases) {
        BOOST_TEST_CONTEXT("sql " << sql) {
            BOOST_TEST(lex_sql(sql).error != "");
        }
    }
    BOOST_TEST(lex_sql(std::string_view("'a\0b'", 5)).error != "");
}

BOOST_AUTO_TEST_CASE(accepts_what_the_builder_writes) {
    using namespace pgexport::engine::detail;
    for (const char* json : {
             R"({})",
             R"({"filters": {"category": "books"}, "columns": ["category", "we\"ird"]})",
             R"({"filters": {"we\"ird": {"in": ["x'); DROP TABLE t; --", "back\\slash", "", "\""]}}})",
             R"({"filters": {"amount": {"gte": -1.5, "lt": "5", "ne": null}, "created_at": {"eq": null}}})",
             R"({"filters": {"category": ["TRUE", "AND", "5", "LIMIT 1"]}})",
         }) {
        BOOST_TEST_CONTEXT("request " << json) {
            const auto r = parse_export_request(boost::json::parse(json)).value();
            BOOST_TEST(!check_columns(schema, r));
            auto problem = check_sql_builder(schema, r, [](const export_request& x) {
                return built_sql{chunk_copy_sql(schema, x, -3, 100, 10), {-3, 100, 10}};
            });
            BOOST_TEST(problem.value_or("") == "");
            problem = check_sql_builder(schema, r, [](const export_request& x) {
                return built_sql{header_copy_sql(schema, x).value_or(""), {0}, false};
            });
            BOOST_TEST(problem.value_or("") == "");
        }
    }
    BOOST_TEST(problem_in(chunk("\"category\" = 'books'::text")) == "");
}

BOOST_AUTO_TEST_CASE(rejects_a_value_outside_quotes) {
    BOOST_TEST(problem_in(chunk("\"category\" = books::text")) ==
               "the word books stands outside quotes and is none of the builder's words");
    // A literal whose quote is not doubled ends early and lets the rest out.
    const export_request injected =
        parse_export_request(boost::json::parse(R"({"filters": {"category": "x' OR 'a' = 'a"}})")).value();
    BOOST_TEST(problem_in(chunk("\"category\" = 'x' OR 'a' = 'a'::text"), injected) ==
               "the literal 'x' stands where the request's value 'x' OR 'a' = 'a' belongs");
    BOOST_TEST(problem_in(chunk("\"category\" = 'x'' OR ''a'' = ''a'::text"), injected) == "");
    const export_request commented =
        parse_export_request(boost::json::parse(R"({"filters": {"category": "x'); DROP TABLE t; --"}})"))
            .value();
    BOOST_TEST(problem_in(chunk("\"category\" = 'x'); DROP TABLE t; --'::text"), commented)
                   .find("it does not lex: a comment") == 0);
    BOOST_TEST(problem_in(chunk("\"category\" = 'x''); DROP TABLE t; --'::text"), commented) == "");
    // Numbers outside quotes are only those the builder was handed.
    const export_request number =
        parse_export_request(boost::json::parse(R"({"filters": {"amount": 7}})")).value();
    BOOST_TEST(problem_in(chunk("\"amount\" = 7::numeric"), number) ==
               "the number 7 stands outside quotes and is none of the builder's numbers");
    BOOST_TEST(problem_in(chunk("\"amount\" = '7'::numeric"), number) == "");
}

BOOST_AUTO_TEST_CASE(rejects_a_column_name_outside_double_quotes) {
    BOOST_TEST(problem_in(chunk("category = 'books'::text")) ==
               "the column name category stands without double quotes");
    BOOST_TEST(problem_in({"SELECT id FROM public.\"My Table\"", {}}, {}) ==
               "the column name id stands without double quotes");
    BOOST_TEST(problem_in(chunk("\"nope\" = 'books'::text")) ==
               "the quoted identifier \"nope\" is no column of the table");
}

BOOST_AUTO_TEST_CASE(rejects_values_missing_extra_or_uncast) {
    BOOST_TEST(problem_in(chunk("TRUE")) == "the request's value 'books' is in no string literal");
    BOOST_TEST(problem_in(chunk("\"category\" = 'books'::text OR 'x'::text")) ==
               "the word OR stands outside quotes and is none of the builder's words");
    BOOST_TEST(problem_in(chunk("\"category\" = 'books'::text AND 'x'::text")) ==
               "the literal 'x' is none of the request's values");
    BOOST_TEST(problem_in(chunk("\"category\" = 'books'")) ==
               "the literal 'books' is not cast to its column's type text");
    BOOST_TEST(problem_in(chunk("\"category\" = 'books'::numeric")) ==
               "the literal 'books' is not cast to its column's type text");
    BOOST_TEST(problem_in(chunk("\"category\" = 'books'::text); SELECT (1")) ==
               "the symbol ; is none of the builder's symbols");
    BOOST_TEST(problem_in(chunk("\"category\" = 'boo")).find("it does not lex: an unterminated literal") ==
               0);
}

BOOST_AUTO_TEST_CASE(catches_a_value_that_reads_like_the_builders_own_text) {
    // A builder that writes the first value once more, unquoted: "TRUE" passes the token rules, since
    // TRUE is one of the builder's words, but not the check with the values replaced by "0" and "1".
    const export_request r =
        parse_export_request(boost::json::parse(R"({"filters": {"category": "TRUE"}})")).value();
    std::vector<std::int64_t> numbers = {100, 10};
    auto leaky = [&](const export_request& x) {
        built_sql statement =
            chunk("\"category\" = " + pgexport::engine::detail::quote_literal(*x.filters[0].values[0]) +
                  "::text AND " + *x.filters[0].values[0]);
        statement.numbers = numbers;
        return statement;
    };
    BOOST_TEST(problem_in(leaky(r), r) == "");
    BOOST_TEST(check_sql_builder(schema, r, leaky)
                   .value_or("")
                   .find("the number 0 stands outside quotes and is none of the builder's numbers") == 0);
    // Even where 0 and 1 are numbers the builder may write, the statement's shape gives the value away.
    numbers = {0, 1, 100, 10};
    BOOST_TEST(check_sql_builder(schema, r, leaky)
                   .value_or("")
                   .find("the values change the statement outside its literals") == 0);
}

BOOST_AUTO_TEST_SUITE_END()
