#pragma once
// Signed download links and owner names, both HMAC-SHA256 under the server's secret (--secret-file).
// Pure: no I/O; the secret and the clock are passed in.
//
// A link is /api/export/<id>/download?expires=<unix seconds>&signature=<hex>, where the signature is
// HMAC(secret, "download\n<id>\n<expires>") in 64 lower-case hex digits. It works until `expires`
// (exclusive) without Authorization; any change to the id, the expiry or the signature breaks it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgexport::http {

enum class link_check {
    ok,      // the signature is the server's for this job and expiry, and the expiry is in the future
    invalid, // malformed, altered, or signed for another job or expiry (or with another secret)
    expired, // the server's signature, but `now` is at or past the expiry
};

// The hex HMAC-SHA256 of the link for `job_id` expiring at `expires_unix`.
std::string sign_download(std::string_view secret, std::string_view job_id, std::int64_t expires_unix);

// Checks a link's query values as they came (`expires` as decimal text). Compares in constant time.
// The signature is checked before the expiry, so `expired` is only ever said of the server's own links.
link_check verify_download(std::string_view secret, std::string_view job_id, std::string_view expires,
                           std::string_view signature_hex, std::int64_t now_unix);

// "/api/export/<id>/download?expires=<expires>&signature=<hex>".
std::string signed_download_url(std::string_view secret, std::string_view job_id, std::int64_t expires_unix);

// The owner recorded on the jobs of an API key: "key:" and the hex HMAC of the key, so the key itself is
// never stored and its owner name cannot be computed without the secret.
std::string owner_for_key(std::string_view secret, std::string_view api_key);

// The owner that versions before the HMAC owners recorded for `api_key`: "key:" and a SHA-1 name UUID of
// the key, which anyone holding the key (or guessing it) can compute. Used only to rename those jobs.
std::string legacy_owner_for_key(std::string_view api_key);

// The link parameters of a query string (already split off the path, without '?'), as sent.
struct download_link {
    std::string expires;
    std::string signature;
};

// nullopt when the query names neither `expires` nor `signature` (an ordinary download). When it names
// either, a link whose missing or repeated parts are left empty, which verify_download calls invalid.
std::optional<download_link> find_download_link(std::string_view query);

// The id in a path of the form /api/export/<id>/download, else nullopt (no other route takes links).
std::optional<std::string_view> download_path_id(std::string_view path);

} // namespace pgexport::http
