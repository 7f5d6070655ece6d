#include "s3/s3_client.hpp"
#include "s3/s3_xml.hpp"
#include "util/curl.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>

namespace pgexport::engine::detail {

namespace {

struct upload_source {
    std::string_view data;
    std::size_t offset = 0;
};

std::size_t read_body(char* out, std::size_t size, std::size_t count, void* user) {
    auto* src = static_cast<upload_source*>(user);
    const std::size_t n = std::min(size * count, src->data.size() - src->offset);
    std::copy_n(src->data.data() + src->offset, n, out);
    src->offset += n;
    return n;
}

std::size_t write_body(char* in, std::size_t size, std::size_t count, void* user) {
    static_cast<std::string*>(user)->append(in, size * count);
    return size * count;
}

std::size_t read_header(char* in, std::size_t size, std::size_t count, void* user) {
    std::string_view line(in, size * count);
    constexpr std::string_view name = "etag:";
    if (line.size() > name.size()) {
        std::string lower(line.substr(0, name.size()));
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
        if (lower == name) {
            std::string_view value = line.substr(name.size());
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
                value.remove_prefix(1);
            while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
                value.remove_suffix(1);
            *static_cast<std::string*>(user) = std::string(value);
        }
    }
    return size * count;
}

} // namespace

s3_client::s3_client(s3_storage_config config) : config_(std::move(config)) {
    curl_global_once();
    credentials_ = {config_.access_key, config_.secret_key, config_.region, config_.session_token};
}

std::string s3_client::object_key(std::string_view name) const {
    std::string key = config_.prefix;
    if (!key.empty())
        key.append("/");
    key.append(name);
    return key;
}

std::string s3_client::object_url(std::string_view key) const {
    std::string url = "s3://";
    url.append(config_.bucket).append("/").append(key);
    return url;
}

std::string s3_client::origin() const {
    if (!config_.endpoint.empty())
        return config_.endpoint;
    std::string o = "https://";
    o.append(config_.bucket).append(".s3.").append(config_.region).append(".amazonaws.com");
    return o;
}

std::string s3_client::path_of(const std::string& key) const {
    std::string path = "/";
    if (!config_.endpoint.empty()) {
        path.append(config_.bucket);
        if (!key.empty())
            path.append("/");
    }
    path.append(key);
    return path;
}

s3_client::answer s3_client::perform(const std::string& method, const std::string& key, const std::string& query,
                                     std::string_view body, bool head) {
    curl_easy_ptr curl(curl_easy_init());
    if (!curl)
        throw s3_error("object storage: cannot create a curl handle", 0, "", true);
    const std::string path = path_of(key);
    std::string url = origin();
    url.append(sigv4_encode(path, true));
    if (!query.empty())
        url.append("?").append(query);
    const signed_headers signature =
        sign_request(credentials_, {method, origin(), path, query, sha256_hex(body), std::chrono::system_clock::now()});

    curl_slist_ptr headers;
    auto add = [&headers](const std::string& line) {
        curl_slist* next = curl_slist_append(headers.get(), line.c_str());
        if (!next)
            throw std::bad_alloc();
        static_cast<void>(headers.release());
        headers.reset(next);
    };
    add("Authorization: " + signature.authorization);
    add("x-amz-date: " + signature.amz_date);
    add("x-amz-content-sha256: " + signature.content_sha256);
    if (!signature.security_token.empty())
        add("x-amz-security-token: " + signature.security_token);
    add("Expect:"); // no 100-continue round trip
    add("Content-Type:");

    answer a;
    upload_source source{body};
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 600000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, read_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &a.etag);
    if (head) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (method == "PUT" || method == "POST") {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(c, CURLOPT_READDATA, &source);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
        if (method == "POST")
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "POST");
    } else if (method != "GET") {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    const CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        std::string what = "object storage unreachable (";
        what.append(origin()).append("): ").append(curl_easy_strerror(rc));
        throw s3_error(what, 0, "", true);
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
    curl_off_t length = -1;
    if (curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK)
        a.length = static_cast<std::int64_t>(length);
    return a;
}

