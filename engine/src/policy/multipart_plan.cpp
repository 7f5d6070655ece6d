#include "policy/multipart_plan.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <stdexcept>

namespace json = boost::json;

namespace pgexport::engine::detail {

namespace {

// S3 compares ETags without their quotes.
std::string_view unquoted(std::string_view etag) {
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
        return etag.substr(1, etag.size() - 2);
    return etag;
}

} // namespace

std::string to_json(const multipart_state& state) {
    json::array parts;
    for (const auto& p : state.parts)
        parts.push_back(json::object{{"number", p.number}, {"etag", p.etag}, {"bytes", p.bytes}});
    return json::serialize(json::object{{"key", state.key}, {"uploadId", state.upload_id}, {"parts", parts}});
}

std::optional<multipart_state> multipart_state_from_json(std::string_view text) {
    boost::system::error_code ec;
    const json::value v = json::parse(text, ec);
    if (ec || !v.is_object())
        return std::nullopt;
    const auto& o = v.get_object();
    const auto* key = o.if_contains("key");
    const auto* id = o.if_contains("uploadId");
    const auto* parts = o.if_contains("parts");
    if (!key || !key->is_string() || !id || !id->is_string() || !parts || !parts->is_array())
        return std::nullopt;
    multipart_state state{std::string(key->get_string()), std::string(id->get_string()), {}};
    for (const auto& p : parts->get_array()) {
        const auto* po = p.if_object();
        if (!po)
            return std::nullopt;
        const auto* number = po->if_contains("number");
        const auto* etag = po->if_contains("etag");
        const auto* bytes = po->if_contains("bytes");
        if (!number || !number->is_int64() || !etag || !etag->is_string() || !bytes || !bytes->is_int64())
            return std::nullopt;
        state.parts.push_back({static_cast<int>(number->get_int64()), std::string(etag->get_string()),
                               bytes->get_int64()});
    }
    return state;
}

multipart_plan::multipart_plan(std::int64_t part_size, std::vector<uploaded_part> done)
    : part_size_(std::max(part_size, std::int64_t{1})) {
    for (auto& p : done) {
        if (p.number != static_cast<int>(parts_.size()) + 1 || p.bytes < 0)
            break;
        uploaded_ += p.bytes;
        parts_.push_back(std::move(p));
    }
}

std::optional<part_range> multipart_plan::next(std::int64_t available, bool final) const {
    const int number = static_cast<int>(parts_.size()) + 1;
    const std::int64_t left = available - uploaded_;
    std::optional<part_range> part;
    if (left >= part_size_)
        part = part_range{number, uploaded_, part_size_};
    else if (final && (left > 0 || parts_.empty()))
        part = part_range{number, uploaded_, std::max(left, std::int64_t{0})};
    if (part && number > max_parts) {
        const std::int64_t mib = std::int64_t{1} << 20;
        std::string message = "the export is larger than S3's 10,000 parts of --s3-part-size (";
        message.append(std::to_string(part_size_ / mib)).append(" MiB): ").append(std::to_string(available));
        message.append(" bytes so far; give --s3-part-size more than ");
        // The smallest whole MiB that holds what is written so far in 10,000 parts; the file grows on.
        message.append(std::to_string((available + max_parts * mib - 1) / (max_parts * mib))).append("MiB");
        throw std::length_error(message);
    }
    return part;
}

void multipart_plan::record(uploaded_part part) {
    if (part.number != static_cast<int>(parts_.size()) + 1 || part.bytes < 0)
        throw std::logic_error("multipart_plan: part " + std::to_string(part.number) + " recorded out of order");
    uploaded_ += part.bytes;
    parts_.push_back(std::move(part));
}

std::vector<uploaded_part> multipart_plan::reconcile(const std::vector<uploaded_part>& recorded,
                                                     const std::vector<uploaded_part>& listed) {
    std::vector<uploaded_part> kept;
    for (const auto& r : recorded) {
        const auto found = std::find_if(listed.begin(), listed.end(), [&](const uploaded_part& l) {
            return l.number == r.number && l.bytes == r.bytes && unquoted(l.etag) == unquoted(r.etag);
        });
        if (found == listed.end())
            break;
        kept.push_back(r);
    }
    return kept;
}

upload_decision decide_upload(std::int64_t recorded, std::int64_t kept, bool gone, std::optional<std::int64_t> object,
                              std::int64_t checkpoint, bool streaming) {
    // The upload is completed only once every byte is in a part: an object of the recorded parts' length
    // under the job's key is this export (it is deterministic), as durable_publish judges a finished file.
    if (recorded > 0 && object == recorded)
        return {upload_action::completed};
    // The parts go on from the checkpoint's bytes only: past them a resumed export may write other bytes
    // (rows changed meanwhile), and a part must end where the file really had those bytes. A single stream
    // whose recorded parts are not all kept may have freed their bytes locally: it cannot fill them in.
    const bool fits = checkpoint < 0 || kept <= checkpoint;
    if (!gone && fits && !(streaming && kept < recorded))
        return {upload_action::resume};
    return {upload_action::start_new, !gone, streaming && recorded > 0 && checkpoint > 0};
}

} // namespace pgexport::engine::detail
