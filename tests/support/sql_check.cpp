#include "sql_check.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace pgexport::test {

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// PostgreSQL's ident_start (letters, '_', any byte of a multibyte character) and ident_cont.
bool is_word_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
}

bool is_word_char(char c) {
    return is_word_start(c) || is_digit(c) || c == '$';
}

// The characters PostgreSQL builds operators of.
bool is_operator_char(char c) {
    return std::string_view("+-*/<>=~!@#%^&|`?").find(c) != std::string_view::npos;
}

class lexer {
public:
    explicit lexer(std::string_view sql) : sql_(sql) {}

    lexed_sql run() {
        if (sql_.find('\0') != std::string_view::npos)
            fail("a NUL byte");
        while (out_.error.empty() && skip_space() < sql_.size())
            next_token();
        return std::move(out_);
    }

private:
    char at(std::size_t i) const { return i < sql_.size() ? sql_[i] : '\0'; }

    std::size_t skip_space() {
        while (pos_ < sql_.size() && is_space(sql_[pos_]))
            ++pos_;
        return pos_;
    }

    void fail(const std::string& what) { out_.error = what + " at byte " + std::to_string(pos_); }

    // A '-' before digits is their sign unless it follows an operand (then PostgreSQL subtracts).
    bool sign_allowed() const {
        if (out_.tokens.empty())
            return true;
        const sql_token& last = out_.tokens.back();
        return last.kind == sql_token_kind::symbol && last.text != ")" && last.text != "]";
    }

    void add(sql_token_kind kind, std::string text) { out_.tokens.push_back({kind, std::move(text)}); }

    void next_token() {
        const char c = sql_[pos_];
        const char next = at(pos_ + 1);
        if (c == '\'')
            return quoted(sql_token_kind::literal, '\'', false);
        if (c == '"')
            return quoted(sql_token_kind::identifier, '"', false);
        if (is_word_start(c))
            return word();
        if (is_digit(c) || (c == '.' && is_digit(next)) ||
            (c == '-' && sign_allowed() && (is_digit(next) || (next == '.' && is_digit(at(pos_ + 2))))))
            return number();
        if (is_operator_char(c))
            return operator_();
        if (c == ':' && next == ':') {
            pos_ += 2;
            return add(sql_token_kind::symbol, "::");
        }
        if (std::string_view("(),;[].:").find(c) != std::string_view::npos) {
            ++pos_;
            return add(sql_token_kind::symbol, std::string(1, c));
        }
        if (c == '$')
            return fail("a parameter or a dollar quote ($)");
        fail("an unexpected character");
    }

    void word() {
        const std::size_t start = pos_;
        while (pos_ < sql_.size() && is_word_char(sql_[pos_]))
            ++pos_;
        const std::string_view w = sql_.substr(start, pos_ - start);
        const char next = at(pos_);
        if (w.size() == 1 && next == '\'') {
            if (w == "E" || w == "e")
                return quoted(sql_token_kind::literal, '\'', true);
            if (std::string_view("BbXxNn").find(w[0]) != std::string_view::npos)
                return fail("a B'', X'' or N'' literal");
        }
        if ((w == "U" || w == "u") && next == '&')
            return fail("a U& literal or identifier");
        add(sql_token_kind::word, std::string(w));
    }

    // From the opening quote at pos_ to past the closing one: quotes doubled inside stand for one; with
    // `escapes` (E'...'), \\ and \' stand for \ and '.
    void quoted(sql_token_kind kind, char quote, bool escapes) {
        const std::size_t start = pos_;
        std::string text;
        for (++pos_;; ++pos_) {
            if (pos_ >= sql_.size()) {
                pos_ = start;
                return fail(kind == sql_token_kind::literal ? "an unterminated literal"
                                                            : "an unterminated quoted identifier");
            }
            const char c = sql_[pos_];
            if (c == quote) {
                if (at(pos_ + 1) != quote)
                    break;
                ++pos_;
            } else if (c == '\\' && kind == sql_token_kind::literal) {
                if (!escapes)
                    return fail("a backslash in a '...' literal (it reads differently without "
                                "standard_conforming_strings)");
                const char escaped = at(pos_ + 1);
                if (escaped != '\\' && escaped != '\'')
                    return fail("an E'...' escape other than \\\\ and \\'");
                ++pos_;
                text += escaped;
                continue;
            }
            text += c;
        }
        ++pos_;
        if (kind == sql_token_kind::identifier && text.empty())
            return fail("a zero-length quoted identifier");
        if (kind == sql_token_kind::literal) {
            // PostgreSQL joins two literals separated by whitespace holding a line break into one.
            const std::size_t after = pos_;
            skip_space();
            const bool continued =
                at(pos_) == '\'' &&
                sql_.substr(after, pos_ - after).find_first_of("\n\r") != std::string_view::npos;
            pos_ = after;
            if (continued)
                return fail("a literal continued on the next line");
        }
        add(kind, std::move(text));
    }

