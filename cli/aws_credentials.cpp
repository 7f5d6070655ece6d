#include "aws_credentials.hpp"

#include "options.hpp"

#include <fstream>
#include <sstream>

namespace pgexport::cli {

std::optional<aws_credentials> parse_aws_credentials(std::string_view text, std::string_view profile) {
    aws_credentials found;
    bool in_profile = false;
    bool seen = false;
    for (const std::string_view line : setting_lines(text, "#;")) {
        if (line.front() == '[' && line.back() == ']') {
            in_profile = trim_blanks(line.substr(1, line.size() - 2)) == profile;
            seen = seen || in_profile;
            continue;
        }
        const auto eq = line.find('=');
        if (!in_profile || eq == std::string_view::npos)
            continue;
        const std::string_view name = trim_blanks(line.substr(0, eq));
        const std::string value(trim_blanks(line.substr(eq + 1)));
        if (name == "aws_access_key_id")
            found.access_key = value;
        else if (name == "aws_secret_access_key")
            found.secret_key = value;
        else if (name == "aws_session_token")
            found.session_token = value;
    }
    if (!seen || found.access_key.empty() || found.secret_key.empty())
        return std::nullopt;
    return found;
}

std::optional<aws_credentials>
find_aws_credentials(const std::function<std::optional<std::string>(const std::string&)>& getenv) {
    const auto key = getenv("AWS_ACCESS_KEY_ID");
    const auto secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (key && !key->empty() && secret && !secret->empty())
        return aws_credentials{*key, *secret, getenv("AWS_SESSION_TOKEN").value_or("")};
    std::string path = getenv("AWS_SHARED_CREDENTIALS_FILE").value_or("");
    if (path.empty()) {
        const auto home = getenv("HOME");
        if (!home || home->empty())
            return std::nullopt;
        path = *home + "/.aws/credentials";
    }
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    const auto profile = getenv("AWS_PROFILE");
    return parse_aws_credentials(text.str(), profile && !profile->empty() ? *profile : "default");
}

} // namespace pgexport::cli
