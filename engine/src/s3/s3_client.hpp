#pragma once
// A blocking S3 client on libcurl: the multipart upload's requests, deleting an object, checking the
// bucket, and presigned GET URLs. Path-style addressing (ENDPOINT/BUCKET/KEY) with a custom endpoint,
// virtual-hosted (BUCKET.s3.REGION.amazonaws.com/KEY) without. Every request is bounded (connect 10 s,
// a stall of 30 s, 10 minutes in all). Blocking: called only on the engine's storage threads.

#include "policy/multipart_plan.hpp"
#include "s3/sigv4.hpp"

#include <pgexport/engine.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::engine::detail {

// A request that failed. transient(): the store could not be reached or answered 5xx/429 (try again
// later, as long as it takes); otherwise it refused the request (a wrong bucket, credentials...).
class s3_error : public std::runtime_error {
public:
    s3_error(const std::string& what, long status, std::string code, bool transient)
        : std::runtime_error(what), status_(status), code_(std::move(code)), transient_(transient) {}
    long status() const noexcept { return status_; } // 0: no answer
    const std::string& code() const noexcept { return code_; } // S3's error code ("NoSuchUpload"), or ""
    bool transient() const noexcept { return transient_; }

private:
    long status_;
    std::string code_;
    bool transient_;
};

class s3_client {
public:
    explicit s3_client(s3_storage_config config);

    const s3_storage_config& config() const noexcept { return config_; }
    // PREFIX/name: the key an export's object has.
    std::string object_key(std::string_view name) const;
    // s3://BUCKET/KEY: how a job's filePath names its object.
    std::string object_url(std::string_view key) const;

    // The multipart upload's steps. Throw s3_error.
    std::string create_upload(const std::string& key);
    std::string upload_part(const std::string& key, const std::string& upload_id, int number, std::string_view data);
    // The parts S3 lists for the upload; nullopt when the store does not implement ListParts.
    std::optional<std::vector<uploaded_part>> list_parts(const std::string& key, const std::string& upload_id);
    void complete_upload(const std::string& key, const std::string& upload_id, const std::vector<uploaded_part>& parts);
    // Aborts the upload; an upload already gone (or a store without AbortMultipartUpload) is no error.
    void abort_upload(const std::string& key, const std::string& upload_id);
    // Deletes the object; a missing one is no error.
    void delete_object(const std::string& key);
    // The object's length, or nullopt when there is no such object (HEAD).
    std::optional<std::int64_t> object_size(const std::string& key);
    // HEAD on the bucket: throws s3_error unless it answers 200.
    void check_bucket();

    // A GET of the object, valid for `ttl` from now (at most 7 days), with `query` signed in too.
    std::string presign_get(const std::string& key, std::chrono::seconds ttl,
                            std::vector<std::pair<std::string, std::string>> query = {}) const;

private:
    struct answer {
        long status = 0;
        std::string body{};
        std::string etag{};
        std::int64_t length = -1; // Content-Length, when the answer had one
    };
    // One signed request; `query` canonical already. Throws s3_error when there is no answer; returns
    // any HTTP answer (the caller judges the status).
    answer perform(const std::string& method, const std::string& key, const std::string& query,
                   std::string_view body, bool head = false);
    [[noreturn]] void fail(const std::string& what, const answer& a);
    std::string origin() const;
    std::string path_of(const std::string& key) const;

    s3_storage_config config_;
    sigv4_credentials credentials_;
};

} // namespace pgexport::engine::detail
