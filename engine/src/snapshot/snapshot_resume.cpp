#include "snapshot/snapshot_resume.hpp"

#include "pacing/replica_lag.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace json = boost::json;

namespace pgexport::engine::detail {

namespace {

std::optional<std::uint64_t> parse_xid(std::string_view text) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 10);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
        return std::nullopt;
    return v;
}

std::string format_lsn(std::uint64_t lsn) {
    char text[32];
    std::snprintf(text, sizeof text, "%X/%X", static_cast<unsigned>(lsn >> 32), static_cast<unsigned>(lsn));
    return text;
}

std::optional<std::uint64_t> unsigned_field(const json::object& o, std::string_view name) {
    const json::value* v = o.if_contains(name);
    if (v && v->is_uint64())
        return v->as_uint64();
    if (v && v->is_int64() && v->as_int64() >= 0)
        return static_cast<std::uint64_t>(v->as_int64());
    return std::nullopt;
}

// A tuple's xmin is 32 bits: widened against S2's xmax it is exact within 2^31 below it.
constexpr std::uint64_t max_xid_distance = std::uint64_t{1} << 31;

std::string plural(std::int64_t n, std::string_view one, std::string_view many) {
    return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

} // namespace

std::string snapshot_to_json(const recorded_snapshot& s) {
    json::array xip;
    for (const auto x : s.xip)
        xip.push_back(x);
    json::object o{{"id", s.id},
                   {"xmin", s.xmin},
                   {"xmax", s.xmax},
                   {"xip", std::move(xip)},
                   {"takenAtUs", s.taken_at_us},
                   {"lsn", format_lsn(s.lsn)},
                   {"standby", s.standby}};
    o["systemId"] = s.system_id ? json::value(*s.system_id) : json::value(nullptr);
    o["end"] = s.end ? json::value(*s.end) : json::value(nullptr);
    o["reason"] = s.reason ? json::value(*s.reason) : json::value(nullptr);
    return json::serialize(o);
}

std::optional<recorded_snapshot> snapshot_from_json(std::string_view text) {
    boost::system::error_code ec;
    const json::value v = json::parse(text, ec);
    if (ec || !v.is_object())
        return std::nullopt;
    const json::object& o = v.as_object();
    recorded_snapshot s;
    const json::value* id = o.if_contains("id");
    const json::value* lsn = o.if_contains("lsn");
    const json::value* taken = o.if_contains("takenAtUs");
    const json::value* xip = o.if_contains("xip");
    const auto xmin = unsigned_field(o, "xmin");
    const auto xmax = unsigned_field(o, "xmax");
    if (!id || !id->is_string() || !lsn || !lsn->is_string() || !taken || !taken->is_int64() || !xip ||
        !xip->is_array() || !xmin || !xmax)
        return std::nullopt;
    s.id = std::string(id->as_string());
    s.xmin = *xmin;
    s.xmax = *xmax;
    for (const json::value& x : xip->as_array()) {
        if (x.is_uint64())
            s.xip.push_back(x.as_uint64());
        else if (x.is_int64() && x.as_int64() >= 0)
            s.xip.push_back(static_cast<std::uint64_t>(x.as_int64()));
        else
            return std::nullopt;
    }
    s.taken_at_us = taken->as_int64();
    const auto position = parse_lsn(lsn->as_string());
    if (!position)
        return std::nullopt;
    s.lsn = *position;
    if (const json::value* sys = o.if_contains("systemId"); sys && sys->is_string())
        s.system_id = std::string(sys->as_string());
    if (const json::value* standby = o.if_contains("standby"); standby && standby->is_bool())
        s.standby = standby->as_bool();
    if (const json::value* end = o.if_contains("end"); end && end->is_int64())
        s.end = end->as_int64();
    if (const json::value* reason = o.if_contains("reason"); reason && reason->is_string())
        s.reason = std::string(reason->as_string());
    return s;
}