void s3_client::fail(const std::string& what, const answer& a) {
    const auto error = parse_s3_error(a.body);
    std::string message = "object storage: ";
    message.append(what).append(" answered HTTP ").append(std::to_string(a.status));
    if (error)
        message.append(" ").append(error->code).append(": ").append(error->message);
    const bool transient = a.status >= 500 || a.status == 429 || a.status == 408 ||
                           (error && (error->code == "SlowDown" || error->code == "RequestTimeout"));
    throw s3_error(message, a.status, error ? error->code : "", transient);
}

std::string s3_client::create_upload(const std::string& key) {
    const answer a = perform("POST", key, "uploads=", "");
    if (a.status != 200)
        fail("CreateMultipartUpload", a);
    auto id = parse_upload_id(a.body);
    if (!id)
        throw s3_error("object storage: CreateMultipartUpload's answer has no UploadId", a.status, "", false);
    return *id;
}

std::string s3_client::upload_part(const std::string& key, const std::string& upload_id, int number,
                                   std::string_view data) {
    std::string query = "partNumber=";
    query.append(std::to_string(number)).append("&uploadId=").append(sigv4_encode(upload_id, false));
    const answer a = perform("PUT", key, query, data);
    if (a.status != 200)
        fail("UploadPart", a);
    if (a.etag.empty())
        throw s3_error("object storage: UploadPart's answer has no ETag", a.status, "", false);
    return a.etag;
}

std::optional<std::vector<uploaded_part>> s3_client::list_parts(const std::string& key, const std::string& upload_id) {
    std::vector<uploaded_part> all;
    int after = 0;
    for (;;) {
        std::string query = "part-number-marker=";
        query.append(std::to_string(after)).append("&uploadId=").append(sigv4_encode(upload_id, false));
        const answer a = perform("GET", key, query, "");
        if (a.status == 501 || a.status == 405)
            return std::nullopt;
        if (a.status != 200)
            fail("ListParts", a);
        auto page = parse_list_parts(a.body);
        if (!page) // a store that answers ListParts with something else (an object's bytes) lacks it
            return std::nullopt;
        all.insert(all.end(), page->parts.begin(), page->parts.end());
        if (!page->truncated || page->parts.empty())
            return all;
        after = page->parts.back().number;
    }
}

void s3_client::complete_upload(const std::string& key, const std::string& upload_id,
                                const std::vector<uploaded_part>& parts) {
    std::string query = "uploadId=";
    query.append(sigv4_encode(upload_id, false));
    const answer a = perform("POST", key, query, complete_upload_body(parts));
    // S3 may answer 200 and an <Error> body when it fails after having started its answer.
    if (a.status != 200 || parse_s3_error(a.body))
        fail("CompleteMultipartUpload", a.status == 200 ? answer{500, a.body, a.etag} : a);
}

void s3_client::abort_upload(const std::string& key, const std::string& upload_id) {
    std::string query = "uploadId=";
    query.append(sigv4_encode(upload_id, false));
    const answer a = perform("DELETE", key, query, "");
    if (a.status == 204 || a.status == 200 || a.status == 404 || a.status == 405 || a.status == 501)
        return;
    fail("AbortMultipartUpload", a);
}

void s3_client::delete_object(const std::string& key) {
    const answer a = perform("DELETE", key, "", "");
    if (a.status == 204 || a.status == 200 || a.status == 404)
        return;
    fail("DeleteObject", a);
}

std::optional<std::int64_t> s3_client::object_size(const std::string& key) {
    const answer a = perform("HEAD", key, "", "", true);
    if (a.status == 404)
        return std::nullopt;
    if (a.status != 200 || a.length < 0)
        fail("HEAD of the object", a);
    return a.length;
}

void s3_client::check_bucket() {
    const answer a = perform("HEAD", "", "", "", true);
    if (a.status != 200)
        fail("HEAD of the bucket", a);
}

std::string s3_client::presign_get(const std::string& key, std::chrono::seconds ttl,
                                   std::vector<std::pair<std::string, std::string>> query) const {
    // S3 caps a presigned URL at 7 days.
    const auto capped = std::min(ttl, std::chrono::seconds(7 * 24 * 3600));
    return presign_url(credentials_,
                       {"GET", origin(), path_of(key), std::chrono::system_clock::now(), capped, std::move(query)});
}

} // namespace pgexport::engine::detail
