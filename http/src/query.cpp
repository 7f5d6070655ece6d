#include "query.hpp"

#include <boost/json.hpp>

#include <cctype>
#include <charconv>
#include <limits>
#include <map>
#include <vector>

namespace json = boost::json;

namespace pgexport::http {

using engine::errc;
using engine::problem;

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= s.size())
                return std::nullopt;
            int v = 0;
            auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
            if (ec != std::errc() || end != s.data() + i + 3)
                return std::nullopt;
            out += static_cast<char>(v);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

engine::result<query_pairs> parse_query_pairs(std::string_view query) {
    query_pairs out;
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty())
            continue;
        auto eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq), true);
        auto value =
            percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
        if (!key || !value)
            return problem{errc::invalid_request, "malformed percent-encoding in the query string"};
        out.emplace_back(std::move(*key), std::move(*value));
    }
    return out;
}

std::optional<long long> parse_whole(std::string_view text, long long min, long long max) {
    long long n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n < min || n > max)
        return std::nullopt;
    return n;
}

engine::result<int> parse_limit(std::string_view text) {
    auto n = parse_whole(text, 1, 1000);
    if (!n)
        return problem{errc::invalid_request, "limit must be a whole number from 1 to 1000"};
    return static_cast<int>(*n);
}

engine::result<list_query> parse_list_query(std::string_view query) {
    auto pairs = parse_query_pairs(query);
    if (!pairs)
        return pairs.error();
    list_query q;
    for (const auto& [key, value] : *pairs) {
        if (key == "requests") {
            if (value != "full")
                return problem{errc::invalid_request, "requests takes only \"full\" (every job's request whole), not \"" +
                                                          value + "\""};
            q.full_requests = true;
            continue;
        }
        if (key != "limit")
            return problem{errc::invalid_request,
                           "unknown query parameter \"" + key + "\"; this list takes only limit and requests"};
        auto n = parse_limit(value);
        if (!n)
            return n.error();
        q.limit = *n;
    }
    return q;
}

engine::result<std::optional<std::string>> parse_schema_query(std::string_view query) {
    auto pairs = parse_query_pairs(query);
    if (!pairs)
        return pairs.error();
    std::optional<std::string> table;
    for (const auto& [key, value] : *pairs) {
        if (key != "table")
            return problem{errc::invalid_request, "unknown query parameter \"" + key + "\"; this takes only table"};
        if (table)
            return problem{errc::invalid_request, "table is given twice; name one table"};
        table = value;
    }
    return table;
}

engine::result<records_query> parse_records_query(std::string_view query) {
    records_query q;
    // column -> op -> values, in first-seen order of columns; turned into the export's JSON form so the
    // one request parser checks everything.
    std::vector<std::string> order;
    std::map<std::string, std::map<std::string, std::vector<std::string>>> filters;
    auto pairs = parse_query_pairs(query);
    if (!pairs)
        return pairs.error();
    for (const auto& [key, value] : *pairs) {
        if (key == "limit") {
            auto n = parse_limit(value);
            if (!n)
                return n.error();
            q.limit = *n;
        } else if (key == "after") {
            auto n = parse_whole(value, std::numeric_limits<std::int64_t>::min(),
                                 std::numeric_limits<std::int64_t>::max());
            if (!n)
                return problem{errc::invalid_request, "after must be a whole number (a previous nextCursor)"};
            q.after = *n;
        } else if (key == "columns") {
            std::string_view rest = value;
            while (true) {
                auto comma = rest.find(',');
                q.request.columns.emplace_back(rest.substr(0, comma));
                if (comma == std::string_view::npos)
                    break;
                rest = rest.substr(comma + 1);
            }
        } else {
            std::string column = key;
            std::string op = "eq";
            if (auto open = column.find('['); open != std::string::npos && column.back() == ']') {
                op = column.substr(open + 1, column.size() - open - 2);
                column.resize(open);
            }
            if (!filters.contains(column))
                order.push_back(column);
            filters[column][op].push_back(value);
        }
    }
    json::object body;
    json::object f;
    for (const auto& column : order) {
        json::object ops;
        for (const auto& [op, values] : filters[column]) {
            if (op == "in" || (op == "eq" && values.size() > 1)) {
                json::array list(values.begin(), values.end());
                auto& slot = ops["in"];
                if (slot.is_array())
                    for (auto& v : list)
                        slot.get_array().push_back(v);
                else
                    slot = std::move(list);
            } else if (values.size() > 1) {
                return problem{errc::invalid_request, "filter \"" + column + "[" + op + "]\" is given twice"};
            } else {
                ops[op] = values.front();
            }
        }
        f[column] = std::move(ops);
    }
    body["filters"] = std::move(f);
    if (!q.request.columns.empty()) {
        json::array cols(q.request.columns.begin(), q.request.columns.end());
        body["columns"] = std::move(cols);
    }
    auto request = engine::parse_export_request(body);
    if (!request)
        return request.error();
    q.request = std::move(*request);
    return q;
}

namespace {

bool secret_parameter(std::string_view name) {
    std::string lower;
    for (char c : name)
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto decoded = percent_decode(lower, true))
        lower = std::move(*decoded);
    for (std::string_view word : {"signature", "x-amz-", "key", "token", "secret", "password", "credential", "auth"})
        if (lower.find(word) != std::string::npos)
            return true;
    return false;
}

} // namespace

std::string loggable_target(std::string_view target) {
    const auto qmark = target.find('?');
    if (qmark == std::string_view::npos)
        return std::string(target);
    std::string out(target.substr(0, qmark + 1));
    std::string_view query = target.substr(qmark + 1);
    bool first = true;
    while (true) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        if (!first)
            out += '&';
        first = false;
        const auto eq = pair.find('=');
        const std::string_view name = pair.substr(0, eq);
        if (eq != std::string_view::npos && secret_parameter(name))
            out.append(name).append("=REDACTED");
        else
            out.append(pair);
        if (amp == std::string_view::npos)
            break;
        query = query.substr(amp + 1);
    }
    return out;
}

} // namespace pgexport::http