std::optional<pg_snapshot_text> parse_pg_snapshot(std::string_view text) {
    const auto first = text.find(':');
    if (first == std::string_view::npos)
        return std::nullopt;
    const auto second = text.find(':', first + 1);
    if (second == std::string_view::npos)
        return std::nullopt;
    pg_snapshot_text s;
    const auto xmin = parse_xid(text.substr(0, first));
    const auto xmax = parse_xid(text.substr(first + 1, second - first - 1));
    if (!xmin || !xmax || *xmin > *xmax)
        return std::nullopt;
    s.xmin = *xmin;
    s.xmax = *xmax;
    std::string_view rest = text.substr(second + 1);
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        const auto x = parse_xid(rest.substr(0, comma));
        if (!x || *x < s.xmin || *x >= s.xmax)
            return std::nullopt;
        s.xip.push_back(*x);
        if (comma == std::string_view::npos)
            break;
        rest = rest.substr(comma + 1);
        if (rest.empty())
            return std::nullopt; // a trailing comma
    }
    return s;
}

snapshot_resume_decision decide_snapshot_resume(const std::optional<recorded_snapshot>& recorded,
                                                const snapshot_check& check) {
    using enum snapshot_resume_action;
    // A range with no row written still vouches for something when it is there: a done slice whose range
    // held no row under the recorded snapshot is never read again.
    if (check.prefixes.empty())
        return {go_on, "no row was written yet"};
    if (!recorded)
        return {restart, "rows were written under no recorded snapshot"};
    if (recorded->system_id && check.system_id && *recorded->system_id != *check.system_id)
        return {restart, "the new snapshot was taken on another database cluster (system identifier " +
                             *check.system_id + ", the recorded snapshot's " + *recorded->system_id + ")"};
    if (check.lsn_before < recorded->lsn)
        return {restart, "the new snapshot may be older than the recorded one (WAL position " +
                             format_lsn(check.lsn_before) + " before it, " + format_lsn(recorded->lsn) +
                             " after the recorded one): a standby behind or rebuilt"};
    if (check.xmax < recorded->xmin || check.xmax - recorded->xmin >= max_xid_distance)
        return {restart, "the new snapshot's transaction ids (xmax " + std::to_string(check.xmax) +
                             ") are not within 2^31 above the recorded snapshot's xmin (" +
                             std::to_string(recorded->xmin) + "): a tuple's xmin could not be compared"};
    if (!check.has_xmin)
        return {restart, "the exported relation is not a table: its rows have no xmin to compare"};
    std::int64_t rows = 0;
    for (const prefix_count& p : check.prefixes) {
        if (p.changed > 0)
            return {restart, p.range + ": " + plural(p.changed, "row", "rows") +
                                 " inserted or updated since the recorded snapshot (or in a transaction it saw"
                                 " in progress)"};
        if (p.visible < p.written)
            return {restart, p.range + ": " + plural(p.written - p.visible, "row", "rows") +
                                 " fewer than written (deleted, or updated out of the filters)"};
        if (p.visible > p.written)
            return {restart, p.range + ": " + plural(p.visible - p.written, "row", "rows") +
                                 " more than written"};
        rows += p.written;
    }
    return {go_on, "the " + plural(rows, "row", "rows") + " written are unchanged under the new snapshot"};
}

std::chrono::milliseconds snapshot_keepalive_interval(std::chrono::milliseconds idle_in_transaction_timeout) {
    using std::chrono::milliseconds;
    if (idle_in_transaction_timeout <= milliseconds::zero())
        return milliseconds(10'000);
    return std::clamp(idle_in_transaction_timeout / 3, milliseconds(100), milliseconds(10'000));
}

bool snapshot_too_old(std::chrono::steady_clock::duration held, std::chrono::milliseconds max) {
    return max > std::chrono::milliseconds::zero() && held > max;
}

} // namespace pgexport::engine::detail
