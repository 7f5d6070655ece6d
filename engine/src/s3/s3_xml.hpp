#pragma once
// S3's XML answers and the one XML body we send, through tinyxml2 (Debian's libtinyxml2): pure.

#include "policy/multipart_plan.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgexport::engine::detail {

// <Error><Code>…</Code><Message>…</Message></Error>: nullopt when `body` is no such document.
struct s3_error_body {
    std::string code{};
    std::string message{};
};
std::optional<s3_error_body> parse_s3_error(std::string_view body);

// InitiateMultipartUploadResult's UploadId; nullopt when absent.
std::optional<std::string> parse_upload_id(std::string_view body);

// ListPartsResult's parts (PartNumber, ETag, Size) and whether the list is truncated (more pages after
// the last number); nullopt when `body` is no such document.
struct listed_parts {
    std::vector<uploaded_part> parts{};
    bool truncated = false;
};
std::optional<listed_parts> parse_list_parts(std::string_view body);

// CompleteMultipartUpload's body: each part's number and ETag, in order.
std::string complete_upload_body(const std::vector<uploaded_part>& parts);

} // namespace pgexport::engine::detail
