#include "seed.hpp"

#include "store/pg.hpp" // the engine's libpq helpers (pgexport_engine_internals)

#include <array>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string_view>

namespace pgexport::cli {

namespace {

// splitmix64: a fast, well-mixed hash of the ordinal, so that every row is random-looking yet fixed.
std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

constexpr std::array<std::string_view, 10> categories = {
    "books", "electronics", "clothing", "home", "garden", "toys", "sports", "food", "beauty", "automotive"};
constexpr std::array<std::string_view, 6> statuses = {"pending",   "paid",      "shipped",
                                                      "delivered", "cancelled", "refunded"};
constexpr std::array<std::string_view, 12> first_names = {
    "Ana", "José", "Zoë", "Łukasz", "Søren", "Mei", "Ngọc", "Olúwa", "Émile", "Ivan", "Aiko", "Liam"};
constexpr std::array<std::string_view, 12> first_ascii = {
    "ana", "jose", "zoe", "lukasz", "soren", "mei", "ngoc", "oluwa", "emile", "ivan", "aiko", "liam"};
constexpr std::array<std::string_view, 10> last_names = {"Smith",  "O'Brien",  "García", "Müller", "李",
                                                         "Nguyễn", "Kowalski", "Dubois", "Иванов", "Tanaka"};
constexpr std::array<std::string_view, 10> last_ascii = {"smith",  "obrien",   "garcia", "muller", "li",
                                                         "nguyen", "kowalski", "dubois", "ivanov", "tanaka"};

// Descriptions that exercise CSV: NULL, empty, delimiters, quotes, line breaks, unicode, backslashes.
constexpr std::array<std::string_view, 12> descriptions = {
    "", // stands for NULL, see below
    "", // the empty string
    "Plain description",
    "Contains, several, commas",
    "Has \"double quotes\" and a lone \" inside",
    "Multi-line text\nsecond line\nthird line",
    "Windows line ending\r\nnext line",
    "Unicode: café, naïve, 日本語, Ελληνικά, emoji 🚀",
    "Tab\tseparated and back\\slash",
    "  leading and trailing spaces  ",
    "\\.",
    "'; DROP TABLE records; -- not an injection, just text",
};

void append_copy_text(std::string& out, std::string_view text) {
    for (char c : text) {
        switch (c) {
        case '\\':
            out += "\\\\";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        default:
            out += c;
        }
    }
}

} // namespace

std::string seed_row(std::int64_t ordinal) {
    using namespace std::chrono;
    const std::uint64_t h = mix(static_cast<std::uint64_t>(ordinal));
    const std::uint64_t h2 = mix(h);
    std::string line;
    line.reserve(256);

    line += categories[h % categories.size()];
    line += '\t';

    // created_at: any second from 2023-01-01 to 2025-12-31, UTC.
    constexpr std::int64_t span = 3 * 365 * 24 * 3600LL;
    const sys_seconds at = sys_days(year{2023} / January / 1) + seconds(static_cast<std::int64_t>(h2 % span));
    const auto day = floor<days>(at);
    const year_month_day ymd(day);
    const hh_mm_ss hms(at - day);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02lld:%02lld:%02lld+00", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<long long>(hms.hours().count()), static_cast<long long>(hms.minutes().count()),
                  static_cast<long long>(hms.seconds().count()));
    line += buf;
    line += '\t';

    const std::size_t first = (h >> 8) % first_names.size();
    const std::size_t last = (h >> 16) % last_names.size();
    line += first_names[first];
    line += ' ';
    line += last_names[last];
    line += '\t';
    line += first_ascii[first];
    line += '.';
    line += last_ascii[last];
    line += std::to_string(ordinal);
    line += "@example.com\t";

    // amount: 0.00 to 99,999.99, one in twenty negative (a refund).
    const std::int64_t cents = static_cast<std::int64_t>((h2 >> 20) % 10000000);
    std::snprintf(buf, sizeof buf, "%s%lld.%02lld", ((h2 >> 50) % 20 == 0 && cents) ? "-" : "",
                  static_cast<long long>(cents / 100), static_cast<long long>(cents % 100));
    line += buf;
    line += '\t';

    line += statuses[(h >> 24) % statuses.size()];
    line += '\t';

    const std::size_t d = (h >> 32) % descriptions.size();
    if (d == 0) {
        line += "\\N";
    } else {
        append_copy_text(line, descriptions[d]);
        if (d == 2) {
            line += " #";
            line += std::to_string(ordinal);
        }
    }
    line += '\n';
    return line;
}

std::int64_t seed_records(const seed_params& params) {
    using namespace pgexport::engine::detail;
    if (params.rows < 0)
        throw std::runtime_error("--rows must not be negative");
    try {
        conn_ptr conn =
            connect_blocking(params.database_url, std::chrono::hours(1), std::chrono::seconds(10));
        PGconn* c = conn.get();
        exec(c, "BEGIN");
        // Two seeders at once would otherwise both count the same rows.
        exec(c, "SELECT pg_advisory_xact_lock(7283401956620114)");
        const bool exists = get_text(exec(c, "SELECT to_regclass('records') IS NOT NULL").get(), 0, 0) == "t";
        if (!exists) {
            exec(c, R"sql(
                CREATE TABLE records (
                  id          bigserial PRIMARY KEY,
                  category    text        NOT NULL,
                  created_at  timestamptz NOT NULL,
                  name        text        NOT NULL,
                  email       text        NOT NULL,
                  amount      numeric(12,2) NOT NULL,
                  status      text        NOT NULL,
                  description text
                ))sql");
        }
        const std::int64_t base = *get_int64(exec(c, "SELECT count(*) FROM records").get(), 0, 0);

        result_ptr r(PQexec(c,
                            "COPY records (category, created_at, name, email, amount, status, description) "
                            "FROM STDIN"));
        if (PQresultStatus(r.get()) != PGRES_COPY_IN)
            throw pg_error(PQerrorMessage(c), "");
        std::string batch;
        batch.reserve(1 << 20);
        auto put = [&] {
            if (PQputCopyData(c, batch.data(), static_cast<int>(batch.size())) != 1)
                throw pg_error(PQerrorMessage(c), "");
            batch.clear();
        };
        for (std::int64_t i = 0; i < params.rows; ++i) {
            batch += seed_row(base + i);
            if (batch.size() > (1 << 20) - 1024)
                put();
        }
        put();
        if (PQputCopyEnd(c, nullptr) != 1)
            throw pg_error(PQerrorMessage(c), "");
        while (result_ptr end{PQgetResult(c)}) {
            if (PQresultStatus(end.get()) != PGRES_COMMAND_OK)
                throw pg_error(PQresultErrorMessage(end.get()), "");
        }
        // Created after the load (faster than maintaining them row by row), and kept when they exist.
        // Each serves keyset chunks under one kind of filter: equality on the first column, then id order.
        exec(c, "CREATE INDEX IF NOT EXISTS records_category_id ON records (category, id)");
        exec(c, "CREATE INDEX IF NOT EXISTS records_status_id ON records (status, id)");
        exec(c, "CREATE INDEX IF NOT EXISTS records_created_at_id ON records (created_at, id)");
        exec(c, "CREATE INDEX IF NOT EXISTS records_amount_id ON records (amount, id)");
        exec(c, "COMMIT");
        exec(c, "ANALYZE records");
        return params.rows;
    } catch (const pg_error& e) {
        throw std::runtime_error(std::string("seed failed: ") + e.what());
    }
}

} // namespace pgexport::cli
