#pragma once
// Object storage credentials: the AWS_* environment, else the AWS CLI's credentials file.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace pgexport::cli {

struct aws_credentials {
    std::string access_key;
    std::string secret_key;
    std::string session_token; // temporary credentials' token; empty: none
};

// The profile `profile` of an AWS CLI credentials file's text: "[name]" sections of "key = value" lines
// (aws_access_key_id, aws_secret_access_key, aws_session_token; '#' and ';' start comments); nullopt when
// the profile is missing or lacks a key. Pure.
std::optional<aws_credentials> parse_aws_credentials(std::string_view text, std::string_view profile);

// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN when the first two are set; else the
// profile AWS_PROFILE [default] of the file AWS_SHARED_CREDENTIALS_FILE [~/.aws/credentials]; nullopt
// when neither has them. `getenv` is the environment (for tests).
std::optional<aws_credentials>
find_aws_credentials(const std::function<std::optional<std::string>(const std::string&)>& getenv);

} // namespace pgexport::cli