    void number() {
        const std::size_t start = pos_;
        if (sql_[pos_] == '-')
            ++pos_;
        while (is_digit(at(pos_)))
            ++pos_;
        if (at(pos_) == '.' && at(pos_ + 1) != '.') {
            ++pos_;
            while (is_digit(at(pos_)))
                ++pos_;
        }
        if (at(pos_) == 'e' || at(pos_) == 'E') {
            ++pos_;
            if (at(pos_) == '+' || at(pos_) == '-')
                ++pos_;
            if (!is_digit(at(pos_)))
                return fail("a number with an empty exponent");
            while (is_digit(at(pos_)))
                ++pos_;
        }
        if (is_word_char(at(pos_)))
            return fail("trailing junk after a number");
        add(sql_token_kind::number, std::string(sql_.substr(start, pos_ - start)));
    }

    // PostgreSQL's rules: an operator is the longest run of operator characters that holds no comment
    // start; a run of more than one that ends in + or - loses those unless it holds one of ~!@#%^&|`?.
    void operator_() {
        const std::size_t start = pos_;
        std::size_t end = pos_;
        while (end < sql_.size() && is_operator_char(sql_[end])) {
            const std::string_view two = sql_.substr(end, 2);
            if (two == "--" || two == "/*")
                break;
            ++end;
        }
        if (end == start)
            return fail("a comment");
        std::string_view op = sql_.substr(start, end - start);
        if (op.size() > 1 && op.find_first_of("~!@#%^&|`?") == std::string_view::npos)
            while (op.size() > 1 && (op.back() == '+' || op.back() == '-'))
                op.remove_suffix(1);
        pos_ = start + op.size();
        add(sql_token_kind::symbol, std::string(op));
    }

    std::string_view sql_;
    std::size_t pos_ = 0;
    lexed_sql out_;
};

// The words and symbols of the builder's own text (engine/src/format/sql.cpp), outside names and values.
const std::set<std::string, std::less<>> builder_words = {
    "AND",   "BY",    "COPY", "DELIMITER",   "EXPLAIN", "FORCE_QUOTE", "FORMAT", "FROM", "HEADER", "IN", "IS", "QUOTE",
    "JSON",  "LIMIT", "NOT",  "NULL",        "ORDER",  "SELECT", "STDOUT", "TO", "TRUE",
    "WHERE", "csv",   "r",    "row_to_json", "t",      "text",   "true"};
const std::set<std::string, std::less<>> builder_symbols = {"(",  ")", ",",  ".", "::", "=", "*",
                                                            "<>", "<", "<=", ">", ">="};

std::string describe(const sql_token& t) {
    switch (t.kind) {
    case sql_token_kind::literal:
        return "the literal '" + t.text + "'";
    case sql_token_kind::identifier:
        return "the quoted identifier \"" + t.text + "\"";
    case sql_token_kind::word:
        return "the word " + t.text;
    case sql_token_kind::number:
        return "the number " + t.text;
    case sql_token_kind::symbol:
        break;
    }
    return "the symbol " + t.text;
}

const engine::column_info& column_of(const engine::table_schema& schema, const std::string& name) {
    const engine::column_info* column = schema.find(name);
    if (!column)
        throw std::logic_error("check the request's columns first: the table has no \"" + name + "\"");
    return *column;
}

std::vector<sql_token> tokens_of_catalog_text(std::string_view text) {
    lexed_sql lexed = lex_sql(text);
    if (!lexed.error.empty())
        throw std::logic_error("the schema's text \"" + std::string(text) +
                               "\" does not lex: " + lexed.error);
    return std::move(lexed.tokens);
}

} // namespace

lexed_sql lex_sql(std::string_view sql) {
    return lexer(sql).run();
}

