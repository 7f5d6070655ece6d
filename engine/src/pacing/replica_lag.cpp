#include "pacing/replica_lag.hpp"

#include <charconv>
#include <cstdio>

namespace pgexport::engine::detail {

namespace {

std::optional<std::uint32_t> parse_half(std::string_view hex) {
    if (hex.empty() || hex.size() > 8)
        return std::nullopt;
    std::uint32_t v = 0;
    const auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), v, 16);
    if (ec != std::errc{} || end != hex.data() + hex.size())
        return std::nullopt;
    return v;
}

std::string format_bytes(std::uint64_t bytes) {
    char text[64];
    if (bytes >= std::uint64_t{1} << 30)
        std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1 << 30));
    else if (bytes >= 1 << 20)
        std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
    else if (bytes >= 1 << 10)
        std::snprintf(text, sizeof text, "%.1f KiB", static_cast<double>(bytes) / (1 << 10));
    else
        std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
    return text;
}

} // namespace

std::optional<std::uint64_t> parse_lsn(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos)
        return std::nullopt;
    const auto high = parse_half(text.substr(0, slash));
    const auto low = parse_half(text.substr(slash + 1));
    if (!high || !low)
        return std::nullopt;
    return (std::uint64_t{*high} << 32) | *low;
}

replica_verdict judge_replica(std::uint64_t target, const replica_facts& facts) {
    // A promoted standby keeps the position it replayed to: what it holds up to there is still the data
    // the job needs, so only the position counts.
    if (facts.replayed && *facts.replayed >= target)
        return {true, ""};
    if (!facts.replayed)
        return {false, "replica is not a standby (pg_is_in_recovery() is false and it has replayed no WAL);"
                       " --replica must name a streaming standby of --database"};
    std::string reason = "replica behind by " + format_bytes(target - *facts.replayed) + " of WAL";
    if (facts.in_recovery && facts.replay_paused)
        reason += " (replay is paused on the standby: pg_wal_replay_resume())";
    else if (!facts.in_recovery)
        reason += " (it is no longer in recovery: promoted before it replayed the job's position)";
    return {false, std::move(reason)};
}

std::string replica_unreachable_reason(std::string_view error) {
    // libpq's messages end in a newline and may run over several lines: one line for status.
    std::string one_line;
    for (char c : error) {
        if (c == '\n' || c == '\r' || c == '\t') {
            if (!one_line.empty() && one_line.back() != ' ')
                one_line += ' ';
        } else {
            one_line += c;
        }
    }
    while (!one_line.empty() && one_line.back() == ' ')
        one_line.pop_back();
    return "replica unreachable: " + one_line;
}

} // namespace pgexport::engine::detail
