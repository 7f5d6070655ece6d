#include "link_signing.hpp"

#include "util/hmac.hpp"
#include "query.hpp"

#include <boost/uuid/name_generator_sha1.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <charconv>

namespace pgexport::http {

using engine::detail::digest_from_hex;
using engine::detail::digests_equal;
using engine::detail::hmac_sha256;
using engine::detail::sha256_digest;
using engine::detail::to_hex;

namespace {

// The message of a link. The prefix keeps it apart from an owner's ("owner\n…"), and the newlines keep
// the id and the expiry apart ("a1" + "23" never signs like "a" + "123").
std::string link_message(std::string_view job_id, std::string_view expires) {
    std::string m = "download\n";
    m += job_id;
    m += '\n';
    m += expires;
    return m;
}

// Plain decimal as the server writes it: digits only, no sign, no leading zero, within int64.
std::optional<std::int64_t> parse_expires(std::string_view text) {
    if (text.empty() || (text.size() > 1 && text.front() == '0'))
        return std::nullopt;
    std::int64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || n < 0)
        return std::nullopt;
    return n;
}

} // namespace

std::string sign_download(std::string_view secret, std::string_view job_id, std::int64_t expires_unix) {
    return to_hex(hmac_sha256(secret, link_message(job_id, std::to_string(expires_unix))));
}

link_check verify_download(std::string_view secret, std::string_view job_id, std::string_view expires,
                           std::string_view signature_hex, std::int64_t now_unix) {
    const auto expiry = parse_expires(expires);
    const auto given = digest_from_hex(signature_hex);
    if (!expiry || !given)
        return link_check::invalid;
    const sha256_digest expected = hmac_sha256(secret, link_message(job_id, expires));
    if (!digests_equal(expected, *given))
        return link_check::invalid;
    return now_unix < *expiry ? link_check::ok : link_check::expired;
}

std::string signed_download_url(std::string_view secret, std::string_view job_id, std::int64_t expires_unix) {
    std::string url = "/api/export/";
    url += job_id;
    url += "/download?expires=" + std::to_string(expires_unix);
    url += "&signature=" + sign_download(secret, job_id, expires_unix);
    return url;
}

std::string owner_for_key(std::string_view secret, std::string_view api_key) {
    std::string message = "owner\n";
    message += api_key;
    return "key:" + to_hex(hmac_sha256(secret, message));
}

std::string legacy_owner_for_key(std::string_view api_key) {
    const boost::uuids::name_generator_sha1 names(boost::uuids::uuid{
        {0x6b, 0x1e, 0x5a, 0x42, 0x8c, 0x3d, 0x4f, 0x10, 0x9a, 0x77, 0x21, 0x0e, 0x5c, 0x63, 0x88, 0x01}});
    std::string owner = "key:";
    owner += boost::uuids::to_string(names(api_key.data(), api_key.size()));
    return owner;
}

std::optional<download_link> find_download_link(std::string_view query) {
    download_link link;
    int expires_seen = 0;
    int signature_seen = 0;
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = pair.find('=');
        const std::string_view name = pair.substr(0, eq);
        const std::string_view value =
            eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
        // A malformed escape leaves the value empty: invalid, like any other broken link.
        if (name == "expires") {
            ++expires_seen;
            link.expires = percent_decode(value, true).value_or("");
        } else if (name == "signature") {
            ++signature_seen;
            link.signature = percent_decode(value, true).value_or("");
        }
    }
    if (expires_seen == 0 && signature_seen == 0)
        return std::nullopt;
    if (expires_seen > 1 || signature_seen > 1)
        return download_link{}; // which of two signatures is meant? Neither.
    return link;
}

std::optional<std::string_view> download_path_id(std::string_view path) {
    constexpr std::string_view prefix = "/api/export/";
    constexpr std::string_view suffix = "/download";
    if (!path.starts_with(prefix) || !path.ends_with(suffix) || path.size() <= prefix.size() + suffix.size())
        return std::nullopt;
    const std::string_view id = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
    if (id.find('/') != std::string_view::npos)
        return std::nullopt;
    return id;
}

} // namespace pgexport::http