std::optional<std::string> find_unquoted_request_text(const built_sql& statement,
                                                      const engine::table_schema& schema,
                                                      const engine::export_request& request) {
    // The table's name, as the catalog printed it, may stand anywhere outside quotes.
    std::set<std::string, std::less<>> table_words, names;
    for (const sql_token& t : tokens_of_catalog_text(schema.table))
        (t.kind == sql_token_kind::identifier ? names : table_words).insert(t.text);
    for (const auto& c : schema.columns) {
        if (builder_words.contains(c.name) || table_words.contains(c.name))
            throw std::logic_error("column \"" + c.name +
                                   "\" could not be told from the builder's own words");
        names.insert(c.name);
    }
    // The values the statement must hold, in order, each with the type its literal is cast to.
    std::vector<std::pair<std::string, std::string>> values;
    if (statement.filtered)
        for (const auto& f : request.filters)
            for (const auto& v : f.values)
                if (v)
                    values.emplace_back(*v, column_of(schema, f.column).type);

    const lexed_sql lexed = lex_sql(statement.sql);
    if (!lexed.error.empty())
        return "it does not lex: " + lexed.error;
    const std::vector<sql_token>& tokens = lexed.tokens;
    std::size_t next_value = 0;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const sql_token& t = tokens[i];
        switch (t.kind) {
        case sql_token_kind::literal: {
            // COPY's options: the request's csv delimiter and NULL string, or the jsonl bytes.
            if (i > 0 && tokens[i - 1].kind == sql_token_kind::word &&
                (tokens[i - 1].text == "DELIMITER" || tokens[i - 1].text == "QUOTE" ||
                 (tokens[i - 1].text == "NULL" && i + 1 < tokens.size() && tokens[i + 1].text != "::"))) {
                const bool jsonl = request.format == engine::output_format::jsonl;
                std::string expected;
                if (tokens[i - 1].text == "DELIMITER")
                    expected = jsonl ? "\x02" : std::string(1, request.csv.delimiter);
                else if (tokens[i - 1].text == "QUOTE")
                    expected = jsonl ? "\x01" : "\"";
                else
                    expected = request.csv.null;
                if (t.text != expected)
                    return describe(t) + " is not the request's " + tokens[i - 1].text + " option";
                break;
            }
            if (next_value == values.size())
                return describe(t) + " is none of the request's values";
            const auto& [value, type] = values[next_value++];
            if (t.text != value)
                return describe(t) + " stands where the request's value '" + value + "' belongs";
            std::vector<sql_token> cast = tokens_of_catalog_text(type);
            cast.insert(cast.begin(), {sql_token_kind::symbol, "::"});
            if (tokens.size() - i - 1 < cast.size() ||
                !std::equal(cast.begin(), cast.end(), tokens.begin() + i + 1))
                return describe(t) + " is not cast to its column's type " + type;
            i += cast.size();
            break;
        }
        case sql_token_kind::identifier:
            if (!names.contains(t.text))
                return describe(t) + " is no column of the table";
            break;
        case sql_token_kind::word:
            if (names.contains(t.text))
                return "the column name " + t.text + " stands without double quotes";
            if (!builder_words.contains(t.text) && !table_words.contains(t.text))
                return describe(t) + " stands outside quotes and is none of the builder's words";
            break;
        case sql_token_kind::number:
            if (std::none_of(statement.numbers.begin(), statement.numbers.end(),
                             [&](std::int64_t n) { return std::to_string(n) == t.text; }))
                return describe(t) + " stands outside quotes and is none of the builder's numbers";
            break;
        case sql_token_kind::symbol:
            if (!builder_symbols.contains(t.text))
                return describe(t) + " is none of the builder's symbols";
            break;
        }
    }
    if (next_value < values.size())
        return "the request's value '" + values[next_value].first + "' is in no string literal";
    return std::nullopt;
}

std::optional<std::string>
check_sql_builder(const engine::table_schema& schema, const engine::export_request& request,
                  const std::function<built_sql(const engine::export_request&)>& build) {
    // Everything but the literals' text: what a value must not change.
    auto shape = [](const std::string& sql) {
        std::vector<sql_token> tokens = lex_sql(sql).tokens;
        for (sql_token& t : tokens)
            if (t.kind == sql_token_kind::literal)
                t.text.clear();
        return tokens;
    };
    const built_sql original = build(request);
    if (auto p = find_unquoted_request_text(original, schema, request))
        return *p + "\nin: " + original.sql;
    for (const char* replacement : {"0", "1"}) {
        engine::export_request other = request;
        for (auto& f : other.filters)
            for (auto& v : f.values)
                if (v)
                    v = replacement;
        const built_sql variant = build(other);
        if (auto p = find_unquoted_request_text(variant, schema, other))
            return *p + "\nin: " + variant.sql;
        if (shape(variant.sql) != shape(original.sql))
            return "the values change the statement outside its literals:\n  " + original.sql +
                   "\nwith every value '" + replacement + "':\n  " + variant.sql;
    }
    return std::nullopt;
}

} // namespace pgexport::test
