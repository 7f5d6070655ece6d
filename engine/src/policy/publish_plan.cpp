#include "policy/publish_plan.hpp"

#include <boost/json.hpp>

namespace json = boost::json;

namespace pgexport::engine::detail {

std::string to_json(const publish_record& r) {
    return json::serialize(json::object{{"token", r.token}, {"bytes", r.bytes}});
}

std::optional<publish_record> publish_record_from_json(const std::string& text) {
    boost::system::error_code ec;
    const json::value v = json::parse(text, ec);
    if (ec || !v.is_object())
        return std::nullopt;
    const auto& o = v.get_object();
    const auto* token = o.if_contains("token");
    const auto* bytes = o.if_contains("bytes");
    if (!token || !bytes || !token->is_int64() || !bytes->is_int64() || bytes->get_int64() < 0)
        return std::nullopt;
    return publish_record{token->get_int64(), bytes->get_int64()};
}

publish_decision plan_publish(const publish_facts& f) {
    const std::int64_t want = f.recorded.bytes;
    if (f.published_bytes == want)
        return {publish_action::complete, ""};
    if (f.published_bytes >= 0)
        return {publish_action::refuse, "the finished export has " + std::to_string(f.published_bytes) +
                                            " bytes where the record says " + std::to_string(want) +
                                            "; it was changed behind pgexport's back and is left alone"};
    // Not published yet: the recorded bytes are in the recorded lease's partial file (or, in object
    // storage, in the recorded upload, whose parts the store holds).
    if (f.upload_recorded || f.recorded_part_bytes >= want)
        return {publish_action::publish, ""};
    return {publish_action::start_over, f.recorded_part_bytes < 0
                                            ? "the partial file being published is missing"
                                            : "the partial file being published is shorter than recorded"};
}

bool published_file_matches(std::int64_t existing_bytes, std::int64_t our_bytes) {
    return existing_bytes == our_bytes;
}

} // namespace pgexport::engine::detail
