#include "policy/slice_plan.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace json = boost::json;

namespace pgexport::engine::detail {

namespace {

__extension__ typedef __int128 wide_int; // a key range may span the whole of bigint

// Cut points (each the upper bound of a slice but the last) into slices over (first .. fixed_end]:
// contiguous, in key order; cuts outside the range are dropped.
std::vector<slice_bounds> from_cuts(const std::vector<std::int64_t>& cuts, std::optional<std::int64_t> first,
                                    std::int64_t fixed_end) {
    std::vector<slice_bounds> slices;
    std::optional<std::int64_t> after = first;
    for (const std::int64_t cut : cuts) {
        if (cut >= fixed_end || (after && cut <= *after))
            continue;
        slices.push_back({after, cut});
        after = cut;
    }
    slices.push_back({after, fixed_end});
    return slices;
}

std::optional<std::int64_t> int_field(const json::object& o, std::string_view name) {
    const json::value* v = o.if_contains(name);
    if (!v || v->is_null())
        return std::nullopt;
    if (v->is_int64())
        return v->as_int64();
    if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
        return static_cast<std::int64_t>(v->as_uint64());
    throw std::invalid_argument("not an integer");
}

json::value optional_int(const std::optional<std::int64_t>& v) {
    return v ? json::value(*v) : json::value(nullptr);
}

} // namespace

int slice_count(int requested, std::optional<std::int64_t> estimated_rows, std::int64_t min_rows_per_slice) {
    const int asked = std::max(requested, 1);
    if (min_rows_per_slice <= 1 || !estimated_rows)
        return asked;
    const std::int64_t fit = std::max<std::int64_t>(*estimated_rows, 0) / min_rows_per_slice;
    return static_cast<int>(std::clamp<std::int64_t>(fit, 1, asked));
}

std::vector<slice_bounds> slices_from_sample(std::span<const std::int64_t> sample,
                                             std::optional<std::int64_t> after, std::int64_t fixed_end,
                                             int n) {
    const auto end = std::upper_bound(sample.begin(), sample.end(), fixed_end);
    const std::size_t m = static_cast<std::size_t>(end - sample.begin());
    std::vector<std::int64_t> cuts;
    if (n > 1 && m > 0) {
        const auto slices = static_cast<std::size_t>(n);
        // The i-th cut closes the i-th group of m/n sampled keys (rounded up, so that no group is empty).
        // A cut at the last sampled key would leave the last slice only the keys the sample missed.
        for (std::size_t i = 1; i < slices; ++i)
            if (const std::size_t at = (i * m + slices - 1) / slices - 1; at + 1 < m)
                cuts.push_back(sample[at]);
    }
    return from_cuts(cuts, after, fixed_end);
}

std::vector<slice_bounds> even_slices(std::optional<std::int64_t> after, std::int64_t lowest,
                                      std::int64_t fixed_end, int n) {
    std::vector<std::int64_t> cuts;
    if (n > 1 && lowest <= fixed_end) {
        const wide_int first = static_cast<wide_int>(lowest) - 1;
        const wide_int width = static_cast<wide_int>(fixed_end) - first;
        for (int i = 1; i < n; ++i)
            if (const wide_int cut = first + width * i / n; cut > first)
                cuts.push_back(static_cast<std::int64_t>(cut));
    }
    return from_cuts(cuts, after, fixed_end);
}

std::vector<slice_state> initial_states(const std::vector<slice_bounds>& bounds) {
    std::vector<slice_state> states;
    for (const auto& b : bounds) {
        slice_state s;
        s.bounds = b;
        states.push_back(s);
    }
    return states;
}

slice_totals totals_of(std::span<const slice_state> slices) {
    slice_totals t;
    for (const auto& s : slices) {
        t.rows += s.rows;
        t.bytes += s.bytes;
    }
    return t;
}

std::optional<std::int64_t> watermark(std::span<const slice_state> slices) {
    for (const auto& s : slices)
        if (!s.done)
            return s.cursor();
    if (slices.empty())
        return std::nullopt;
    return slices.back().bounds.upper;
}

bool all_done(std::span<const slice_state> slices) {
    return std::all_of(slices.begin(), slices.end(), [](const slice_state& s) { return s.done; });
}

std::string slices_to_json(std::span<const slice_state> slices) {
    json::array out;
    for (const auto& s : slices)
        out.push_back(json::object{{"after", optional_int(s.bounds.after)},
                                   {"upper", s.bounds.upper},
                                   {"last", optional_int(s.last)},
                                   {"rows", s.rows},
                                   {"bytes", s.bytes},
                                   {"done", s.done}});
    return json::serialize(out);
}

std::optional<std::vector<slice_state>> slices_from_json(std::string_view text) {
    boost::system::error_code ec;
    const json::value v = json::parse(text, ec);
    if (ec || !v.is_array())
        return std::nullopt;
    std::vector<slice_state> slices;
    try {
        for (const json::value& e : v.as_array()) {
            if (!e.is_object())
                return std::nullopt;
            const json::object& o = e.as_object();
            slice_state s;
            s.bounds.after = int_field(o, "after");
            const auto upper = int_field(o, "upper");
            if (!upper)
                return std::nullopt;
            s.bounds.upper = *upper;
            s.last = int_field(o, "last");
            s.rows = int_field(o, "rows").value_or(0);
            s.bytes = int_field(o, "bytes").value_or(0);
            const json::value* done = o.if_contains("done");
            s.done = done && done->is_bool() && done->as_bool();
            slices.push_back(s);
        }
    } catch (const std::invalid_argument&) {
        return std::nullopt;
    }
    return slices;
}

} // namespace pgexport::engine::detail
